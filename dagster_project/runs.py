"""Running the funnel from the command line: real Dagster runs recorded in the instance."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource
from assets.runner import FORCE_TAG
from dagster_project.batching import register_landing, unmaterialized_batches
from dagster_project.definitions import build_definitions
from dagster_project.jobs import funnel_asset_keys
from lakehouse.batches import batch_files
from lakehouse.leases import hold
from lakehouse.ledger import LedgerEntry, ledger_entries
from lakehouse.storage import dagster_home, leases_folder

# Which process runs a run in-process: a later run can then tell that it died.
PID_TAG = "funnel/pid"
HOST_TAG = "funnel/host"

_INSTANCE_SETTINGS = """\
# Written by funnel on first use. Runs, schedules and sensors persist here (SQLite).
telemetry:
  enabled: false
python_logs:
  python_log_level: INFO
# Runs of different batches share the ops tables (ledger, rejections), which delta-rs commits
# optimistically; running one batch at a time keeps those commits free of conflicts.
concurrency:
  runs:
    max_concurrent_runs: 1
  # The model stages run in the `gpu` pool (the only pool): one at a time on the GPU.
  pools:
    default_limit: 1
"""


@dataclass
class BatchRun:
    """The outcome of one funnel run over one batch."""

    batch_id: str
    run_id: str
    success: bool
    stages: list[LedgerEntry]
    checks: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def prepare_instance(root: str) -> dg.DagsterInstance:
    """The Dagster instance under `DAGSTER_HOME` (default `<root>/_dagster`), created if new.

    Two processes starting on a new root would both create the instance's SQLite schema; the
    `instance` lease makes the second wait for the first. Runs of this machine whose process
    died are marked failed and their pool slots freed (`reap_dead_runs`).
    """
    home = dagster_home(root)
    with hold(leases_folder(root), "instance", f"pid {os.getpid()} opening the instance"):
        home.mkdir(parents=True, exist_ok=True)
        settings = Path(home) / "dagster.yaml"
        if not settings.exists():
            settings.write_text(_INSTANCE_SETTINGS)
        instance = dg.DagsterInstance.from_config(str(home))
        reap_dead_runs(instance)
    return instance


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs this machine started whose process is gone (killed, crashed), and
    free the pool slots they held, so no later run waits on them. Returns their run ids."""
    host = socket.gethostname()
    reaped = []
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
    )
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if pid is None or run.tags.get(HOST_TAG) != host or _alive(int(pid)):
            continue
        instance.report_run_failed(run, f"the process of run {run.run_id} (pid {pid}) is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def process_tags() -> dict[str, str]:
    """Tags naming this process, for runs executed in it."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error message: what actually went wrong, not Dagster's wrapper."""
    while (inner := error.cause or error.context) is not None:
        error = inner
    return error.message.strip()


def pending_batches(instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> list[str]:
    """Register new landing files, then every batch not yet through the whole funnel.

    Registration holds the `register` lease: two runs started together never register the
    same landing file twice.
    """
    with hold(leases_folder(lakehouse.root), "register", f"pid {os.getpid()} registering"):
        fresh = register_landing(instance, lakehouse, writer=f"cli:{uuid.uuid4()}")
    if fresh:
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, fresh)
    known = instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)
    return unmaterialized_batches(instance, funnel_asset_keys(), known)


def resolve_job(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, name: str
) -> dg.JobDefinition:
    """Job `name` of the project's definitions, loaded against `instance`'s state storage.

    Loading definitions looks the instance's state storage up in a context variable; an
    earlier run in the same process can leave it pointing at an instance that is gone, so the
    variable is set to this instance's storage for the load.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(instance.defs_state_storage):
        return build_definitions(lakehouse).resolve_job_def(name)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    """`asset:check` → passed, for every check the run evaluated."""
    return {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def run_error(result: dg.ExecuteInProcessResult) -> str | None:
    """None for a successful run; else each failed step with the root cause of its error."""
    if result.success:
        return None
    failures = [event for event in result.all_events if event.is_step_failure]
    return (
        "; ".join(
            f"{event.step_key}: {_root_cause(event.step_failure_data.error)}"
            for event in failures
            if event.step_failure_data and event.step_failure_data.error
        )
        or "the run failed"
    )


def run_batch(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    batch_id: str,
    assets: Sequence[dg.AssetKey] | None = None,
    force: bool = False,
) -> BatchRun:
    """Materialize the funnel for one registered batch in a Dagster run; never raises on failure.

    With `assets`, only those assets (and their checks) are materialized. Stages whose recorded
    outcome is up to date are not re-run, unless `force`.
    """
    catalog = lakehouse.catalog()
    batch_files(catalog, batch_id)
    if not instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, batch_id):
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch_id])
    job = resolve_job(instance, lakehouse, "funnel")
    result = job.execute_in_process(
        instance=instance,
        partition_key=batch_id,
        raise_on_error=False,
        asset_selection=list(assets) if assets is not None else None,
        tags=process_tags() | ({FORCE_TAG: "true"} if force else {}),
    )
    evaluations = result.get_asset_check_evaluations()
    checks = check_results(result)
    # A failed WARN check (drift) is reported but, like in Dagster, does not fail the batch.
    contracts_held = all(
        evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR
        for evaluation in evaluations
    )
    error = run_error(result)
    return BatchRun(
        batch_id=batch_id,
        run_id=result.run_id,
        success=result.success and contracts_held,
        stages=ledger_entries(catalog, batch_id=batch_id),
        checks=checks,
        warnings=sorted(
            f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            for evaluation in evaluations
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
        ),
        error=error,
    )
