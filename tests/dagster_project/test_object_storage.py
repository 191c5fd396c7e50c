"""The whole funnel on object storage: landing, every table, lineage events, model artifacts,
review decisions and releases on a loopback S3 server (moto), read back by `funnel trace` and
`ReleaseDataset`, with nothing left on the local disk but the Dagster instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import ledger_entries
from lakehouse.lineage import read_events
from lakehouse.releases import list_releases
from lakehouse.review import record_decision, review_queue
from lakehouse.tables import SILVER_DEDUP_INDEX, SILVER_DOCUMENTS, SILVER_UNIQUE_DOCUMENTS
from serving.dataset import ReleaseDataset
from tests.landing_files import note_text, sample_records, write_jsonl_gz, write_recipe
from tests.object_store import ObjectStore, object_store  # noqa: F401  (fixture)
from tests.spark_cluster import (  # noqa: F401  (fixtures)
    connect_server,
    spark,
    standalone_cluster,
)

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
ROOT = "s3://lake/funnel"
LANDING = "s3://lake/landing"


@dataclass(frozen=True)
class S3Lake:
    """A lake on the S3 server after one `funnel run`, and what the run was given."""

    store: ObjectStore
    root: str
    recipe: Path
    dagster_home: Path
    scratch: Path


@pytest.fixture(scope="module")
def s3_lake(
    object_store: ObjectStore,  # noqa: F811
    spark,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[S3Lake]:
    """`funnel run` with FUNNEL_ROOT on the S3 server and the landing files there too."""
    folder = tmp_path_factory.mktemp("s3_lake")
    english = sample_records("fortunes_en", 24) + sample_records("manpages_en", 8)
    records = [{"id": f"n{i}", "text": note_text(i)} for i in range(6)] + english
    local = write_jsonl_gz(folder / "part-0.jsonl.gz", records)
    object_store.upload(local, "landing/notes/part-0.jsonl.gz")
    local.unlink()
    recipe = write_recipe(folder, LANDING)  # type: ignore[arg-type]
    home = folder / "dagster_home"
    # Local scratch is watched: the funnel must leave nothing in the temp folder.
    scratch = folder / "tmp"
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FUNNEL_ROOT", ROOT)
        patch.setenv("DAGSTER_HOME", str(home))
        for name, value in object_store.environment().items():
            patch.setenv(name, value)
        patch.setattr(tempfile, "tempdir", str(scratch))
        assert main(["run", "--recipe", str(recipe)]) == 0
        yield S3Lake(object_store, ROOT, recipe, home, scratch)


def test_every_stage_runs_with_the_lake_on_object_storage(
    s3_lake: S3Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = Catalog(s3_lake.root)
    assert catalog.is_remote
    stages = {entry.stage: entry for entry in ledger_entries(catalog)}
    assert {"ingest", "clean", "dedup", "score", "curate"} <= set(stages)
    assert stages["ingest"].rows_in == 38
    assert stages["clean"].rows_out > 0
    assert all(entry.balanced for entry in stages.values())
    keys = s3_lake.store.keys("funnel/")
    # Spark's executors wrote the silver files straight to the tables' locations.
    assert any(key.startswith("funnel/silver/documents/batch_id=") for key in keys)
    assert any(key.startswith("funnel/silver/unique_documents/batch_id=") for key in keys)
    assert any(key.startswith("funnel/_models/quality_classifier/") for key in keys)
    assert any(key.startswith("funnel/_lineage/event-") for key in keys)
    assert not [key for key in keys if key.startswith("funnel/_scratch/")]
    events = read_events(s3_lake.root)
    completed = [event for event in events if event["eventType"] == "COMPLETE"]
    assert {"ingest", "clean", "dedup", "score"} <= {event["job"]["name"] for event in completed}
    clean_outputs = [
        output for event in completed if event["job"]["name"] == "clean"
        for output in event["outputs"]
    ]  # fmt: skip
    assert {(output["namespace"], output["name"]) for output in clean_outputs} >= {
        ("s3://lake", "funnel/silver/documents")
    }
    # Nothing local but the Dagster instance: no scratch, no path named after the URI.
    # (torch keeps its own compile cache, `torchinductor_<user>`, in the temp folder.)
    left = [path.name for path in s3_lake.scratch.iterdir()]
    assert [name for name in left if not name.startswith("torchinductor_")] == []
    assert not Path("s3:").exists()
    assert (s3_lake.dagster_home / "dagster.yaml").exists()
    assert main(["tables", "--json"]) == 0
    tables = {row["table"]: row for row in json.loads(capsys.readouterr().out)}
    assert tables["silver/documents"]["rows"] == catalog.count(
        SILVER_DOCUMENTS, catalog.version(SILVER_DOCUMENTS)
    )


def test_review_release_trace_and_training_read_from_object_storage(
    s3_lake: S3Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = Catalog(s3_lake.root)
    commit = CommitInfo(run_id="s3-test", stage="review", recipe_sha256="0", code_version="t")
    queued = review_queue(catalog)["doc_id"].to_pylist()
    assert queued
    for doc_id in queued:
        record_decision(catalog, doc_id, "approve", "tester", commit)
    assert main(["release", "publish", "--recipe", str(s3_lake.recipe)]) == 0
    release = list_releases(catalog)[-1]
    capsys.readouterr()

    dataset = ReleaseDataset(catalog, release.name, seed=1)
    rows = list(dataset)
    assert rows and len({row["doc_id"] for row in rows}) == len(rows)

    shipped = rows[0]["doc_id"]
    assert main(["trace", shipped, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["source_uri"].startswith(f"{LANDING}/notes/")
    assert {"ingest", "clean", "dedup", "score"} <= {stage["stage"] for stage in found["stages"]}
    assert [entry["release"] for entry in found["releases"]] == [release.name]
    unique = catalog.read(SILVER_UNIQUE_DOCUMENTS, columns=["doc_id"])["doc_id"].to_pylist()
    assert shipped in unique
    assert any(key.startswith("funnel/review/") for key in s3_lake.store.keys("funnel/"))


def test_a_missing_bucket_fails_with_one_line_naming_the_location(
    object_store: ObjectStore,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["--root", "s3://no-such-bucket/lake", "tables"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "s3://no-such-bucket/lake/" in line and "NoSuchBucket" in line
    assert "FUNNEL_STORAGE_OPTIONS" in line


# The stages through dedup: what the cluster run repeats.
_THROUGH_DEDUP = (
    "bronze/documents bronze/quarantine silver/documents silver/signals silver/boilerplate_lines "
    "silver/unique_documents silver/dedup_index"
)


def _rows(catalog: Catalog, spec) -> list[dict]:  # type: ignore[no-untyped-def]
    table = catalog.read(spec).drop_columns(["batch_id"])
    if "ingested_at" in table.column_names:
        table = table.drop_columns(["ingested_at"])
    return sorted(table.to_pylist(), key=lambda row: row["doc_id"])


@pytest.mark.parametrize("cluster", ["standalone_cluster", "connect_server"])
def test_a_cluster_without_the_drivers_disk_gives_the_same_tables(
    s3_lake: S3Lake, cluster: str, request: pytest.FixtureRequest
) -> None:
    """The same landing file through dedup on a standalone master and worker whose working and
    temp folders are their own, and on a Spark Connect server, the lake on the S3 server: the
    silver and dedup tables and the ledger's counts equal those of the local[*] run."""
    master = request.getfixturevalue(cluster)
    cluster_root = f"s3://lake/{cluster}"
    script = (
        "import dagster as dg\n"
        "from assets.resources import LakehouseResource\n"
        "from dagster_project.runs import pending_batches, run_batch\n"
        f"lake = LakehouseResource(root={cluster_root!r}, recipe_path={str(s3_lake.recipe)!r})\n"
        f"keys = [dg.AssetKey(key.split('/')) for key in {_THROUGH_DEDUP!r}.split()]\n"
        "with dg.DagsterInstance.ephemeral() as instance:\n"
        "    (batch,) = pending_batches(instance, lake)\n"
        "    outcome = run_batch(instance, lake, batch, assets=keys)\n"
        "    assert outcome.success, outcome.error\n"
    )
    env = os.environ | {"FUNNEL_SPARK_MASTER": master, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    local, cluster = Catalog(s3_lake.root), Catalog(cluster_root)
    for spec in (SILVER_DOCUMENTS, SILVER_UNIQUE_DOCUMENTS, SILVER_DEDUP_INDEX):
        expected = _rows(local, spec)
        assert expected, spec.key
        assert _rows(cluster, spec) == expected, spec.key
    assert _counts(cluster) == _counts(local)


def _counts(catalog: Catalog) -> list[tuple[str, int, int, int]]:
    """(stage, rows in, out, rejected) of the clean and dedup ledger rows."""
    return sorted(
        (entry.stage, entry.rows_in, entry.rows_out, entry.rows_rejected)
        for entry in ledger_entries(catalog)
        if entry.stage in {"clean", "dedup"}
    )
