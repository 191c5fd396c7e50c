"""Operating the funnel unattended: concurrent runs, dead runs, changed landing files, reruns."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc

from assets.resources import LakehouseResource
from dagster_project.runs import (
    HOST_TAG,
    PID_TAG,
    pending_batches,
    prepare_instance,
    reap_dead_runs,
    run_batch,
)
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


def test_a_run_whose_process_died_is_failed_and_frees_its_slots(root: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    with prepare_instance(str(root)) as instance:
        run = dg.DagsterRun(
            job_name="funnel",
            status=dg.DagsterRunStatus.STARTED,
            tags={PID_TAG: dead.stdout.strip(), HOST_TAG: socket.gethostname()},
        )
        instance.add_run(run)
        alive = dg.DagsterRun(
            job_name="funnel",
            status=dg.DagsterRunStatus.STARTED,
            tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
        )
        instance.add_run(alive)
        assert reap_dead_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        assert reap_dead_runs(instance) == []
