"""`funnel export` through a real Dagster run of the export job, and `funnel trace` showing the
shard and token offset a document landed in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.export import TOKENIZED_EXPORT_KEY
from dagster_project.cli import main
from dagster_project.runs import prepare_instance
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import BRONZE_DOCUMENTS
from tests.serving.published import publish

COMMIT = CommitInfo(run_id="test-run", stage="test", recipe_sha256="0" * 64, code_version="test")


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """Release `r1` (40 documents), with the bronze rows `funnel trace` starts from."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    catalog = Catalog(str(tmp_path / "lake"))
    rows = publish(catalog, COMMIT, "r1", [{"a": 25, "b": 15}])
    bronze = rows.select(
        [name for name in BRONZE_DOCUMENTS.schema.names if name in rows.column_names]
    ).to_pylist()
    now = datetime(2026, 11, 20, tzinfo=UTC)
    for row in bronze:
        row |= {"domain": row["source"], "text_bytes": len(row["text"]), "ingested_at": now}
    catalog.write(BRONZE_DOCUMENTS, pa.Table.from_pylist(bronze, BRONZE_DOCUMENTS.schema), COMMIT)
    return catalog


def test_export_runs_as_the_dagster_asset_and_trace_shows_the_shard(
    lake: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--root", lake.root, "export", "r1", "--format", "megatron", "--seed", "2", "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["documents"] == 40 and summary["shards"] >= 1
    output = Path(summary["output"])
    assert output == Path(lake.root) / "_exports" / "r1" / "megatron-all-minilm-l6-v2-seed2"

    with prepare_instance(lake.root) as instance:
        event = instance.get_latest_materialization_event(TOKENIZED_EXPORT_KEY)
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        assert metadata["release"] == dg.TextMetadataValue("r1")
        assert metadata["tokens"] == dg.IntMetadataValue(summary["tokens"])

    manifest = json.loads((output / "export.json").read_text())
    index = pq.read_table(output / manifest["shards"][-1]["doc_index"]).to_pylist()
    last = index[-1]
    assert main(["--root", lake.root, "trace", last["doc_id"], "--json"]) == 0
    traced = json.loads(capsys.readouterr().out)
    assert [
        (found["shard"], found["token_offset"], found["tokens"]) for found in traced["exports"]
    ] == [(manifest["shards"][-1]["name"], last["token_offset"], last["tokens"])]
    assert main(["--root", lake.root, "trace", last["doc_id"]]) == 0
    assert manifest["shards"][-1]["name"] in capsys.readouterr().out

    # Again with the same settings: found complete, nothing rewritten.
    before = (output / "export.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == summary["tokens"]
    assert (output / "export.json").stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "r9"], "no release named 'r9'; published: r1"),
        (["export", "r1", "--tokenizer", "gpt9"], "unknown tokenizer 'gpt9'"),
    ],
)
def test_bad_export_requests_exit_2_with_one_line(
    lake: Catalog, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["--root", lake.root, *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (Path(lake.root) / "_exports").exists()
