import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from openlineage.client.serde import Serde

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.lineage import (
    REJECTIONS_FACET,
    ColumnSource,
    LineageEmitter,
    RunIdentity,
    RunState,
    TableInput,
    TableOutput,
    dataset_ref,
    error_facets,
    input_dataset,
    lineage_enabled,
    output_dataset,
    read_events,
    rejection_facets,
    run_event,
)
from lakehouse.tables import BRONZE_QUARANTINE
from tests.lineage_schemas import registry, validation_errors

PARENT = "0198c2f4-1d2e-7a3b-9c4d-5e6f70819a2b"


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on 127.0.0.1 that records every POSTed event."""
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def _quarantine_version(catalog: Catalog, commit: CommitInfo) -> int:
    row = {
        "doc_id": "a" * 32,
        "batch_id": "b1",
        "source": "notes",
        "source_uri": "/landing/notes/x.jsonl",
        "source_record": 3,
        "reason": "malformed_json",
        "detail": "broken",
        "raw_preview": "{",
        "raw_bytes": 1,
        "run_id": "test-run",
        "quarantined_at": datetime.now(UTC),
    }
    table = pa.Table.from_pylist([row], schema=BRONZE_QUARANTINE.schema)
    return catalog.write(BRONZE_QUARANTINE, table, commit, replace={"batch_id": "b1"})


def test_dataset_identity_comes_from_the_table_uri() -> None:
    assert dataset_ref("/data/lake/bronze/documents") == (
        dataset_ref("file:///data/lake/bronze/documents")
    )
    local = dataset_ref("/data/lake/bronze/documents")
    assert (local.namespace, local.name) == ("file", "/data/lake/bronze/documents")
    remote = dataset_ref("s3://bucket/lake/bronze/documents")
    assert (remote.namespace, remote.name) == ("s3://bucket", "lake/bronze/documents")


def test_every_kind_of_event_validates_against_the_official_schemas(
    catalog: Catalog, commit: CommitInfo
) -> None:
    version = _quarantine_version(catalog, commit)
    identity = RunIdentity(job="bronze/quarantine", parent_job="funnel", parent_run_id=PARENT)
    landing = dataset_ref("/landing/notes/*.jsonl")
    output = TableOutput(
        BRONZE_QUARANTINE,
        version,
        "b1",
        {"reason": [ColumnSource(landing, "text", "classified", "TRANSFORMATION")]},
    )
    assertions = [{"assertion": "not_null", "success": False, "column": "doc_id"}]
    events = [
        run_event(
            RunState.START, identity, outputs=[output_dataset(catalog, output, complete=False)]
        ),
        run_event(
            RunState.COMPLETE,
            identity,
            inputs=[input_dataset(catalog, TableInput(BRONZE_QUARANTINE, version, assertions))],
            outputs=[output_dataset(catalog, output, complete=True)],
            run_facets=rejection_facets("ingest", "b1", {"too_short": 2}, {"malformed_json": 1}),
        ),
        run_event(RunState.FAIL, identity, run_facets=error_facets(ValueError("bad input"))),
    ]
    schemas = registry()
    for event in events:
        payload = json.loads(Serde.to_json(event))
        assert validation_errors(payload, schemas) == []
    complete = json.loads(Serde.to_json(events[1]))
    (written,) = complete["outputs"]
    assert written["facets"]["version"]["datasetVersion"] == str(version)
    assert written["outputFacets"]["outputStatistics"]["rowCount"] == 1
    assert written["outputFacets"]["outputStatistics"]["fileCount"] == 1
    assert written["facets"]["columnLineage"]["fields"]["reason"]["inputFields"][0]["name"] == (
        "/landing/notes/*.jsonl"
    )
    facet = complete["run"]["facets"][REJECTIONS_FACET]
    assert (facet["rejected"], facet["quarantined"]) == ({"too_short": 2}, {"malformed_json": 1})
    assert complete["run"]["facets"]["parent"]["run"]["runId"] == PARENT
    failed = json.loads(Serde.to_json(events[2]))
    assert failed["run"]["facets"]["errorMessage"]["message"] == "ValueError: bad input"


def test_the_validator_rejects_a_broken_event(catalog: Catalog, commit: CommitInfo) -> None:
    identity = RunIdentity(job="bronze/quarantine", parent_job="funnel", parent_run_id=PARENT)
    event = json.loads(
        Serde.to_json(run_event(RunState.FAIL, identity, run_facets=error_facets(OSError("x"))))
    )
    event["run"]["runId"] = "not-a-uuid"
    del event["run"]["facets"]["errorMessage"]["programmingLanguage"]
    event["run"]["facets"][REJECTIONS_FACET] = {
        "_producer": "p",
        "_schemaURL": "https://funnel-lakehouse.invalid/spec/facets/1-0-0/"
        "RejectionCountsRunFacet.json#/$defs/RejectionCountsRunFacet",
        "stage": "ingest",
        "rejected": {"too_short": -1},
        "quarantined": {},
    }
    problems = validation_errors(event, registry())
    assert any("not-a-uuid" in problem for problem in problems)
    assert any("programmingLanguage" in problem for problem in problems)
    assert any(problem.startswith(f"facet {REJECTIONS_FACET}") for problem in problems)


def test_events_go_to_the_lineage_folder_and_the_http_endpoint(
    root: Path, lineage_server: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = lineage_server
    emitter = LineageEmitter(str(root), url)
    identity = RunIdentity(job="bronze/documents", parent_job="funnel", parent_run_id=PARENT)
    for state in (RunState.START, RunState.COMPLETE):
        assert emitter.emit(run_event(state, identity)) == []
    assert [item["path"] for item in received] == ["/api/v1/lineage"] * 2
    assert [item["body"]["eventType"] for item in received] == ["START", "COMPLETE"]
    stored = read_events(str(root))
    assert [event["eventType"] for event in stored] == ["START", "COMPLETE"]
    assert {event["run"]["runId"] for event in stored} == {identity.run_id}
    assert len(list((root / "_lineage").glob("*.json"))) == 2


def test_an_unreachable_endpoint_is_logged_and_the_file_still_written(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    emitter = LineageEmitter(str(root), f"http://127.0.0.1:{closed_port}")
    identity = RunIdentity(job="bronze/documents", parent_job="funnel", parent_run_id=PARENT)
    with caplog.at_level("WARNING", logger="funnel.lineage"):
        failed = emitter.emit(run_event(RunState.START, identity))
    assert failed == [f"http http://127.0.0.1:{closed_port}"]
    assert "not delivered" in caplog.text
    assert [event["eventType"] for event in read_events(str(root))] == ["START"]


@pytest.mark.parametrize(("value", "enabled"), [("off", False), ("0", False), ("on", True)])
def test_the_lineage_switch(monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool) -> None:
    monkeypatch.setenv("FUNNEL_LINEAGE", value)
    assert lineage_enabled() is enabled


def test_no_lineage_folder_means_no_events(root: Path) -> None:
    assert read_events(str(root)) == []
