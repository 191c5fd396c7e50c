import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.leases import LeaseTimeout, hold, lease_path

HOLDER = """
import sys, time
from pathlib import Path
from lakehouse.leases import hold
with hold(Path(sys.argv[1]), "clean/b1", "test holder"):
    print("held", flush=True)
    time.sleep(60)
"""


def _start_holder(folder: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_holder_waits_saying_on_what_and_by_whom(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path)
    try:
        said: list[str] = []
        with (
            pytest.raises(LeaseTimeout, match=f"clean/b1 held by pid {holder.pid}"),
            hold(tmp_path, "clean/b1", "second", on_wait=said.append, timeout=1.2),
        ):
            pass
        assert said and f"held by pid {holder.pid} (test holder) since" in said[0]
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_frees_the_lease_at_once(tmp_path: Path) -> None:
    holder = _start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with hold(tmp_path, "clean/b1", "after the kill", timeout=5):
        assert "after the kill" in lease_path(tmp_path, "clean/b1").read_text()
    assert time.monotonic() - started < 2


def test_leases_of_different_work_do_not_wait_for_each_other(tmp_path: Path) -> None:
    with (
        hold(tmp_path, "clean/b1", "one", timeout=1),
        hold(tmp_path, "clean/b2", "two", timeout=1),
    ):
        assert lease_path(tmp_path, "clean/b1") != lease_path(tmp_path, "clean/b2")
