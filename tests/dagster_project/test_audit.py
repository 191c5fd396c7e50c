import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.ingest import BRONZE_DOCUMENTS_KEY, ingest
from assets.partitions import batches
from assets.resources import LakehouseResource
from checks.stage import contract_check, drift_check
from dagster_project.cli import main
from dagster_project.runs import pending_batches, run_batch
from lakehouse.contracts import BRONZE_DOCUMENTS_CONTRACT
from lakehouse.ledger import ledger_entries
from lakehouse.lineage import read_events
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE
from tests.landing_files import INGEST_ASSETS, write_jsonl_gz
from tests.lineage_schemas import registry, validation_errors


def _bad_file(landing: Path) -> None:
    path = landing / "notes" / "part-bad.jsonl"
    path.write_bytes(b'{"text": "fine text here"}\n{broken\n{"text": 3}\n')


def _events(lakehouse: LakehouseResource, job: str, state: str) -> list[dict[str, Any]]:
    return [
        event
        for event in read_events(lakehouse.root)
        if event["job"]["name"] == job and event["eventType"] == state
    ]


def _definitions(
    lakehouse: LakehouseResource, checks: list[dg.AssetChecksDefinition], ran: list[str]
) -> dg.Definitions:
    @dg.asset(deps=[BRONZE_DOCUMENTS_KEY], partitions_def=batches)
    def downstream(context: dg.AssetExecutionContext) -> None:
        ran.append(context.partition_key)

    return dg.Definitions(
        assets=[ingest, downstream],
        asset_checks=checks,
        jobs=[dg.define_asset_job("all", partitions_def=batches)],
        resources={"lakehouse": lakehouse},
    )


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, batch: str) -> Any:
    job = defs.resolve_job_def("all")
    return job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)


