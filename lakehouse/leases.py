"""Leases: one holder at a time of a named piece of work (a stage of a batch, the registration of
landing files), across processes on one machine.

A lease is an exclusive `flock` on a file under `<DAGSTER_HOME>/leases/`. The kernel releases it
when the holder exits however it exits — `kill -9` included — so a dead run never holds a lease
and nothing needs to expire. A process that has to wait says on what, held by whom and since
when, then waits without burning CPU and stops cleanly on SIGTERM/SIGINT like any process.

Several machines sharing one lake need a lock service instead (Dagster's run queue and pools on
PostgreSQL, see docs/reliability.md); flock only reaches the processes of one machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# How often a waiting process looks again (seconds), and how often it says it is still waiting.
POLL_SECONDS = 0.5
REPORT_SECONDS = 30.0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class LeaseTimeout(TimeoutError):
    """A lease was not free within the time the caller was willing to wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lease."""

    pid: int
    what: str
    since: str

    def describe(self) -> str:
        """`pid 123 (funnel run, run 9f…) since 2026-12-01T05:00:00+00:00`."""
        return f"pid {self.pid} ({self.what}) since {self.since}"


def lease_path(folder: Path, name: str) -> Path:
    """The lock file of lease `name` (e.g. `clean/b2026…`) under `folder`."""
    return folder / f"{_UNSAFE.sub('_', name)}.lock"


def _holder(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text() or "{}"))
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def hold(
    folder: Path,
    name: str,
    what: str,
    *,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold lease `name` for the duration of the block, waiting while another process holds it.

    `on_wait` is told once when the wait starts (naming the holder) and every REPORT_SECONDS
    after; `timeout` (seconds) bounds the wait (LeaseTimeout), None waits as long as it takes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = lease_path(folder, name)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(handle, path, name, on_wait, timeout)
        record = {"pid": os.getpid(), "what": what, "since": datetime.now(UTC).isoformat()}
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(record).encode(), 0)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _acquire(
    handle: int,
    path: Path,
    name: str,
    on_wait: Callable[[str], None] | None,
    timeout: float | None,
) -> None:
    started = time.monotonic()
    reported = None
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            holder = _holder(path)
            by = f" held by {holder.describe()}" if holder else ""
            raise LeaseTimeout(f"lease {name}{by} still taken after {waited:.0f} s")
        if on_wait is not None and (reported is None or waited - reported >= REPORT_SECONDS):
            holder = _holder(path)
            by = holder.describe() if holder else "another process"
            on_wait(f"waiting for {name}: held by {by}; waited {waited:.0f} s")
            reported = waited
        time.sleep(POLL_SECONDS)
