"""The lake's filesystems from its storage options, against a real S3 server (moto), and Delta
commits on S3 from concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.artifacts import ArtifactError, read_artifact, save_artifact
from lakehouse.catalog import Catalog, CommitInfo, StagedFiles, WrittenFile
from lakehouse.lineage import LakeFileTransport, read_events
from lakehouse.storage import arrow_filesystem, filesystem, fsspec_options
from lakehouse.tables import OPS_BATCHES, SILVER_SIGNALS
from tests.object_store import ObjectStore, object_store  # noqa: F401  (fixture)


@pytest.fixture
def s3_root(object_store: ObjectStore, request: pytest.FixtureRequest) -> Iterator[str]:  # noqa: F811
    """A fresh root on the S3 server, and FUNNEL_STORAGE_OPTIONS pointing at it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in object_store.environment().items():
            patch.setenv(name, value)
        yield f"s3://{object_store.bucket}/{request.node.name}"


def test_delta_rs_options_become_fsspec_arguments() -> None:
    options = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "aws_access_key_id": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",
    }
    assert fsspec_options("s3://bucket/lake", options) == {
        "key": "key",
        "secret": "secret",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    }
    assert fsspec_options("gs://bucket/lake", {"GOOGLE_SERVICE_ACCOUNT": "/k.json"}) == {
        "token": "/k.json"
    }
    assert fsspec_options("az://container/lake", {"AZURE_STORAGE_ACCOUNT_NAME": "acct"}) == {
        "account_name": "acct"
    }
    assert fsspec_options("/data/lake", options) == {}


def test_both_filesystems_reach_the_server_with_the_options(
    object_store: ObjectStore,  # noqa: F811
) -> None:
    uri = f"s3://{object_store.bucket}/fs-test/part.parquet"
    files, path = filesystem(uri, object_store.storage_options)
    with files.open(path, "wb") as handle:
        pq.write_table(pa.table({"x": [1, 2, 3]}), handle)
    arrow, arrow_path = arrow_filesystem(uri, object_store.storage_options)
    assert pq.read_table(arrow.open_input_file(arrow_path))["x"].to_pylist() == [1, 2, 3]
    assert "fs-test/part.parquet" in object_store.keys("fs-test/")
    # Without the options nothing answers at that endpoint: no silent fallback to a local path.
    bare, _ = arrow_filesystem(uri, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", **_keys()})
    with pytest.raises(OSError):
        bare.open_input_file(arrow_path)


def _keys() -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def test_artifacts_and_lineage_files_live_on_the_object_store(
    s3_root: str,
    object_store: ObjectStore,  # noqa: F811
) -> None:
    artifact = save_artifact(s3_root, "quality_classifier", b"weights", "fp1")
    assert artifact.uri.startswith(f"{s3_root}/_models/quality_classifier/")
    assert read_artifact(artifact) == b"weights"
    files, path = filesystem(artifact.uri, object_store.storage_options)
    files.pipe_file(path, b"changed")
    with pytest.raises(ArtifactError, match="re-materialize quality_classifier"):
        read_artifact(artifact)

    transport = LakeFileTransport(f"{s3_root}/_lineage", object_store.storage_options)
    from lakehouse.lineage import Job, Run, RunEvent, RunState

    for state in (RunState.START, RunState.COMPLETE):
        transport.emit(
            RunEvent(
                eventType=state,
                eventTime=datetime.now(UTC).isoformat(),
                run=Run(runId="01890000-0000-7000-8000-000000000000"),
                job=Job(namespace="funnel", name="silver/documents"),
                producer="test",
            )
        )
    assert [event["eventType"] for event in read_events(s3_root)] == ["START", "COMPLETE"]


def _row(batch_id: str) -> pa.Table:
    registered = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "batch_id": batch_id,
                "source": "s",
                "file_uri": f"s3://landing/{batch_id}",
                "file_bytes": 1,
                "registered_at": registered,
            }
        ],
        schema=OPS_BATCHES.schema,
    )


def test_concurrent_writers_on_s3_never_lose_a_commit(
    s3_root: str,
    object_store: ObjectStore,  # noqa: F811
) -> None:
    """Eight writers append to one table at once: delta-rs writes each commit file with a
    conditional put (If-None-Match), so a writer that loses the race for a version number
    fails, reads the new version and tries again; every row and every version survives."""
    catalog = Catalog(s3_root)
    catalog.write(OPS_BATCHES, _row("b0"), CommitInfo("r0", "register", "0", "t"))
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            writer = Catalog(s3_root)
            commit = CommitInfo(f"r{index}", "register", "0", "t")
            writer.write(OPS_BATCHES, _row(f"b{index}"), commit)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(index,)) for index in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert catalog.version(OPS_BATCHES) == 8
    batch_ids = sorted(catalog.read(OPS_BATCHES)["batch_id"].to_pylist())
    assert batch_ids == sorted(f"b{index}" for index in range(9))
    assert sorted(entry.run_id for entry in catalog.history(OPS_BATCHES)) == sorted(
        f"r{index}" for index in range(9)
    )
    # The server refused the losers' commit files: 412 Precondition Failed on If-None-Match.
    log = f"{s3_root.split('://', 1)[1]}/ops/batches/_delta_log/"
    refused = [
        line
        for line in object_store.log.read_text().splitlines()
        if "PUT" in line and log in line and '" 412 ' in line
    ]
    assert refused


def test_staged_files_replace_one_partition_in_one_commit(
    s3_root: str,
    object_store: ObjectStore,  # noqa: F811
) -> None:
    catalog = Catalog(s3_root)
    commit = CommitInfo("r1", "clean", "0", "t")
    file_schema = pa.schema([field for field in SILVER_SIGNALS.schema if field.name != "batch_id"])

    def staged(batch_id: str, doc_ids: list[str]) -> StagedFiles:
        relative = f"batch_id={batch_id}/part-{'-'.join(doc_ids)}.parquet"
        rows = {field.name: pa.nulls(len(doc_ids), field.type) for field in file_schema} | {
            "doc_id": pa.array(doc_ids),
            "source": pa.array(["s"] * len(doc_ids)),
            "domain": pa.array(["d"] * len(doc_ids)),
            "text_chars": pa.array([1] * len(doc_ids), pa.int64()),
        }
        files, path = filesystem(
            f"{catalog.uri(SILVER_SIGNALS)}/{relative}", catalog.storage_options
        )
        with files.open(path, "wb") as handle:
            pq.write_table(pa.table(rows).select(file_schema.names).cast(file_schema), handle)
        size = files.size(path)
        return StagedFiles({"batch_id": batch_id}, [WrittenFile(relative, size, len(doc_ids), 0)])

    first = staged("a", ["d1", "d2"])
    catalog.write(SILVER_SIGNALS, first, commit, replace={"batch_id": "a"})
    assert first.committed
    catalog.write(SILVER_SIGNALS, staged("b", ["d3"]), commit, replace={"batch_id": "b"})
    catalog.write(SILVER_SIGNALS, staged("a", ["d4"]), commit, replace={"batch_id": "a"})
    rows = catalog.read(SILVER_SIGNALS, columns=["doc_id", "batch_id"]).to_pylist()
    assert sorted((row["batch_id"], row["doc_id"]) for row in rows) == [
        ("a", "d4"),
        ("b", "d3"),
    ]
    assert catalog.row_count(SILVER_SIGNALS) == 2
    with pytest.raises(ValueError, match="'source' is not a partition column"):
        catalog.write(SILVER_SIGNALS, staged("c", ["d5"]), commit, replace={"source": "s"})
