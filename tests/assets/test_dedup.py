import gzip
import json
from pathlib import Path

import dagster as dg
import pytest

from assets.dedup import SILVER_UNIQUE_DOCUMENTS_KEY, dedup
from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource, SparkResource
from assets.runner import StageInputError
from dagster_project.runs import pending_batches, run_batch
from lakehouse.ledger import ledger_entries
from lakehouse.tables import (
    OPS_REJECTIONS,
    SILVER_DEDUP_INDEX,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
)
from tests.landing_files import write_jsonl_gz, write_recipe
from tests.spark_cluster import spark

__all__ = ["spark"]

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "landing"


def _sample_texts(source: str, count: int) -> list[str]:
    path = next(iter(sorted((SAMPLE / source).glob("*.jsonl.gz"))))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(count), handle, strict=False)]


def _one_word_changed(text: str) -> str:
    words = text.split(" ")
    middle = len(words) // 2
    words[middle] = "changed" if words[middle] != "changed" else "altered"
    return " ".join(words)


# The clean stage's quality rules off, so the sample's man pages all reach dedup.
LENIENT_CLEAN = """\
clean:
  tokenizer: whitespace
  language: {allow: [en], min_score: 0}
  gopher_quality: {enabled: false}
  gopher_repetition: {enabled: false}
  c4: {enabled: false}
  fineweb: {enabled: false}
"""


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The test recipe with lenient clean rules."""
    path = write_recipe(tmp_path, landing)
    path.write_text(path.read_text() + LENIENT_CLEAN)
    return path


@pytest.fixture
def originals() -> list[str]:
    """Ten distinct English man pages from the sample."""
    return _sample_texts("manpages_en", 10)


def _dedup_entry(outcome):  # type: ignore[no-untyped-def]
    assert outcome.success, outcome.error
    (entry,) = [stage for stage in outcome.stages if stage.stage == "dedup"]
    return entry


def test_dagster_runs_deduplicate_within_and_across_batches(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    landing: Path,
    originals: list[str],
    spark,
) -> None:
    records = [{"id": f"o{i}", "text": text} for i, text in enumerate(originals)]
    records += [{"id": f"x{i}", "text": originals[i]} for i in range(3)]
    records += [{"id": f"n{i}", "text": _one_word_changed(originals[i])} for i in (4, 5)]
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", records)
    (first,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, first)
    entry = _dedup_entry(outcome)
    assert outcome.checks["silver/unique_documents:conservation"] is True
    catalog = lakehouse.catalog()
    clean_out = catalog.count(SILVER_DOCUMENTS, catalog.version(SILVER_DOCUMENTS))
    assert entry.rows_in == clean_out >= 15  # 15 man pages, maybe some synthetic notes
    rejected = catalog.read(OPS_REJECTIONS, where={"batch_id": first, "stage": "dedup"})
    rules = sorted(rejected["rule"].to_pylist())
    assert rules == ["exact_duplicate"] * 3 + ["near_duplicate"] * 2
    assert entry.rows_out == entry.rows_in - 5 and entry.rows_rejected == 5
    unique = catalog.read(SILVER_UNIQUE_DOCUMENTS, where={"batch_id": first})
    kept = set(unique["doc_id"].to_pylist())
    for row in rejected.to_pylist():
        assert json.loads(row["detail"])["duplicate_of"] in kept
        assert row["value"] >= 0.7 and row["doc_id"] not in kept
    index = catalog.read(SILVER_DEDUP_INDEX, where={"batch_id": first})
    assert set(index["doc_id"].to_pylist()) == kept

    event = instance.get_latest_materialization_event(SILVER_UNIQUE_DOCUMENTS_KEY)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["exact_duplicates"].value == 3
    assert metadata["near_duplicates"].value == 2
    assert metadata["cluster_sizes"].value == {"2": 5}
    assert metadata["dagster/row_count"].value == entry.rows_out
    history = catalog.history(SILVER_UNIQUE_DOCUMENTS, limit=1)[0]
    assert history.stage == "dedup" and history.run_id == outcome.run_id
    assert set(history.input_versions) == {"silver/documents", "bronze/documents", "ops/ledger"}

    # A second batch repeating the first one's documents: everything in it is a duplicate.
    repeat = [{"id": f"r{i}", "text": text} for i, text in enumerate(originals)]
    write_jsonl_gz(landing / "notes" / "part-2.jsonl.gz", repeat)
    (second,) = pending_batches(instance, lakehouse)
    repeated = _dedup_entry(run_batch(instance, lakehouse, second))
    assert repeated.rows_in == 10 and repeated.rows_out == 0 and repeated.rows_rejected == 10
    across = catalog.read(OPS_REJECTIONS, where={"batch_id": second, "stage": "dedup"})
    assert {json.loads(detail)["duplicate_of"] for detail in across["detail"].to_pylist()} <= kept
    assert (
        catalog.history(SILVER_UNIQUE_DOCUMENTS, limit=1)[0].input_versions[SILVER_DEDUP_INDEX.key]
        == catalog.history(SILVER_DEDUP_INDEX, limit=2)[1].version
    )

    # Re-running the first batch replaces its rows: same result, no doubled index rows.
    again = _dedup_entry(run_batch(instance, lakehouse, first))
    assert (again.rows_in, again.rows_out, again.rows_rejected) == (
        entry.rows_in,
        entry.rows_out,
        entry.rows_rejected,
    )
    assert catalog.read(SILVER_DEDUP_INDEX).num_rows == len(kept)
    assert set(catalog.read(SILVER_UNIQUE_DOCUMENTS)["doc_id"].to_pylist()) == kept
    assert len(ledger_entries(catalog, stage="dedup")) == 2


def test_dedup_before_clean_fails_saying_what_to_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["b1"])
    with pytest.raises(StageInputError, match="no recorded clean outcome for batch b1"):
        dg.materialize(
            [dedup],
            partition_key="b1",
            instance=instance,
            resources={"lakehouse": lakehouse, "spark": SparkResource()},
        )
    assert lakehouse.catalog().version(SILVER_UNIQUE_DOCUMENTS) is None
