"""Model artifacts under the data root, addressed by their sha256.

A trained head is a file `<root>/_models/<name>/<sha256>.pt`. Two small JSON pointers make it
findable: `trained/<fingerprint>.json` (the training set and settings that produced it, so the
same training is never repeated) and `current.json` (the model every scoring run uses until the
training asset is materialized again, with its model version, training set and metrics).
Every read checks the bytes against the sha256.
On an object-store root the files are objects, reached with the lake's storage options
(`FUNNEL_STORAGE_OPTIONS` unless given).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lakehouse.storage import filesystem, resolve_root, storage_options_from_env

ARTIFACTS_FOLDER = "_models"
CURRENT_POINTER = "current.json"
MODEL_VERSION_DIGITS = 12


class ArtifactError(RuntimeError):
    """An artifact that is missing or whose bytes do not match its recorded sha256."""


@dataclass(frozen=True)
class Artifact:
    """One stored artifact: what it is, its content hash and where it lives."""

    name: str
    sha256: str
    uri: str
    size_bytes: int


def _folder(root: str, name: str) -> str:
    return f"{resolve_root(root)}/{ARTIFACTS_FOLDER}/{name}"


Options = Mapping[str, str] | None


def _options(storage_options: Options) -> Mapping[str, str]:
    return storage_options_from_env() if storage_options is None else storage_options


def _write(uri: str, data: bytes, storage_options: Options) -> None:
    files, path = filesystem(uri, _options(storage_options))
    files.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with files.open(path, "wb") as handle:
        handle.write(data)


def _read(uri: str, storage_options: Options) -> bytes | None:
    files, path = filesystem(uri, _options(storage_options))
    if not files.exists(path):
        return None
    with files.open(path, "rb") as handle:
        return handle.read()


def _pointer(uri: str, storage_options: Options) -> Artifact | None:
    data = _read(uri, storage_options)
    return Artifact(**json.loads(data)) if data is not None else None


def save_artifact(
    root: str, name: str, data: bytes, fingerprint: str, storage_options: Options = None
) -> Artifact:
    """Store `data` as artifact `name` (content-addressed) and remember its training fingerprint."""
    sha256 = hashlib.sha256(data).hexdigest()
    artifact = Artifact(name, sha256, f"{_folder(root, name)}/{sha256}.pt", len(data))
    if _read(artifact.uri, storage_options) is None:
        _write(artifact.uri, data, storage_options)
    pointer = json.dumps(asdict(artifact)).encode()
    _write(f"{_folder(root, name)}/trained/{fingerprint}.json", pointer, storage_options)
    return artifact


def trained_artifact(
    root: str, name: str, fingerprint: str, storage_options: Options = None
) -> Artifact | None:
    """The artifact an identical training produced before, if its file is still there."""
    artifact = _pointer(f"{_folder(root, name)}/trained/{fingerprint}.json", storage_options)
    if artifact is None or _read(artifact.uri, storage_options) is None:
        return None
    return artifact


def model_version(sha256: str) -> str:
    """The short model version of an artifact: the first 12 hex digits of its sha256."""
    return sha256[:MODEL_VERSION_DIGITS]


@dataclass(frozen=True)
class CurrentModel:
    """The model scoring runs use: the artifact, its version and the training record."""

    artifact: Artifact
    model_version: str
    record: dict[str, Any]


def promote_artifact(
    root: str, artifact: Artifact, record: Mapping[str, Any], storage_options: Options = None
) -> CurrentModel:
    """Make `artifact` the current model `artifact.name`; `record` says what it learnt from."""
    current = CurrentModel(artifact, model_version(artifact.sha256), dict(record))
    data = {"artifact": asdict(artifact), "model_version": current.model_version}
    data["record"] = current.record
    _write(
        f"{_folder(root, artifact.name)}/{CURRENT_POINTER}",
        json.dumps(data, sort_keys=True, default=str).encode(),
        storage_options,
    )
    return current


def current_model(root: str, name: str, storage_options: Options = None) -> CurrentModel | None:
    """The current model `name`, or None while it has never been trained."""
    data = _read(f"{_folder(root, name)}/{CURRENT_POINTER}", storage_options)
    if data is None:
        return None
    saved = json.loads(data)
    return CurrentModel(Artifact(**saved["artifact"]), saved["model_version"], saved["record"])


def read_artifact(artifact: Artifact, storage_options: Options = None) -> bytes:
    """The artifact's bytes, after checking them against its sha256."""
    data = _read(artifact.uri, storage_options)
    if data is None:
        raise ArtifactError(f"artifact {artifact.name} is missing at {artifact.uri}")
    found = hashlib.sha256(data).hexdigest()
    if found != artifact.sha256:
        raise ArtifactError(
            f"artifact {artifact.name} at {artifact.uri} has sha256 {found}, recorded "
            f"{artifact.sha256}; it was changed after training: re-materialize {artifact.name}"
        )
    return data
