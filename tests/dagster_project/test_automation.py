import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource
from assets.run_processes import CLAIMED_FOR_TAG, HOST_TAG, PID_TAG
from dagster_project.definitions import build_definitions
from dagster_project.runs import run_batch
from lakehouse.catalog import CommitInfo
from lakehouse.review import add_to_blocklist
from tests.landing_files import note_text, write_jsonl_gz


def _tick(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, cursor: str | None = None
) -> dg.SensorResult:
    sensor = build_definitions(lakehouse).resolve_sensor_def("landing_sensor")
    context = dg.build_sensor_context(
        instance=instance, resources={"lakehouse": lakehouse}, cursor=cursor
    )
    return sensor(context)


def test_sensor_turns_new_landing_files_into_a_partition_and_a_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    result = _tick(instance, lakehouse)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    (add,) = result.dynamic_partitions_requests
    assert add.partitions_def_name == BATCH_PARTITIONS_NAME
    assert list(add.partition_keys) == [request.partition_key]
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, list(add.partition_keys))

    idle = _tick(instance, lakehouse)
    assert idle.skip_reason is not None and not idle.run_requests

    write_jsonl_gz(landing / "notes" / "part-9.jsonl.gz", [{"text": note_text(9)}])
    later = _tick(instance, lakehouse)
    assert isinstance(later, dg.SensorResult)
    assert [r.partition_key for r in later.run_requests] != [request.partition_key]


def test_sensor_recovers_a_batch_whose_partition_was_never_added(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    first = _tick(instance, lakehouse)
    # The first tick's partition request was lost (say, the daemon died): ask again.
    again = _tick(instance, lakehouse)
    assert isinstance(again, dg.SensorResult)
    assert [r.partition_key for r in again.run_requests] == [
        r.partition_key for r in first.run_requests
    ]


def test_schedule_requests_runs_only_for_batches_not_yet_materialized(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    schedule = build_definitions(lakehouse).resolve_schedule_def("daily_funnel")

    def evaluate(day: int) -> list[dg.RunRequest]:
        context = dg.build_schedule_context(
            instance=instance,
            resources={"lakehouse": lakehouse},
            scheduled_execution_time=datetime(2026, 11, day, 2, tzinfo=UTC),
        )
        return list(schedule(context))

    (request,) = evaluate(1)
    assert instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, request.partition_key)
    assert request.run_key == f"2026-11-01:{request.partition_key}"
    assert run_batch(instance, lakehouse, request.partition_key).success
    assert evaluate(2) == []
    write_jsonl_gz(landing / "notes" / "part-5.jsonl.gz", [{"text": note_text(5)}])
    (newer,) = evaluate(3)
    assert newer.partition_key != request.partition_key


def test_scored_batches_bring_the_candidate_then_the_review_queue_without_a_click(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    """The automation sensor's evaluation: new scores request the candidate and its queue, a new
    candidate requests the queue, and nothing is requested again until something changes."""
    defs = build_definitions(lakehouse)
    candidate = dg.AssetKey(["gold", "release_candidate"])
    queue = dg.AssetKey(["review", "queue"])
    selection = dg.AssetSelection.assets(candidate, queue)
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["b1"])

    def requested(cursor):  # type: ignore[no-untyped-def]
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=selection, cursor=cursor
        )
        keys = {key for key in (candidate, queue) if result.get_num_requested(key)}
        return keys, result.cursor

    # At first nothing they read exists: nothing is requested.
    keys, cursor = requested(None)
    assert keys == set()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(dg.AssetKey(["gold", "scored_documents"]), partition="b1")
    )
    # New scores: one run rebuilds the candidate and, after it, the queue.
    keys, cursor = requested(cursor)
    assert keys == {candidate, queue}
    for key in (candidate, queue):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    keys, cursor = requested(cursor)
    assert keys == set()
    # A candidate rebuilt by hand: its queue follows.
    instance.report_runless_asset_event(dg.AssetMaterialization(candidate))
    keys, _ = requested(cursor)
    assert keys == {queue}


def test_sensor_observes_a_changed_blocklist_once(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, commit: CommitInfo
) -> None:
    assert _tick(instance, lakehouse).asset_events == []
    add_to_blocklist(lakehouse.catalog(), "term", "lorem", "ana", commit)
    (observation,) = _tick(instance, lakehouse).asset_events
    assert observation.asset_key == dg.AssetKey(["review", "blocklist"])
    assert observation.tags["dagster/data_version"] == "0"
    assert observation.metadata["entries"].value == 1
    assert _tick(instance, lakehouse, cursor="0").asset_events == []


def test_sensor_fails_runs_whose_process_died_so_the_queue_moves(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    run_id = str(uuid.uuid4())
    tags = {PID_TAG: dead.stdout.strip(), HOST_TAG: socket.gethostname(), CLAIMED_FOR_TAG: run_id}
    run = dg.DagsterRun(
        job_name="funnel", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
    )
    instance.add_run(run)
    _tick(instance, lakehouse)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