def test_a_run_emits_valid_lineage_metadata_and_check_results(
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
    events = read_events(lakehouse.root)
    schemas = registry()
    for event in events:
        assert validation_errors(event, schemas) == [], event["job"]["name"]
    # One job per stage, not per table: ingest writes both bronze tables in one run.
    (started,) = _events(lakehouse, "ingest", "START")
    # The recipe the stage ran with, and no plan: this recipe was not written by one.
    recipe_facet = started["run"]["facets"]["funnel_recipe"]
    assert recipe_facet["recipeSha256"] == lakehouse.recipe().sha256
    assert recipe_facet.get("planId") is None
    (documents,) = _events(lakehouse, "ingest", "COMPLETE")
    assert _events(lakehouse, "bronze/documents", "COMPLETE") == []
    assert documents["run"]["runId"] == started["run"]["runId"]
    assert documents["run"]["facets"]["parent"]["run"]["runId"] == outcome.run_id
    assert documents["run"]["facets"]["parent"]["job"]["name"] == "funnel"
    by_name = {Path(item["name"]).name: item for item in documents["outputs"]}
    assert set(by_name) == {"documents", "quarantine"}
    written = by_name["documents"]
    assert written["name"] == str(Path(lakehouse.root) / "bronze" / "documents")
    assert written["namespace"] == "file"
    assert written["facets"]["version"]["datasetVersion"] == str(entry.output_version)
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == 51
    text_inputs = written["facets"]["columnLineage"]["fields"]["text"]["inputFields"]
    assert [(item["name"], item["field"]) for item in text_inputs] == [
        (f"{landing}/notes/*.jsonl*", "text")
    ]
    assert documents["inputs"][0]["name"] == f"{landing}/notes/*.jsonl*"
    assert documents["run"]["facets"]["funnel_rejections"]["quarantined"] == {
        "malformed_json": 1,
        "text_not_string": 1,
    }
    (checked,) = _events(lakehouse, "bronze/documents:contract", "COMPLETE")
    (examined,) = checked["inputs"]
    assertions = examined["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert assertions and all(item["success"] for item in assertions)
    assert examined["facets"]["version"]["datasetVersion"] == str(entry.output_version)

    event = instance.get_latest_materialization_event(BRONZE_DOCUMENTS_KEY)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    lineage = metadata["dagster/column_lineage"].value
    (dependency,) = lineage.deps_by_column["text"]
    assert dependency.asset_key == dg.AssetKey(["landing", "notes"])
    assert dependency.column_name == "text"
    assert metadata["rejections_by_rule"].value == {}
    # Drop reasons at a glance: per rule (quarantine reasons too) and per source keep rate.
    drops = metadata["drops_by_rule"].value
    assert "| malformed_json | 1 |" in drops and "| text_not_string | 1 |" in drops
    assert "| notes | 53 | 51 | 2 | 96.2% |" in metadata["keep_rate_by_source"].value
    assert metadata["delta_version"].value == entry.output_version


def test_a_failing_contract_blocks_downstream_assets(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    strict = dataclasses.replace(
        BRONZE_DOCUMENTS_CONTRACT, bounds={"text_bytes": lambda _recipe: (1, 10)}
    )
    ran: list[str] = []
    (batch,) = pending_batches(instance, lakehouse)
    result = _run(_definitions(lakehouse, [contract_check(strict)], ran), instance, batch)
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failed_assertions"].value == 1
    examples = evaluation.metadata["example_doc_ids"].value["range:text_bytes"]
    assert len(examples) == 5 and all(len(doc_id) == 32 for doc_id in examples)
    assert "range(text_bytes): 50" in evaluation.description
    assert ran == []
    (checked,) = _events(lakehouse, "bronze/documents:contract", "COMPLETE")
    assertions = checked["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [item["column"] for item in assertions if not item["success"]] == ["text_bytes"]


def test_drift_warns_without_blocking(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, landing: Path
) -> None:
    ran: list[str] = []
    defs = _definitions(lakehouse, [drift_check(BRONZE_DOCUMENTS_CONTRACT)], ran)
    (first,) = pending_batches(instance, lakehouse)
    assert _run(defs, instance, first).success
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", [{"text": "short"}] * 5)
    (second,) = [batch for batch in pending_batches(instance, lakehouse) if batch != first]
    result = _run(defs, instance, second)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["row_count"].value["current"] == 5
    assert evaluation.metadata["mean_text_length"].value["within"] is False
    assert ran == [first, second]


def test_an_exception_in_an_asset_emits_fail(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, tmp_path: Path
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    recipe = Path(lakehouse.recipe_path).read_text()
    trimmed = tmp_path / "trimmed.yaml"
    trimmed.write_text("\n".join(line for line in recipe.splitlines() if "name: notes" not in line))
    broken = LakehouseResource(root=lakehouse.root, recipe_path=str(trimmed))
    outcome = run_batch(instance, broken, batch, assets=INGEST_ASSETS)
    assert not outcome.success
    schemas = registry()
    (started,) = _events(lakehouse, "ingest", "START")
    (failed,) = _events(lakehouse, "ingest", "FAIL")
    assert failed["run"]["runId"] == started["run"]["runId"]
    assert "recipe has no source 'notes'" in failed["run"]["facets"]["errorMessage"]["message"]
    assert validation_errors(failed, schemas) == []
    assert _events(lakehouse, "ingest", "COMPLETE") == []


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on 127.0.0.1 that records every POSTed event."""
    received: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Recorder", (_Recorder,), {"received": received})
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_http_transport_receives_every_event_of_a_run(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    monkeypatch: pytest.MonkeyPatch,
    lineage_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = lineage_server
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    stored = read_events(lakehouse.root)
    assert len(received) == len(stored) >= 6  # ingest START + COMPLETE, two checks × 2
    assert sorted(event["run"]["runId"] + event["eventType"] for event in received) == sorted(
        event["run"]["runId"] + event["eventType"] for event in stored
    )


def test_an_unreachable_endpoint_does_not_fail_the_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{closed_port}")
    (batch,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success, outcome.error
    assert len(_events(lakehouse, "ingest", "COMPLETE")) == 1


def test_switched_off_there_is_no_lineage_and_only_conservation(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNNEL_LINEAGE", "off")
    recipe = Path(lakehouse.recipe_path)
    recipe.write_text(recipe.read_text() + "checks:\n  enabled: false\n")
    (batch,) = pending_batches(instance, lakehouse)
    outcome = run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS)
    assert outcome.success
    assert outcome.checks == {"bronze/documents:conservation": True}
    assert read_events(lakehouse.root) == []


def test_trace_rejections_and_lineage_commands(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    landing: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _bad_file(landing)
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    catalog = lakehouse.catalog()
    (entry,) = ledger_entries(catalog)
    kept_row = sorted(
        catalog.read(BRONZE_DOCUMENTS).to_pylist(),
        key=lambda row: (row["source_uri"], row["source_record"]),
    )[0]
    quarantined_row = next(
        row
        for row in catalog.read(BRONZE_QUARANTINE).to_pylist()
        if row["reason"] == "malformed_json"
    )
    root = ["--root", lakehouse.root]

    capsys.readouterr()
    assert main([*root, "trace", kept_row["doc_id"], "--json"]) == 0
    traced = json.loads(capsys.readouterr().out)
    assert traced["source_uri"] == kept_row["source_uri"] == f"{landing}/notes/part-0.jsonl.gz"
    assert traced["source_record"] == kept_row["source_record"] == 0
    assert [(stage["stage"], stage["outcome"]) for stage in traced["stages"]] == [
        ("ingest", "kept")
    ]
    assert traced["table_versions"] == {"bronze/documents": entry.output_version}

    assert main([*root, "trace", quarantined_row["doc_id"], "--json"]) == 0
    traced = json.loads(capsys.readouterr().out)
    (stage,) = traced["stages"]
    assert (stage["outcome"], stage["rule"], stage["table"]) == (
        "quarantined",
        "malformed_json",
        "bronze/quarantine",
    )
    assert traced["source_uri"].endswith("part-bad.jsonl") and traced["source_record"] == 1

    assert main([*root, "trace", "not-an-id"]) == 2
    assert main([*root, "trace", "f" * 32]) == 1
    capsys.readouterr()

    assert main([*root, "rejections", "--source", "notes", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {(row["rule"], row["count"]) for row in summary} == {
        ("malformed_json", 1),
        ("text_not_string", 1),
    }
    assert main([*root, "rejections", "--rule", "malformed_json", "--json"]) == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["examples"] == [quarantined_row["doc_id"]]
    assert main([*root, "rejections", "--source", "tables", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert main([*root, "lineage", "bronze/documents", "--format", "json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    kinds = {node["id"]: node for node in graph["nodes"]}
    run_node = kinds[f"job:{entry.run_id}:ingest"]
    assert run_node["attributes"]["batch_ids"] == [entry.batch_id]
    assert run_node["attributes"]["recipe_sha256"] == lakehouse.recipe().sha256
    assert run_node["attributes"]["code_version"]
    files = {node["attributes"]["uri"] for node in graph["nodes"] if node["kind"] == "file"}
    assert files == {f"{landing}/notes/part-0.jsonl.gz", f"{landing}/notes/part-bad.jsonl"}
    assert {"from": f"job:{entry.run_id}:ingest", "to": graph["target"]} in graph["edges"]

    assert main([*root, "lineage", "bronze/documents", "--format", "mermaid"]) == 0
    mermaid = capsys.readouterr().out
    assert mermaid.startswith("flowchart LR") and "-->" in mermaid
    assert main([*root, "lineage", "bronze/documents", "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "part-bad.jsonl" in page
    assert f'href="http://127.0.0.1:3000/runs/{entry.run_id}"' in page
    assert "<script" not in page and "<link" not in page
    assert main([*root, "lineage", "bronze/documents", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph lineage {")
    assert main([*root, "lineage", "bronze/documents", "--depth", "0", "--json"]) == 0
    assert [node["kind"] for node in json.loads(capsys.readouterr().out)["nodes"]] == ["dataset"]
    assert main([*root, "lineage", "bronze/documents"]) == 0
    assert entry.run_id in capsys.readouterr().out
    assert main([*root, "lineage", "bronze/documents@99"]) == 1
    assert main([*root, "lineage", "silver/nowhere"]) == 2
