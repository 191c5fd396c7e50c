"""Ingestion batches: each new set of landing files becomes one batch, recorded in `ops/batches`.

A batch id sorts by registration time and names its file set: `b20261127T052800Z-3f2a9c`.
Files already in some batch are never registered again, so landing can be polled as often as liked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import LoadedRecipe, SourceConfig
from lakehouse.storage import filesystem, storage_options_from_env
from lakehouse.tables import OPS_BATCHES

BATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class BatchError(ValueError):
    """A batch id that is malformed or unknown."""


@dataclass(frozen=True)
class LandingFile:
    """One file in landing and the recipe source it belongs to."""

    source: str
    uri: str
    size: int | None
    sha256: str | None = None
    """Content hash recorded when the file was registered (None for files not registered)."""


_HASH_BLOCK = 4 * 1024 * 1024
# Quarantine reasons of a registered file that is gone or was changed in place.
FILE_MISSING = "file_missing"
FILE_CHANGED = "file_changed"


def content_sha256(uri: str) -> str:
    """sha256 of a file's bytes, read in blocks (any fsspec URI)."""
    digest = hashlib.sha256()
    files, path = filesystem(uri, storage_options_from_env())
    with files.open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_state(uri: str) -> tuple[int, float | None] | None:
    """(size, modification time) of a file as it is now; None when it is gone."""
    try:
        files, path = filesystem(uri, storage_options_from_env())
        info = files.info(path)
    except FileNotFoundError:
        return None
    modified = info.get("mtime") or info.get("LastModified")
    return int(info.get("size") or 0), getattr(modified, "timestamp", lambda: modified)()


def landing_change(landing_file: LandingFile) -> tuple[str, str] | None:
    """(reason, detail) when a registered file is gone or no longer what was registered.

    Reasons: `file_missing`, `file_changed` (size or content differ from registration).
    """
    try:
        files, path = filesystem(landing_file.uri, storage_options_from_env())
        size = files.size(path)
    except FileNotFoundError:
        return FILE_MISSING, "the file was registered but is gone; land it again as a new file"
    if landing_file.size is not None and size != landing_file.size:
        return FILE_CHANGED, (
            f"registered with {landing_file.size} bytes, now {size}: land a corrected file under "
            "a new name instead of editing one in place"
        )
    if landing_file.sha256 is not None and content_sha256(landing_file.uri) != landing_file.sha256:
        return FILE_CHANGED, (
            "content differs from the sha256 recorded at registration: land a corrected file "
            "under a new name instead of editing one in place"
        )
    return None


def validate_batch_id(batch_id: str) -> str:
    """`batch_id` if it is well formed; BatchError otherwise."""
    if not BATCH_ID_PATTERN.match(batch_id):
        raise BatchError(
            f"batch id {batch_id!r} is malformed: use letters, digits, '.', '_' or '-' (≤ 128)"
        )
    return batch_id


def _file_uri(protocol: str | tuple[str, ...], path: str) -> str:
    scheme = protocol if isinstance(protocol, str) else protocol[0]
    return path if scheme in ("file", "local") else f"{scheme}://{path}"


def source_files(loaded: LoadedRecipe, source: SourceConfig) -> list[LandingFile]:
    """Files currently matching a source's glob, sorted by URI."""
    pattern = loaded.source_glob(source)
    files, path_pattern = filesystem(pattern, storage_options_from_env())
    found = []
    for path, info in sorted(files.glob(path_pattern, detail=True).items()):
        if info.get("type") == "directory":
            continue
        loaded.check_inside_root(source, path)
        found.append(LandingFile(source.name, _file_uri(files.protocol, path), info.get("size")))
    return found


def landing_files(loaded: LoadedRecipe) -> list[LandingFile]:
    """Every file in landing that some recipe source claims (first source wins on overlap)."""
    claimed: dict[str, LandingFile] = {}
    for source in loaded.recipe.sources:
        for landing_file in source_files(loaded, source):
            claimed.setdefault(landing_file.uri, landing_file)
    return sorted(claimed.values(), key=lambda landing_file: landing_file.uri)


def new_batch_id(files: Iterable[LandingFile], now: datetime) -> str:
    """A batch id from the registration time and a digest of the file set."""
    digest = hashlib.sha256("\n".join(sorted(f.uri for f in files)).encode()).hexdigest()
    return f"b{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest[:6]}"


def registered_files(catalog: Catalog, batch_id: str | None = None) -> list[LandingFile]:
    """Files recorded in `ops/batches`, for one batch or all."""
    where = {"batch_id": batch_id} if batch_id else None
    rows = catalog.read(OPS_BATCHES, where=where).to_pylist()
    files = [
        LandingFile(row["source"], row["file_uri"], row["file_bytes"], row.get("file_sha256"))
        for row in rows
    ]
    return sorted(files, key=lambda landing_file: landing_file.uri)


def batch_ids(catalog: Catalog) -> list[str]:
    """Every registered batch id, oldest first."""
    table = catalog.read(OPS_BATCHES, columns=["batch_id"])
    return sorted(set(table["batch_id"].to_pylist()))


def batch_files(catalog: Catalog, batch_id: str) -> list[LandingFile]:
    """The files of a registered batch; BatchError naming known batches if it is unknown."""
    validate_batch_id(batch_id)
    files = registered_files(catalog, batch_id)
    if not files:
        known = ", ".join(batch_ids(catalog)[-5:]) or "none yet"
        raise BatchError(f"no batch {batch_id!r} is registered (latest: {known})")
    return files


def register_new_batch(
    catalog: Catalog, loaded: LoadedRecipe, commit: CommitInfo, now: datetime | None = None
) -> str | None:
    """Record landing files not yet in any batch as a new batch; its id, or None if none are new."""
    known = {landing_file.uri for landing_file in registered_files(catalog)}
    fresh = [f for f in landing_files(loaded) if f.uri not in known]
    if not fresh:
        return None
    registered_at = now or datetime.now(UTC)
    batch_id = new_batch_id(fresh, registered_at)
    rows = [
        {
            "batch_id": batch_id,
            "source": landing_file.source,
            "file_uri": landing_file.uri,
            "file_bytes": landing_file.size,
            "file_sha256": content_sha256(landing_file.uri),
            "registered_at": registered_at,
        }
        for landing_file in fresh
    ]
    catalog.write(OPS_BATCHES, pa.Table.from_pylist(rows, schema=OPS_BATCHES.schema), commit)
    return batch_id
