"""Tokenized exports of a release: where they live, what their manifest says, where a document is.

An export is a folder of shards of token ids written from one published release by one
tokenizer, in one format (`mds`, `megatron` or `jsonl`), in the document order a seed decides.
Next to each shard lies `<shard>.docs.parquet`: one row per document with its `doc_id`, its
position in the export's document order, and the token range it occupies in the shard
(`token_offset`, `tokens`), so any token range maps back to the documents it came from.

`export.json` is written last, once every shard is: its presence means the export is complete.
`progress.json` records the shards written so far, so a killed export resumes after the last
whole shard (serving/export.py writes both).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from lakehouse.storage import StorageConfigError, is_remote_uri

FORMATS = ("mds", "megatron", "jsonl")
MANIFEST_FILE = "export.json"
PROGRESS_FILE = "progress.json"
REGISTRY_FILE = "elsewhere.txt"  # exports written outside the lake's exports folder
DOC_INDEX_SUFFIX = ".docs.parquet"
DOC_INDEX_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("document", pa.int64()),  # position in the export's document order
        pa.field("token_offset", pa.int64()),  # first token of the document within the shard
        pa.field("tokens", pa.int64()),
    ]
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(RuntimeError):
    """An export that cannot be written or read as asked; the message says what to do."""


def exports_folder(root: str) -> Path:
    """Where exports live by default: `<root>/_exports` (a local root only)."""
    if is_remote_uri(root):
        raise StorageConfigError(
            f"FUNNEL_ROOT {root} is remote; give funnel export an --output folder on local disk"
        )
    return Path(root) / "_exports"


def default_export_folder(root: str, release: str, format: str, tokenizer: str, seed: int) -> Path:
    """`<root>/_exports/<release>/<format>-<tokenizer>-seed<seed>` (tokenizer name made safe)."""
    name = _SAFE_NAME.sub("_", Path(tokenizer).stem if "/" in tokenizer else tokenizer)
    return exports_folder(root) / release / f"{format}-{name}-seed{seed}"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of the complete export in `folder`, or None while it is not complete."""
    path = folder / MANIFEST_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text())


def register_export(root: str, folder: Path) -> None:
    """Remember an export written outside `<root>/_exports`, so `funnel trace` finds it too."""
    if is_remote_uri(root):
        return
    base = exports_folder(root)
    folder = folder.resolve()
    if folder.is_relative_to(base.resolve()):
        return
    registry = base / REGISTRY_FILE
    known = registry.read_text().splitlines() if registry.exists() else []
    if str(folder) not in known:
        base.mkdir(parents=True, exist_ok=True)
        with registry.open("a") as handle:
            handle.write(f"{folder}\n")


def completed_exports(root: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every complete export of the lake (under its exports folder, or registered there from
    elsewhere), with its manifest, by path."""
    if is_remote_uri(root):
        return
    base = exports_folder(root)
    if not base.exists():
        return
    folders = [path.parent for path in base.glob(f"*/*/{MANIFEST_FILE}")]
    registry = base / REGISTRY_FILE
    if registry.exists():
        folders += [Path(line) for line in registry.read_text().splitlines() if line]
    for folder in sorted(set(folders)):
        manifest = read_manifest(folder)
        if manifest is not None:
            yield folder, manifest


@dataclass(frozen=True)
class ExportLocation:
    """Where one document landed in one export."""

    folder: str
    release: str
    format: str
    tokenizer: str
    seed: int
    shard: str
    document: int
    token_offset: int
    tokens: int


def locate_document(folder: Path, manifest: dict[str, Any], doc_id: str) -> list[ExportLocation]:
    """The shard and token range of `doc_id` in the export in `folder` (empty if not in it)."""
    locations = []
    for shard in manifest["shards"]:
        index = folder / shard["doc_index"]
        rows = ds.dataset(str(index), format="parquet").to_table(
            filter=ds.field("doc_id") == doc_id
        )
        for row in rows.to_pylist():
            locations.append(
                ExportLocation(
                    folder=str(folder),
                    release=manifest["release"],
                    format=manifest["format"],
                    tokenizer=manifest["tokenizer"]["name"],
                    seed=manifest["seed"],
                    shard=shard["name"],
                    document=row["document"],
                    token_offset=row["token_offset"],
                    tokens=row["tokens"],
                )
            )
    return locations


def export_locations(root: str, doc_id: str) -> list[ExportLocation]:
    """Every complete export under the lake that holds `doc_id`: shard and token range."""
    return [
        location
        for folder, manifest in completed_exports(root)
        for location in locate_document(folder, manifest, doc_id)
    ]
