"""Which process executes a run: recorded on the run so that a later process can tell it died.

A run executed in process by the CLI carries these tags from the start. A run the daemon
launches gets them from its first step (`claim_run`): the funnel's jobs use the in-process
executor, so the step's process is the run worker for the whole run. Until then (and a retry
inherits its parent's tags, which name the parent's process) the worker Dagster recorded
starting for the run stands in; run monitoring's start timeout covers a worker that never
starts.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
import psutil

PID_TAG = "funnel/pid"
HOST_TAG = "funnel/host"
# When the process started (seconds since the epoch): a later process that reuses the pid
# started later, so a recycled pid never passes for the run's process.
PROCESS_STARTED_TAG = "funnel/process_started"
# The run the tags were written for: a retry inherits its parent's tags, which name the parent's
# (dead) process until the retry's first step claims the run.
CLAIMED_FOR_TAG = "funnel/claimed_for"


def _started(pid: int) -> str | None:
    """When process `pid` started, or None when there is no such process."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.NoSuchProcess:
        return None


def process_tags(run_id: str) -> dict[str, str]:
    """Tags saying that run `run_id` executes in this process."""
    pid = os.getpid()
    return {
        PID_TAG: str(pid),
        HOST_TAG: socket.gethostname(),
        PROCESS_STARTED_TAG: _started(pid) or "",
        CLAIMED_FOR_TAG: run_id,
    }


def claim_run(context: dg.AssetExecutionContext) -> None:
    """Tag the context's run with this process, unless its tags already say so."""
    tags = process_tags(context.run_id)
    if any(context.run.tags.get(key) != value for key, value in tags.items()):
        context.instance.add_run_tags(context.run_id, tags)


def _launched_worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the worker Dagster started for a launched run, and when it said so: the run
    worker's first event, written before any step can claim the run."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        if data is not None and "pid" in data.metadata and "Started process" in event.message:
            return int(data.metadata["pid"].value), record.event_log_entry.timestamp
    return None


def _worker_gone(instance: dg.DagsterInstance, run: dg.DagsterRun, host: str) -> int | None:
    """The pid of the run's process when that process is gone (None: alive, or unknown here)."""
    if run.tags.get(CLAIMED_FOR_TAG) == run.run_id:
        if run.tags.get(HOST_TAG) != host:
            return None
        pid = int(run.tags[PID_TAG])
        started = _started(pid)
        recorded = run.tags.get(PROCESS_STARTED_TAG)
        # A pid now held by a process that started at another time is a reused pid.
        return pid if started is None or (recorded and started != recorded) else None
    launched = _launched_worker(instance, run.run_id)
    if launched is None:
        return None
    pid, said_at = launched
    started = _started(pid)
    return pid if started is None or float(started) > said_at + 1 else None


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs this machine started whose process is gone (killed, crashed), and
    free the pool slots they held, so no later run waits on them. Returns their run ids.

    A run's process is the one its claim names (`claim_run`, or the CLI's tags) or, before its
    first step claims it, the worker Dagster recorded starting for it (launched runs).
    """
    host = socket.gethostname()
    reaped = []
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    for record in records:
        run = record.dagster_run
        pid = _worker_gone(instance, run, host)
        if pid is None:
            continue
        instance.report_run_failed(run, f"the process of run {run.run_id} (pid {pid}) is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped
