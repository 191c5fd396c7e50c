"""Running the funnel from the command line: real Dagster runs recorded in the instance."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource
from assets.run_processes import process_tags, reap_dead_runs
from assets.runner import FORCE_TAG
from dagster_project.batching import register_landing, unmaterialized_batches
from dagster_project.definitions import build_definitions
from dagster_project.jobs import funnel_asset_keys, funnel_selection
from lakehouse.batches import batch_files
from lakehouse.leases import hold
from lakehouse.ledger import LedgerEntry, ledger_entries
from lakehouse.storage import StorageConfigError, dagster_home, leases_folder

_SETTINGS_HEADER = "# Written by funnel on first use."
# Settings every instance shares, whichever database keeps its history.
_SHARED_SETTINGS = """\
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
# A run whose worker died (killed, out of memory, machine lost) is marked failed by the next
# sensor tick or `funnel` command (reap_dead_runs) and re-executed by the daemon, up to twice;
# stages whose outcome is already recorded report "up to date" in the retry. A run that failed
# in a stage (bad input, a failed contract) is not retried: the same inputs fail the same way.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# A launched run whose worker never came up is failed after start_timeout_seconds.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 30
"""
_INSTANCE_SETTINGS = (
    f"{_SETTINGS_HEADER} Runs, schedules and sensors persist here (SQLite).\n{_SHARED_SETTINGS}"
)
# The environment variable naming the PostgreSQL database of a shared instance.
POSTGRES_URL_VARIABLE = "FUNNEL_DAGSTER_PG"
_POSTGRES_HEADER = f"{_SETTINGS_HEADER} Runs, events, schedules and sensors persist in PostgreSQL."
_POSTGRES_SETTINGS = f"""\
{_POSTGRES_HEADER}
# Every process of the deployment (daemon, webserver, run workers, `funnel`) reads the database
# URL from its own environment, so the password never lands in this file.
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_VARIABLE}
# Runs wait in the queue (in PostgreSQL) until the daemon launches them within the limits of
# `concurrency` below, wherever the daemon runs.
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
{_SHARED_SETTINGS}"""
_POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg2")
# Runs that `funnel` executes in its own process: the next `funnel run` finishes what a dead one
# left, and the daemon cannot re-execute a run that has no code location behind it.
IN_PROCESS_RUN_TAGS = {"dagster/max_retries": "0"}


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


def _redacted(url: str) -> str:
    """`url` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_postgres_url(url: str) -> None:
    """Raise StorageConfigError (one line, password hidden) unless `url` names a PostgreSQL
    database that accepts a connection now.

    Dagster would otherwise retry the connection for a while and end in a long stack trace.
    """
    import psycopg2

    shown = _redacted(url)
    parts = urlsplit(url)
    if parts.scheme not in _POSTGRES_SCHEMES or not parts.hostname or parts.path in ("", "/"):
        raise StorageConfigError(
            f"{POSTGRES_URL_VARIABLE}={shown} is not a PostgreSQL URL; "
            "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    try:
        port = parts.port
    except ValueError as error:
        raise StorageConfigError(f"{POSTGRES_URL_VARIABLE}={shown}: {error}") from None
    dsn = urlunsplit(parts._replace(scheme="postgresql"))
    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.Error as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise StorageConfigError(
            f"{POSTGRES_URL_VARIABLE}: cannot use PostgreSQL at {parts.hostname}:{port or 5432}"
            f"{parts.path} ({reason}); start the server or fix the URL"
        ) from None


def instance_settings(home: Path) -> str:
    """The settings funnel writes to `home`/dagster.yaml: PostgreSQL when FUNNEL_DAGSTER_PG is
    set (checked to accept a connection), else SQLite under `home`.

    Raises StorageConfigError when funnel put the instance on PostgreSQL earlier and the
    variable is now missing: falling back to SQLite would hide the run history and the queue.
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if url:
        check_postgres_url(url)
        return _POSTGRES_SETTINGS
    settings = home / "dagster.yaml"
    if settings.exists() and settings.read_text().startswith(_POSTGRES_HEADER):
        raise StorageConfigError(
            f"the Dagster instance at {home} keeps its runs in PostgreSQL; set "
            f"{POSTGRES_URL_VARIABLE}=postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return _INSTANCE_SETTINGS


def prepare_instance(root: str) -> dg.DagsterInstance:
    """The Dagster instance under `DAGSTER_HOME` (default `<root>/_dagster`), created if new.

    Its runs, events and schedules live in SQLite under that folder, or in PostgreSQL when
    FUNNEL_DAGSTER_PG names a database (a deployment over several machines). Two processes
    starting on a new root would both create the instance's schema; the `instance` lease makes
    the second wait for the first. Runs of this machine whose process died are marked failed
    and their pool slots freed (`reap_dead_runs`).
    """
    home = dagster_home(root)
    with hold(leases_folder(root), "instance", f"pid {os.getpid()} opening the instance"):
        home.mkdir(parents=True, exist_ok=True)
        wanted = instance_settings(home)
        settings = Path(home) / "dagster.yaml"
        # Settings funnel wrote follow the code; settings an operator wrote are left alone.
        if not settings.exists() or (
            settings.read_text().startswith(_SETTINGS_HEADER) and settings.read_text() != wanted
        ):
            settings.write_text(wanted)
        instance = dg.DagsterInstance.from_config(str(home))
        reap_dead_runs(instance)
    return instance


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


def registered_batches(instance: dg.DagsterInstance) -> list[str]:
    """Every batch registered so far, oldest first (batch ids start with their time)."""
    return sorted(instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME))


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

    With `assets`, only those assets (and their checks) are materialized; without, the per-batch
    stages and the heads that were never trained. Stages whose recorded outcome is up to date
    are not re-run, unless `force`.
    """
    catalog = lakehouse.catalog()
    batch_files(catalog, batch_id)
    if not instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, batch_id):
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch_id])
    job = resolve_job(instance, lakehouse, "funnel")
    run_id = str(uuid.uuid4())
    result = job.execute_in_process(
        instance=instance,
        partition_key=batch_id,
        raise_on_error=False,
        asset_selection=(
            list(assets)
            if assets is not None
            else funnel_selection(catalog.root, catalog.storage_options)
        ),
        run_id=run_id,
        tags=process_tags(run_id) | IN_PROCESS_RUN_TAGS | ({FORCE_TAG: "true"} if force else {}),
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


def train_models(instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> BatchRun:
    """Train the heads again in a run of the models job; never raises on failure."""
    job = resolve_job(instance, lakehouse, "models")
    run_id = str(uuid.uuid4())
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_id=run_id,
        tags=process_tags(run_id) | IN_PROCESS_RUN_TAGS,
    )
    return BatchRun(
        batch_id="",
        run_id=result.run_id,
        success=result.success,
        stages=[],
        checks=check_results(result),
        error=run_error(result),
    )
