import hashlib
from pathlib import Path

import pytest

from lakehouse.artifacts import (
    ArtifactError,
    pin_artifact,
    pinned_artifact,
    read_artifact,
    save_artifact,
    trained_artifact,
)


def test_an_artifact_is_stored_by_sha256_and_found_by_fingerprint_and_batch(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "lake")
    data = b"head weights"
    artifact = save_artifact(root, "quality_classifier", data, fingerprint="f1")
    assert artifact.sha256 == hashlib.sha256(data).hexdigest() and artifact.size_bytes == 12
    assert artifact.uri == f"{root}/_models/quality_classifier/{artifact.sha256}.pt"
    assert trained_artifact(root, "quality_classifier", "f1") == artifact
    assert trained_artifact(root, "quality_classifier", "f2") is None
    assert pinned_artifact(root, "quality_classifier", "b1") is None
    pin_artifact(root, "b1", artifact)
    assert pinned_artifact(root, "quality_classifier", "b1") == artifact
    assert read_artifact(artifact) == data


def test_a_changed_or_missing_artifact_is_refused(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    artifact = save_artifact(root, "domain_classifier", b"weights", fingerprint="f")
    Path(artifact.uri).write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="changed after training: re-materialize"):
        read_artifact(artifact)
    Path(artifact.uri).unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        read_artifact(artifact)
    assert trained_artifact(root, "domain_classifier", "f") is None
