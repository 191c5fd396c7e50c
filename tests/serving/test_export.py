"""Tokenized export of a published release: read back by independent readers, deterministic
for a seed, resumable after a real SIGKILL, with a doc index mapping token ranges to doc ids."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import struct
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.exports import ExportError, export_locations, read_manifest
from lakehouse.releases import ReleaseNotFoundError, release_rows
from lakehouse.storage import PROJECT_DIR
from serving.export import (
    ExportRequest,
    bundled_tokenizer_path,
    export_release,
    resolve_tokenizer,
)
from tests.serving.published import publish

COMMIT = CommitInfo(run_id="test-run", stage="test", recipe_sha256="0" * 64, code_version="test")
MINILM = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Release `r1`: 85 documents over two candidate files."""
    catalog = Catalog(str(tmp_path_factory.mktemp("export") / "lake"))
    publish(catalog, COMMIT, "r1", [{"a": 30, "b": 20}, {"a": 10, "c": 25}])
    return catalog


@pytest.fixture(scope="module")
def byte_bpe(released: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer.json trained here on the release: it decodes losslessly."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(release_rows(released, "r1")["text"].to_pylist(), trainer)
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def request(output: Path, format: str, tokenizer: Path, **settings: int) -> ExportRequest:
    return ExportRequest(
        release="r1",
        format=format,
        tokenizer=tokenizer.name,
        tokenizer_path=tokenizer,
        output=output,
        **({"seed": 7, "shard_tokens": 120, "block_documents": 16} | settings),
    )


def release_texts(catalog: Catalog) -> dict[str, str]:
    rows = release_rows(catalog, "r1", ["doc_id", "text"])
    return dict(zip(rows["doc_id"].to_pylist(), rows["text"].to_pylist(), strict=True))


def read_megatron(prefix: Path) -> list[np.ndarray]:
    """An independent reader of Megatron-LM's indexed dataset (.idx/.bin), from its documented
    layout: header, version, dtype code, counts, lengths, pointers, document indices."""
    index = prefix.with_suffix(".idx").read_bytes()
    assert index[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack("<Q", index[9:17])
    (code,) = struct.unpack("<B", index[17:18])
    sequences, documents = struct.unpack("<QQ", index[18:34])
    assert version == 1
    dtype = np.dtype({1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 8: np.uint16}[code])
    offset = 34
    lengths = np.frombuffer(index, np.int32, sequences, offset)
    offset += 4 * sequences
    pointers = np.frombuffer(index, np.int64, sequences, offset)
    offset += 8 * sequences
    document_indices = np.frombuffer(index, np.int64, documents, offset)
    assert offset + 8 * documents == len(index)
    assert document_indices.tolist() == list(range(sequences + 1))  # one sequence per document
    data = np.memmap(prefix.with_suffix(".bin"), dtype=dtype, mode="r")
    assert data.size == int(lengths.sum())
    return [
        np.array(data[pointer // dtype.itemsize : pointer // dtype.itemsize + length])
        for pointer, length in zip(pointers, lengths, strict=True)
    ]


def streaming_local_dataset(folder: Path):  # type: ignore[no-untyped-def]
    """mosaicml-streaming's own `LocalDataset` over an MDS folder.

    The package's top-level `__init__` imports its vision and cloud modules (torchvision and
    cloud SDKs, whose pins fight this project's), so its reader modules are imported beneath
    stand-in parent packages instead; the reader code is the package's, unchanged.
    """
    if "streaming" not in sys.modules:
        spec = importlib.util.find_spec("streaming")
        if spec is None or not spec.submodule_search_locations:
            pytest.fail("mosaicml-streaming is not installed: run make install")
        location = Path(next(iter(spec.submodule_search_locations)))
        for name, path in (("streaming", location), ("streaming.base", location / "base")):
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
    from streaming.base.local import LocalDataset

    return LocalDataset(str(folder))


def exported_documents(folder: Path, manifest: dict) -> list[tuple[str, np.ndarray]]:
    """(doc_id, ids) of every document of an export, in order, read back per format by a reader
    that is not the writer: streaming's for MDS, the one above for Megatron, json for JSONL."""
    documents: list[tuple[str, np.ndarray]] = []
    doc_ids = [
        doc_id
        for shard in manifest["shards"]
        for doc_id in pq.read_table(folder / shard["doc_index"])["doc_id"].to_pylist()
    ]
    if manifest["format"] == "mds":
        dataset = streaming_local_dataset(folder)
        samples = [dataset[index] for index in range(len(dataset))]
        documents = [(sample["doc_id"], sample["input_ids"]) for sample in samples]
        assert [doc_id for doc_id, _ in documents] == doc_ids
    elif manifest["format"] == "megatron":
        ids = [
            values
            for shard in manifest["shards"]
            for values in read_megatron(folder / shard["name"])
        ]
        documents = list(zip(doc_ids, ids, strict=True))
    else:
        for shard in manifest["shards"]:
            for line in (folder / f"{shard['name']}.jsonl").read_text().splitlines():
                record = json.loads(line)
                documents.append((record["doc_id"], np.array(record["input_ids"])))
        assert [doc_id for doc_id, _ in documents] == doc_ids
    return documents


@pytest.mark.parametrize("format", ["mds", "megatron", "jsonl"])
def test_shards_decode_back_to_the_release_text(
    released: Catalog, byte_bpe: Path, tmp_path: Path, format: str
) -> None:
    manifest = export_release(released, request(tmp_path, format, byte_bpe))
    texts = release_texts(released)
    documents = exported_documents(tmp_path, manifest)
    tokenizer = Tokenizer.from_file(str(byte_bpe))
    assert sorted(doc_id for doc_id, _ in documents) == sorted(texts)
    for doc_id, ids in documents:
        assert tokenizer.decode(ids.tolist()) == texts[doc_id]
    assert manifest["documents"] == len(texts) and manifest["dtype"] == "uint16"
    assert manifest["tokens"] == sum(len(ids) for _, ids in documents)
    assert len(manifest["shards"]) > 3  # 120-token shards: the release spans several


def test_bundled_tokenizer_gives_what_it_encodes(released: Catalog, tmp_path: Path) -> None:
    """all-MiniLM's WordPiece lowercases, so the round trip is decode(encode(text))."""
    path = resolve_tokenizer(MINILM, {}, tmp_path)
    assert path == bundled_tokenizer_path(MINILM) and path.is_file()
    manifest = export_release(released, request(tmp_path / "out", "megatron", path))
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()  # the package's file pads to 128 for the encoder; text is not padded
    tokenizer.no_truncation()
    texts = release_texts(released)
    for doc_id, ids in exported_documents(tmp_path / "out", manifest):
        expected = tokenizer.encode(texts[doc_id], add_special_tokens=False).ids
        assert ids.tolist() == expected


def test_doc_index_maps_every_token_range_to_its_document(
    released: Catalog, byte_bpe: Path, tmp_path: Path
) -> None:
    manifest = export_release(released, request(tmp_path, "megatron", byte_bpe))
    positions = []
    for shard in manifest["shards"]:
        index = pq.read_table(tmp_path / shard["doc_index"]).to_pylist()
        sequences = read_megatron(tmp_path / shard["name"])
        offset = 0
        for row, ids in zip(index, sequences, strict=True):
            assert (row["token_offset"], row["tokens"]) == (offset, len(ids))
            offset += len(ids)
            positions.append(row["document"])
        assert offset == shard["tokens"]
    assert positions == list(range(manifest["documents"]))
    some = pq.read_table(tmp_path / manifest["shards"][2]["doc_index"]).to_pylist()[0]
    # Trace finds exports under the lake's exports folder; this one lies elsewhere.
    assert export_locations(released.root, some["doc_id"]) == []


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.name != "progress.json"
    }


def test_the_same_seed_gives_identical_shards_another_seed_another_order(
    released: Catalog, byte_bpe: Path, tmp_path: Path
) -> None:
    export_release(released, request(tmp_path / "a", "mds", byte_bpe))
    export_release(released, request(tmp_path / "b", "mds", byte_bpe))
    other = export_release(released, request(tmp_path / "c", "mds", byte_bpe, seed=8))
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    first = [doc for doc, _ in exported_documents(tmp_path / "a", read_manifest(tmp_path / "a"))]
    second = [doc for doc, _ in exported_documents(tmp_path / "c", other)]
    assert first != second and sorted(first) == sorted(second)


@pytest.mark.slow
def test_an_export_killed_midway_resumes_to_identical_shards(
    tmp_path: Path, byte_bpe: Path
) -> None:
    """A real process killed with SIGKILL after some shards; the rerun finishes the export and
    every file equals an uninterrupted export's."""
    catalog = Catalog(str(tmp_path / "lake"))
    publish(catalog, COMMIT, "r1", [{"a": 3000, "b": 3000}, {"c": 3000}])
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    script = (
        "import sys; from pathlib import Path; from lakehouse.catalog import Catalog; "
        "from serving.export import ExportRequest, export_release; "
        "export_release(Catalog(sys.argv[1]), ExportRequest('r1', 'megatron', 'tokenizer.json', "
        "Path(sys.argv[2]), Path(sys.argv[3]), seed=3, shard_tokens=400, block_documents=64))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, catalog.root, str(byte_bpe), str(killed)],
        cwd=PROJECT_DIR,
        env=os.environ | {"PYTHONPATH": str(PROJECT_DIR)},
    )
    progress = killed / "progress.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if progress.exists() and len(json.loads(progress.read_text())["shards"]) >= 10:
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (killed / "export.json").exists(), "the export finished before it was killed"
    done_before = len(json.loads(progress.read_text())["shards"])
    settings = {"seed": 3, "shard_tokens": 400, "block_documents": 64}
    resumed = export_release(catalog, request(killed, "megatron", byte_bpe, **settings))
    export_release(catalog, request(whole, "megatron", byte_bpe, **settings))
    assert len(resumed["shards"]) > done_before
    assert resumed["documents"] == 9000
    assert _digests(killed) == _digests(whole)


def test_a_different_export_in_the_same_folder_is_refused(
    released: Catalog, byte_bpe: Path, tmp_path: Path
) -> None:
    export_release(released, request(tmp_path, "jsonl", byte_bpe))
    files = _digests(tmp_path)
    with pytest.raises(ExportError, match=r"holds a different export \(seed 7 there, 8 now\)"):
        export_release(released, request(tmp_path, "jsonl", byte_bpe, seed=8))
    assert _digests(tmp_path) == files  # nothing overwritten


def test_bad_requests_fail_with_one_line_naming_the_fix(
    released: Catalog, byte_bpe: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"unknown tokenizer 'gpt9'.*export\.tokenizers"):
        resolve_tokenizer("gpt9", {"mine": "tok.json"}, tmp_path)
    assert resolve_tokenizer("mine", {"mine": "tok.json"}, tmp_path) == tmp_path / "tok.json"
    with pytest.raises(ExportError, match="unknown format 'parquet': use one of mds, megatron"):
        export_release(released, request(tmp_path, "parquet", byte_bpe))
    with pytest.raises(ReleaseNotFoundError, match="no release named 'r2'; published: r1"):
        export_release(released, ExportRequest("r2", "mds", "bpe", byte_bpe, tmp_path / "x"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ExportError, match=r"cannot load tokenizer .*broken.json"):
        export_release(released, request(tmp_path / "y", "mds", broken))
    assert not (tmp_path / "y" / "export.json").exists()
