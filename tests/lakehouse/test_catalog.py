from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.artifacts import Artifact
from lakehouse.catalog import Catalog, CommitInfo, sql_literal
from lakehouse.tables import OPS_BATCHES, OPS_LEDGER, UnknownTableError, table_spec


def _batches(batch_id: str, files: list[str]) -> pa.Table:
    registered = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "batch_id": batch_id,
            "source": "s",
            "file_uri": f,
            "file_bytes": 1,
            "registered_at": registered,
        }
        for f in files
    ]
    return pa.Table.from_pylist(rows, schema=OPS_BATCHES.schema)


def test_uri_local_root_and_object_store_root(tmp_path: Path) -> None:
    local = Catalog(str(tmp_path / "lake"))
    assert local.uri("bronze/documents") == f"{tmp_path}/lake/bronze/documents"
    assert local.uri("bronze.documents") == local.uri("bronze/documents")
    remote = Catalog("s3://bucket/lake/", storage_options={"AWS_REGION": "eu-west-1"})
    assert remote.is_remote
    assert remote.uri("ops/ledger") == "s3://bucket/lake/ops/ledger"
    assert remote.storage_options == {"AWS_REGION": "eu-west-1"}


def test_storage_options_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNNEL_STORAGE_OPTIONS", '{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}')
    assert Catalog("s3://b/l").storage_options == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}
    monkeypatch.setenv("FUNNEL_STORAGE_OPTIONS", "[1, 2]")
    with pytest.raises(ValueError, match="JSON object of string values"):
        Catalog("s3://b/l")


def test_default_root_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FUNNEL_ROOT", str(tmp_path / "elsewhere"))
    assert Catalog().root == str(tmp_path / "elsewhere")


def test_unknown_table_lists_known_tables(catalog: Catalog) -> None:
    with pytest.raises(UnknownTableError, match="known tables: bronze/documents"):
        catalog.uri("silver/nope")
    with pytest.raises(UnknownTableError):
        table_spec("nope")


def test_write_commits_metadata_and_returns_versions(catalog: Catalog) -> None:
    assert catalog.version(OPS_BATCHES) is None
    assert catalog.read(OPS_BATCHES).num_rows == 0
    commit = CommitInfo("run-1", "register", "a" * 64, "1.0", {"bronze/documents": 3})
    assert catalog.write(OPS_BATCHES, _batches("b1", ["f1", "f2"]), commit) == 0
    head = Artifact("quality_classifier", "c" * 64, "/lake/_models/quality_classifier/c.pt", 9)
    second = CommitInfo("run-2", "register", "b" * 64, "1.1", artifacts=(head,))
    assert catalog.write(OPS_BATCHES, _batches("b2", ["f3"]), second) == 1
    newest, oldest = catalog.history(OPS_BATCHES)
    assert (newest.version, newest.run_id, newest.recipe_sha256) == (1, "run-2", "b" * 64)
    assert newest.artifacts == [head] and oldest.artifacts == []
    assert (oldest.run_id, oldest.stage, oldest.code_version) == ("run-1", "register", "1.0")
    assert oldest.input_versions == {"bronze/documents": 3}
    assert oldest.rows_added == 2
    assert catalog.row_count(OPS_BATCHES) == 3
    assert catalog.row_count(OPS_BATCHES, 0) == 2


def test_replace_is_idempotent_and_old_versions_stay_readable(
    catalog: Catalog, commit: CommitInfo
) -> None:
    catalog.write(OPS_BATCHES, _batches("b1", ["f1", "f2"]), commit)
    catalog.write(OPS_BATCHES, _batches("b2", ["f3"]), commit)
    for _ in range(2):
        catalog.write(OPS_BATCHES, _batches("b1", ["f9"]), commit, replace={"batch_id": "b1"})
    latest = catalog.read(OPS_BATCHES, where={"batch_id": "b1"})
    assert latest["file_uri"].to_pylist() == ["f9"]
    assert catalog.count(OPS_BATCHES, 3, where={"batch_id": "b2"}) == 1
    pinned = catalog.read(OPS_BATCHES, 1, where={"batch_id": "b1"})
    assert sorted(pinned["file_uri"].to_pylist()) == ["f1", "f2"]


def test_write_refuses_unsafe_predicate_values(catalog: Catalog, commit: CommitInfo) -> None:
    with pytest.raises(ValueError, match="unexpected characters"):
        catalog.write(OPS_BATCHES, _batches("x", ["f"]), commit, replace={"batch_id": "x' OR 1=1"})
    assert sql_literal("b20261127T000000Z-abc123") == "'b20261127T000000Z-abc123'"


def test_write_conforms_column_order(catalog: Catalog, commit: CommitInfo) -> None:
    table = _batches("b1", ["f1"])
    shuffled = table.select(list(reversed(table.column_names)))
    catalog.write(OPS_BATCHES, shuffled, commit)
    assert catalog.read(OPS_BATCHES).column_names == OPS_BATCHES.schema.names


def test_write_with_wrong_columns_fails_without_a_new_version(
    catalog: Catalog, commit: CommitInfo
) -> None:
    catalog.write(OPS_BATCHES, _batches("b1", ["f1"]), commit)
    with pytest.raises(KeyError):
        catalog.write(OPS_LEDGER, pa.table({"stage": ["x"]}), commit)
    assert catalog.version(OPS_LEDGER) is None
    assert catalog.version(OPS_BATCHES) == 0


def test_write_returns_its_own_commit_even_after_a_later_writer(
    catalog: Catalog, commit: CommitInfo
) -> None:
    first = catalog.write(OPS_BATCHES, _batches("b1", ["f1"]), commit)
    other = CommitInfo("run-other", "register", "c" * 64, "1.0")
    catalog.write(OPS_BATCHES, _batches("b2", ["f2"]), other)
    assert catalog._committed_version(OPS_BATCHES, commit) == first == 0
    with pytest.raises(RuntimeError, match="left no commit"):
        catalog._committed_version(OPS_BATCHES, CommitInfo("never", "x", "d" * 64, "1.0"))
