from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pytest

from assets.ingest import BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY
from assets.resources import LakehouseResource
from dagster_project.runs import pending_batches, run_batch
from lakehouse.ledger import ledger_entries
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE
from tests.landing_files import INGEST_ASSETS, note_text, write_jsonl_gz


def _bad_file(landing: Path) -> None:
    path = landing / "notes" / "part-bad.jsonl"
    path.write_bytes(b'{"text": "fine text here"}\n{broken\n{"text": 3}\n')


def test_dagster_run_ingests_a_batch_into_bronze(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    _bad_file(landing)
    (batch,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success, outcome.error
    assert outcome.checks == {
        "bronze/documents:conservation": True,
        "bronze/documents:contract": True,
        "bronze/documents:drift": True,
        "bronze/quarantine:contract": True,
        "bronze/quarantine:drift": True,
    }
    (entry,) = outcome.stages
    assert (entry.rows_in, entry.rows_out, entry.rows_quarantined) == (53, 51, 2)
    catalog = lakehouse.catalog()
    assert catalog.count(BRONZE_DOCUMENTS, entry.output_version, where={"batch_id": batch}) == 51
    quarantine = catalog.read(BRONZE_QUARANTINE)
    assert sorted(quarantine["reason"].to_pylist()) == ["malformed_json", "text_not_string"]

    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.tags["dagster/partition"] == batch
    event = instance.get_latest_materialization_event(BRONZE_DOCUMENTS_KEY)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 51
    assert metadata["delta_version"].value == entry.output_version
    assert metadata["records_read"].value == 53
    assert metadata["recipe_sha256"].value == lakehouse.recipe().sha256
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == (
        BRONZE_DOCUMENTS.schema.names
    )
    quarantine_event = instance.get_latest_materialization_event(BRONZE_QUARANTINE_KEY)
    assert quarantine_event is not None and quarantine_event.asset_materialization is not None
    reasons = quarantine_event.asset_materialization.metadata["quarantined_by_reason"].value
    assert reasons == {"malformed_json": 1, "text_not_string": 1}

    history = catalog.history(BRONZE_DOCUMENTS, limit=1)[0]
    assert history.run_id == outcome.run_id and history.stage == "ingest"
    assert history.recipe_sha256 == lakehouse.recipe().sha256


def test_rerunning_a_batch_replaces_its_rows(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    _bad_file(landing)
    (first,) = pending_batches(instance, lakehouse)
    run_batch(instance, lakehouse, first, assets=INGEST_ASSETS)
    catalog = lakehouse.catalog()
    before = catalog.read(BRONZE_DOCUMENTS).sort_by("doc_id")
    again = run_batch(instance, lakehouse, first, assets=INGEST_ASSETS, force=True)
    assert again.success
    after = catalog.read(BRONZE_DOCUMENTS).sort_by("doc_id")
    assert after.num_rows == before.num_rows == 51
    assert after["doc_id"].equals(before["doc_id"])
    assert after["text_sha256"].equals(before["text_sha256"])
    assert catalog.read(BRONZE_QUARANTINE).num_rows == 2
    assert len(ledger_entries(catalog, stage="ingest")) == 1
    assert catalog.version(BRONZE_DOCUMENTS) == 1


def test_a_second_batch_only_reads_new_files(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    (first,) = pending_batches(instance, lakehouse)
    run_batch(instance, lakehouse, first, assets=INGEST_ASSETS)
    # Only the bronze assets ran, so the batch still waits for the rest of the funnel.
    assert pending_batches(instance, lakehouse) == [first]
    write_jsonl_gz(
        landing / "notes" / "part-1.jsonl.gz", [{"text": note_text(i)} for i in range(7)]
    )
    (second,) = [batch for batch in pending_batches(instance, lakehouse) if batch != first]
    assert run_batch(instance, lakehouse, second, assets=INGEST_ASSETS).success
    documents = lakehouse.catalog().read(BRONZE_DOCUMENTS)
    counts = documents.group_by("batch_id").aggregate([("doc_id", "count")])
    assert dict(
        zip(counts["batch_id"].to_pylist(), counts["doc_id_count"].to_pylist(), strict=True)
    ) == {first: 50, second: 7}
    assert pc.count_distinct(documents["doc_id"]).as_py() == 57


def test_failed_run_reports_the_error_and_writes_nothing(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, tmp_path: Path
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    # The recipe lost the source that the registered files belong to: the step must fail.
    recipe = Path(lakehouse.recipe_path).read_text()
    trimmed = tmp_path / "trimmed.yaml"
    trimmed.write_text("\n".join(line for line in recipe.splitlines() if "name: notes" not in line))
    outcome = run_batch(
        instance, LakehouseResource(root=lakehouse.root, recipe_path=str(trimmed)), batch
    )
    assert not outcome.success
    assert outcome.error is not None and "recipe has no source 'notes'" in outcome.error
    assert lakehouse.catalog().version(BRONZE_DOCUMENTS) is None
    assert outcome.stages == []


def test_file_that_vanished_after_registration_is_quarantined(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    doomed = write_jsonl_gz(landing / "notes" / "part-9.jsonl.gz", [{"text": note_text(9)}])
    (batch,) = pending_batches(instance, lakehouse)
    doomed.unlink()
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success, outcome.error
    (entry,) = outcome.stages
    assert (entry.rows_in, entry.rows_out, entry.rows_quarantined) == (51, 50, 1)
    (row,) = lakehouse.catalog().read(BRONZE_QUARANTINE).to_pylist()
    assert row["reason"] == "file_missing" and row["source_uri"] == str(doomed)


def test_warc_source_ingests_pages_and_trace_names_the_warc_record(
    instance: dg.DagsterInstance,
    recipe_path: Path,
    root: Path,
    landing: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dagster_project.cli import main as funnel
    from tests.warc_files import html_record, page_html, record, warcinfo, write_warc

    recipe = recipe_path
    recipe.write_text(
        recipe.read_text().replace(
            "ingest:",
            '  - {name: crawl, path: "crawl/*.warc.gz", format: warc, domain: web, '
            "license: LicenseRef-crawl}\ningest:",
        )
    )
    members = [
        warcinfo(),
        html_record("https://news.example/a", page_html("A", ["Words of the article."] * 3)),
        record("https://news.example/x", b"no HTTP here"),
    ]
    (landing / "crawl").mkdir()
    path = write_warc(landing / "crawl" / "part-0.warc.gz", members)
    lakehouse = LakehouseResource(root=str(root), recipe_path=str(recipe))
    (batch,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success, outcome.error
    (entry,) = outcome.stages
    assert (entry.rows_in, entry.rows_out, entry.rows_quarantined) == (52, 51, 1)
    catalog = lakehouse.catalog()
    pages = catalog.read(BRONZE_DOCUMENTS, where={"source": "crawl"}).to_pylist()
    assert [page["url"] for page in pages] == ["https://news.example/a"]
    quarantine = catalog.read(BRONZE_QUARANTINE).to_pylist()
    assert [(row["reason"], row["source_record"]) for row in quarantine] == [("broken_http", 2)]

    assert funnel(["--root", str(root), "trace", pages[0]["doc_id"]]) == 0
    shown = capsys.readouterr().out
    assert f"from {path}  record 1" in shown
    assert "web https://news.example/a  fetched 2026-10-03T12:30:00+00:00" in shown
    assert f"WARC record {pages[0]['warc_record_id']}  offset {len(members[0])}" in shown
