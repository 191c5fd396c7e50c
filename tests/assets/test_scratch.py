"""Scratch folders of ingest, clean and dedup are removed whether the stage succeeds or fails."""

import tempfile
from pathlib import Path

import dagster as dg
import pytest

import assets.clean
import assets.dedup
from assets.resources import LakehouseResource
from dagster_project.runs import pending_batches, run_batch
from lakehouse import landing
from tests.spark_cluster import spark  # noqa: F401  (fixture)

SCRATCH = ("funnel-quarantine-*", "funnel-clean-*", "funnel-dedup-*")


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for pattern in SCRATCH for path in folder.glob(pattern))


def _fail(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("injected failure")


@pytest.mark.slow
def test_no_scratch_is_left_after_a_failing_or_a_successful_run(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spark,  # noqa: F811
) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    (batch,) = pending_batches(instance, lakehouse)
    # Ingest fails while reading, after its quarantine spool was made.
    with monkeypatch.context() as patch:
        patch.setattr(landing._FileReader, "_jsonl", _fail)
        assert not run_batch(instance, lakehouse, batch).success
    assert _leftovers(private) == []
    # Clean and dedup fail on Spark, after their scratch folders were made.
    for module, name in ((assets.clean, "read_bronze_files"), (assets.dedup, "_rejected")):
        with monkeypatch.context() as patch:
            patch.setattr(module, name, _fail)
            failed = run_batch(instance, lakehouse, batch)
        assert not failed.success and "injected failure" in str(failed.error)
        assert _leftovers(private) == [], name
    assert run_batch(instance, lakehouse, batch).success
    assert _leftovers(private) == []
