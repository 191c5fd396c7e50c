"""Scratch of ingest, clean and dedup is removed whether the stage succeeds or fails: the
quarantine spool in the temp folder, the lake's `_scratch` locations, and the Parquet files
Spark's executors wrote under a table that was then not committed."""

import tempfile
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import assets.clean
import assets.dedup
from assets.resources import LakehouseResource
from assets.runner import SCRATCH_FOLDER
from dagster_project.runs import pending_batches, run_batch
from lakehouse import landing as landing_reader
from lakehouse.tables import SILVER_DOCUMENTS, SILVER_UNIQUE_DOCUMENTS
from tests.landing_files import sample_records, write_jsonl_gz
from tests.spark_cluster import spark  # noqa: F401  (fixture)

SCRATCH = ("funnel-quarantine-*", "funnel-clean-*", "funnel-dedup-*")


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for pattern in SCRATCH for path in folder.glob(pattern))


def _lake_leftovers(lakehouse: LakehouseResource) -> list[str]:
    """Entries of the lake's scratch, and Parquet files under the silver tables that no
    version of the table names (written by an executor, never committed)."""
    root = Path(lakehouse.root)
    found = [str(path) for path in (root / SCRATCH_FOLDER).glob("*")]
    catalog = lakehouse.catalog()
    for spec in (SILVER_DOCUMENTS, SILVER_UNIQUE_DOCUMENTS):
        folder = root / spec.layer / spec.name
        if not folder.exists():
            continue
        named: set[str] = set()
        latest = catalog.version(spec)
        for version in range(latest + 1 if latest is not None else 0):
            actions = DeltaTable(str(folder), version=version).get_add_actions(flatten=True)
            named |= set(pa.table(actions)["path"].to_pylist())
        files = {str(path.relative_to(folder)) for path in folder.glob("batch_id=*/*.parquet")}
        found += sorted(files - named)
    return found


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """English documents that clean keeps, so that dedup runs Spark and writes its files."""
    folder = tmp_path / "landing"
    write_jsonl_gz(folder / "notes" / "part-0.jsonl.gz", sample_records("fortunes_en", 12))
    return folder


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
        patch.setattr(landing_reader._FileReader, "_jsonl", _fail)
        assert not run_batch(instance, lakehouse, batch).success
    assert _leftovers(private) == []
    # Clean fails before Spark; dedup fails after its executors wrote the tables' files.
    for module, name in ((assets.clean, "read_bronze_files"), (assets.dedup, "_rejected")):
        with monkeypatch.context() as patch:
            patch.setattr(module, name, _fail)
            failed = run_batch(instance, lakehouse, batch)
        assert not failed.success and "injected failure" in str(failed.error)
        assert _leftovers(private) == [], name
        assert _lake_leftovers(lakehouse) == [], name
    assert run_batch(instance, lakehouse, batch).success
    assert _leftovers(private) == []
    assert _lake_leftovers(lakehouse) == []
