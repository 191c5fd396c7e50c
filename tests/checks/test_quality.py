from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from checks.drift import Profile, compare, drift_report, total_variation
from checks.expectations import schema_assertions, validate_batch
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.contracts import BRONZE_DOCUMENTS_CONTRACT, CONTRACTS, quarantine_reasons
from lakehouse.recipe import DriftTolerances, Recipe, load_recipe
from lakehouse.tables import BRONZE_DOCUMENTS


def _documents(batch_id: str, count: int, text_bytes: int = 100, domain: str = "prose") -> list:
    return [
        {
            "doc_id": f"{batch_id[-1]}{index:031x}",
            "batch_id": batch_id,
            "source": "notes",
            "domain": domain,
            "license": "CC0-1.0",
            "source_uri": "/landing/notes/part-0.jsonl",
            "source_record": index,
            "source_id": None,
            "text": "x" * text_bytes,
            "text_sha256": "0" * 64,
            "text_bytes": text_bytes,
            "ingested_at": datetime.now(UTC),
        }
        for index in range(count)
    ]


def _write(catalog: Catalog, commit: CommitInfo, rows: list, batch_id: str) -> int:
    table = pa.Table.from_pylist(rows, schema=BRONZE_DOCUMENTS.schema)
    return catalog.write(BRONZE_DOCUMENTS, table, commit, replace={"batch_id": batch_id})


@pytest.fixture
def recipe(recipe_path: Path) -> Recipe:
    return load_recipe(recipe_path).recipe


def test_a_clean_batch_meets_its_contract(
    catalog: Catalog, commit: CommitInfo, recipe: Recipe
) -> None:
    version = _write(catalog, commit, _documents("b1", 20), "b1")
    result = validate_batch(catalog, BRONZE_DOCUMENTS_CONTRACT, recipe, version, "b1")
    assert result.success, result.failures
    assert result.rows == 20
    kinds = {(item.assertion, item.column) for item in result.assertions}
    assert {
        ("schema_matches_table_spec", None),
        ("not_null", "doc_id"),
        ("unique", "doc_id"),
        ("accepted_values", "domain"),
        ("range", "text_bytes"),
    } <= kinds


def test_violations_are_counted_with_example_doc_ids(
    catalog: Catalog, commit: CommitInfo, recipe: Recipe
) -> None:
    rows = _documents("b1", 10)
    rows[3]["doc_id"] = rows[2]["doc_id"]
    rows[5]["domain"] = "astrology"
    rows[7]["text_bytes"] = 0
    version = _write(catalog, commit, rows, "b1")
    _write(catalog, commit, _documents("b2", 5, domain="elsewhere"), "b2")
    result = validate_batch(catalog, BRONZE_DOCUMENTS_CONTRACT, recipe, version, "b1")
    assert not result.success
    failed = {(item.assertion, item.column): item for item in result.failures}
    assert set(failed) == {
        ("unique", "doc_id"),
        ("accepted_values", "domain"),
        ("range", "text_bytes"),
    }
    assert failed[("unique", "doc_id")].unexpected_count == 2
    assert failed[("unique", "doc_id")].examples == [rows[2]["doc_id"]] * 2
    assert failed[("accepted_values", "domain")].examples == [rows[5]["doc_id"]]
    assert failed[("range", "text_bytes")].examples == [rows[7]["doc_id"]]
    assert result.rows == 10


def test_a_schema_that_differs_from_the_spec_fails() -> None:
    kept = [field for field in BRONZE_DOCUMENTS.schema if field.name != "license"]
    retyped = [
        pa.field("source_record", pa.string()) if field.name == "source_record" else field
        for field in kept
    ]
    changed = pa.schema([*retyped, pa.field("text_bytes_v2", pa.int32())])
    (assertion,) = schema_assertions(changed, BRONZE_DOCUMENTS_CONTRACT)
    assert not assertion.success
    assert "missing columns: license" in assertion.detail
    assert "unexpected columns: text_bytes_v2" in assertion.detail
    assert "source_record: type string, expected int64" in assertion.detail
    (same,) = schema_assertions(BRONZE_DOCUMENTS.schema, BRONZE_DOCUMENTS_CONTRACT)
    assert same.success


def test_contracts_read_only_the_columns_they_need() -> None:
    columns = BRONZE_DOCUMENTS_CONTRACT.columns()
    assert "text" not in columns
    assert {"doc_id", "domain", "text_bytes"} <= set(columns)
    assert set(CONTRACTS) == {
        "bronze/documents",
        "bronze/quarantine",
        "silver/documents",
        "silver/unique_documents",
        "silver/decontaminated_documents",
        "silver/signals",
        "gold/scored_documents",
        "gold/embeddings",
        "gold/release_candidate",
        "review/queue",
        "review/decisions",
        "gold/releases",
    }


def test_allowed_quarantine_reasons_are_the_ingest_reasons(recipe: Recipe) -> None:
    reasons = quarantine_reasons(recipe)
    assert "malformed_json" in reasons and "oversized_record" in reasons
    assert all(reason == reason.lower() for reason in reasons)


def test_drift_measures_against_tolerances() -> None:
    tolerances = DriftTolerances(
        row_count_change=0.5, mean_length_change=0.25, distribution_distance=0.2
    )
    baseline = Profile(rows=200, batches=2, mean_length=100.0, distributions={"domain": {"a": 1.0}})
    steady = Profile(rows=110, batches=1, mean_length=110.0, distributions={"domain": {"a": 1.0}})
    assert all(measure.within for measure in compare(steady, baseline, tolerances))
    moved = Profile(
        rows=20, batches=1, mean_length=300.0, distributions={"domain": {"a": 0.5, "b": 0.5}}
    )
    measures = {measure.metric: measure for measure in compare(moved, baseline, tolerances)}
    assert measures["row_count"].change == pytest.approx(0.8)
    assert measures["mean_text_length"].change == pytest.approx(2.0)
    assert measures["domain_distribution"].change == pytest.approx(0.5)
    assert not any(measure.within for measure in measures.values())
    assert total_variation({"a": 1.0}, {"b": 1.0}) == 1.0


def test_drift_report_compares_a_batch_with_the_previous_version(
    catalog: Catalog, commit: CommitInfo
) -> None:
    tolerances = DriftTolerances()
    first = _write(catalog, commit, _documents("b1", 40), "b1")
    report = drift_report(catalog, BRONZE_DOCUMENTS_CONTRACT, first, "b1", tolerances)
    assert report.baseline_version is None and report.passed
    second = _write(catalog, commit, _documents("b2", 4, text_bytes=900, domain="code"), "b2")
    report = drift_report(catalog, BRONZE_DOCUMENTS_CONTRACT, second, "b2", tolerances)
    assert report.baseline_version == first
    assert not report.passed
    outside = {measure.metric for measure in report.measures if not measure.within}
    assert outside == {"row_count", "mean_text_length", "domain_distribution"}
