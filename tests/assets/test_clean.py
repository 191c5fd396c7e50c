import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from assets.clean import SILVER_DOCUMENTS_KEY
from assets.resources import LakehouseResource
from dagster_project.runs import pending_batches, run_batch
from lakehouse.catalog import Catalog
from lakehouse.ledger import ledger_entries
from lakehouse.tables import BRONZE_DOCUMENTS, OPS_REJECTIONS, SILVER_DOCUMENTS
from tests.landing_files import write_jsonl_gz
from tests.spark_cluster import spark, standalone_cluster  # noqa: F401  (fixtures)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "landing"
PROJECT = Path(__file__).resolve().parents[2]


def _sample_records(source: str, count: int) -> list[dict[str, str]]:
    path = next(iter(sorted((SAMPLE / source).glob("*.jsonl.gz"))))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle, strict=False)]


@pytest.fixture
def prose_landing(landing: Path) -> Path:
    """The 50 synthetic notes plus real English and German documents from the sample."""
    records = _sample_records("fortunes_en", 12) + _sample_records("manpages_en", 8)
    records += _sample_records("fortunes_de", 4)
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", records)
    return landing


def test_dagster_run_cleans_a_batch_into_silver(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    prose_landing: Path,
    spark,  # noqa: F811
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, batch)
    assert outcome.success, outcome.error
    assert outcome.checks["silver/documents:conservation"] is True
    (entry,) = [stage for stage in outcome.stages if stage.stage == "clean"]
    assert entry.rows_in == 74
    assert entry.rows_out + entry.rows_rejected == 74
    assert 0 < entry.rows_out < 74
    catalog = lakehouse.catalog()
    silver = catalog.read(SILVER_DOCUMENTS, entry.output_version, where={"batch_id": batch})
    assert silver.num_rows == entry.rows_out
    assert set(silver["lang"].to_pylist()) == {"en"}
    assert pc.min(silver["text_chars"]).as_py() > 0
    rejections = catalog.read(OPS_REJECTIONS, where={"batch_id": batch, "stage": "clean"})
    assert rejections.num_rows == entry.rows_rejected
    assert not set(rejections["doc_id"].to_pylist()) & set(silver["doc_id"].to_pylist())
    rules = set(rejections["rule"].to_pylist())
    assert "language_not_allowed" in rules  # the German fortunes
    assert any(rule.startswith("gopher_") for rule in rules)  # the synthetic notes

    event = instance.get_latest_materialization_event(SILVER_DOCUMENTS_KEY)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["rows_in"].value == 74
    assert metadata["dagster/row_count"].value == entry.rows_out
    assert sum(metadata["rejections_by_rule"].value.values()) == entry.rows_rejected
    assert sum(metadata["language_distribution"].value.values()) == 74
    assert metadata["delta_version"].value == entry.output_version
    history = catalog.history(SILVER_DOCUMENTS, limit=1)[0]
    assert history.stage == "clean" and history.run_id == outcome.run_id
    # The bronze version the ingest outcome names, and the ledger version that pinned it.
    ingest_recorded = max(
        entry.version for entry in catalog.history("ops/ledger") if entry.stage == "ingest"
    )
    assert history.input_versions == {
        BRONZE_DOCUMENTS.key: catalog.version(BRONZE_DOCUMENTS),
        "ops/ledger": ingest_recorded,
    }

    again = run_batch(instance, lakehouse, batch)
    assert again.success, again.error
    assert catalog.count(SILVER_DOCUMENTS, catalog.version(SILVER_DOCUMENTS)) == entry.rows_out
    assert len(ledger_entries(catalog, stage="clean")) == 1
    assert catalog.read(OPS_REJECTIONS, where={"stage": "clean"}).num_rows == entry.rows_rejected


def test_standalone_cluster_gives_the_same_result_as_local(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    prose_landing: Path,
    tmp_path: Path,
    spark,  # noqa: F811
    standalone_cluster: str,  # noqa: F811
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch).success
    cluster_root = tmp_path / "cluster-lake"
    script = (
        "import dagster as dg\n"
        "from assets.resources import LakehouseResource\n"
        "from dagster_project.runs import pending_batches, run_batch\n"
        f"lake = LakehouseResource(root={str(cluster_root)!r}, "
        f"recipe_path={lakehouse.recipe_path!r})\n"
        "with dg.DagsterInstance.ephemeral() as instance:\n"
        "    (batch,) = pending_batches(instance, lake)\n"
        "    outcome = run_batch(instance, lake, batch)\n"
        "    assert outcome.success, outcome.error\n"
        "    print('master', outcome.success)\n"
    )
    env = os.environ | {"FUNNEL_SPARK_MASTER": standalone_cluster, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    local = lakehouse.catalog().read(SILVER_DOCUMENTS).drop_columns(["batch_id"]).sort_by("doc_id")
    remote = Catalog(str(cluster_root)).read(SILVER_DOCUMENTS)
    remote = remote.drop_columns(["batch_id"]).sort_by("doc_id")
    assert local.num_rows > 0
    assert remote.equals(local)
    (event,) = [
        entry for entry in ledger_entries(Catalog(str(cluster_root))) if entry.stage == "clean"
    ]
    assert event.rows_in == 74


def test_clean_without_bronze_fails_and_records_nothing(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    spark,  # noqa: F811
) -> None:
    from assets.clean import clean
    from assets.partitions import BATCH_PARTITIONS_NAME
    from assets.resources import SparkResource

    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["b-missing"])
    result = dg.materialize(
        [clean],
        instance=instance,
        partition_key="b-missing",
        resources={"lakehouse": lakehouse, "spark": SparkResource()},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert "no recorded ingest outcome for batch b-missing" in str(failure.step_failure_data.error)
    assert lakehouse.catalog().version(SILVER_DOCUMENTS) is None
    assert ledger_entries(lakehouse.catalog(), stage="clean") == []
