"""Operating the funnel unattended: concurrent runs, dead runs, changed landing files, reruns."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
from dagster._core.events import EngineEventData

from assets.resources import LakehouseResource
from assets.run_processes import (
    CLAIMED_FOR_TAG,
    HOST_TAG,
    PID_TAG,
    PROCESS_STARTED_TAG,
    process_tags,
    reap_dead_runs,
)
from dagster_project.runs import pending_batches, prepare_instance, run_batch
from lakehouse.ledger import ledger_entries
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE
from tests.landing_files import INGEST_ASSETS, note_text, write_jsonl_gz

PROJECT = Path(__file__).resolve().parents[2]


def _ingest_lines(root: Path, recipe: Path, home: Path) -> list[subprocess.Popen[str]]:
    """Two real `funnel run` processes on one root, started together."""
    env = os.environ | {"DAGSTER_HOME": str(home), "FUNNEL_LINEAGE": "off"}
    command = [sys.executable, "-m", "dagster_project.cli", "--root", str(root), "run"]
    return [
        subprocess.Popen(
            [*command, "--recipe", str(recipe)],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]


def test_two_runs_started_together_on_a_fresh_root_duplicate_nothing(
    root: Path, recipe_path: Path, tmp_path: Path
) -> None:
    runs = _ingest_lines(root, recipe_path, tmp_path / "home")
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
    lakehouse = LakehouseResource(root=str(root), recipe_path=str(recipe_path))
    catalog = lakehouse.catalog()
    bronze = catalog.read(BRONZE_DOCUMENTS)
    assert bronze.num_rows == 50
    assert pc.count_distinct(bronze["doc_id"]).as_py() == 50
    # One batch, and each stage recorded once for it, conserved.
    entries = ledger_entries(catalog)
    assert len({entry.batch_id for entry in entries}) == 1
    stages = [entry.stage for entry in entries]
    assert len(stages) == len(set(stages)) and "ingest" in stages
    assert all(entry.balanced for entry in entries)


def test_a_second_run_of_a_batch_is_up_to_date_and_rewrites_nothing(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    catalog = lakehouse.catalog()
    versions = catalog.version(BRONZE_DOCUMENTS), catalog.version("ops/ledger")
    again = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert again.success and again.checks["bronze/documents:conservation"]
    assert (catalog.version(BRONZE_DOCUMENTS), catalog.version("ops/ledger")) == versions
    key = dg.AssetKey(["bronze", "documents"])
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.metadata["up_to_date"].value is True
    forced = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS, force=True)
    assert forced.success and catalog.version(BRONZE_DOCUMENTS) > versions[0]
    assert catalog.read(BRONZE_DOCUMENTS).num_rows == 50


def test_a_landing_file_edited_after_registration_is_refused_not_reread(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    path = landing / "notes" / "part-0.jsonl.gz"
    edited = [{"id": f"n{i}", "text": "different " + note_text(i)} for i in range(50)]
    write_jsonl_gz(path, edited)
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success, outcome.error
    catalog = lakehouse.catalog()
    assert catalog.read(BRONZE_DOCUMENTS).num_rows == 0
    (row,) = catalog.read(BRONZE_QUARANTINE).to_pylist()
    assert row["reason"] == "file_changed" and row["source_uri"].endswith("part-0.jsonl.gz")
    assert "land a corrected file under a new name" in row["detail"]
    path.unlink()
    gone = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert gone.success
    assert catalog.read(BRONZE_QUARANTINE)["reason"].to_pylist() == ["file_missing"]


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(dead.stdout)


def _started_run(instance: dg.DagsterInstance, tags: dict[str, str], run_id: str) -> dg.DagsterRun:
    run = dg.DagsterRun(
        job_name="funnel", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
    )
    instance.add_run(run)
    return run


def test_a_run_whose_process_died_is_failed_and_frees_its_slots(root: Path) -> None:
    with prepare_instance(str(root)) as instance:
        dead_id, alive_id = str(uuid.uuid4()), str(uuid.uuid4())
        dead_tags = {PID_TAG: str(_dead_pid()), HOST_TAG: socket.gethostname()}
        run = _started_run(instance, dead_tags | {CLAIMED_FOR_TAG: dead_id}, dead_id)
        alive = _started_run(instance, process_tags(alive_id), alive_id)
        # A pid reused by a later process is not the run's process.
        reused_id = str(uuid.uuid4())
        reused = _started_run(
            instance, process_tags(reused_id) | {PROCESS_STARTED_TAG: "1.00"}, reused_id
        )
        assert sorted(reap_dead_runs(instance)) == sorted([run.run_id, reused.run_id])
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert reap_dead_runs(instance) == []


def test_a_retry_is_judged_by_its_own_worker_not_its_parents_tags(root: Path) -> None:
    """A retry inherits the dead parent's tags; until its first step claims it, the worker
    Dagster recorded starting for it decides whether it is alive."""
    with prepare_instance(str(root)) as instance:
        parent_tags = process_tags("parent") | {PID_TAG: str(_dead_pid())}
        waiting = _started_run(instance, parent_tags, str(uuid.uuid4()))
        assert reap_dead_runs(instance) == []  # nothing says which process it is yet
        for run, pid in (
            (waiting, os.getpid()),
            (_started_run(instance, parent_tags, str(uuid.uuid4())), _dead_pid()),
        ):
            instance.report_engine_event(
                f"Started process for run (pid: {pid}).",
                run,
                EngineEventData(metadata={"pid": dg.MetadataValue.text(str(pid))}),
            )
        (reaped,) = reap_dead_runs(instance)
        assert reaped != waiting.run_id
        assert instance.get_run_by_id(waiting.run_id).status == dg.DagsterRunStatus.STARTED
