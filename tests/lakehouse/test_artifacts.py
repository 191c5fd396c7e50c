import hashlib
from pathlib import Path

import pytest

from lakehouse.artifacts import (
    ArtifactError,
    current_model,
    model_version,
    promote_artifact,
    read_artifact,
    save_artifact,
    trained_artifact,
)


def test_an_artifact_is_stored_by_sha256_and_found_by_fingerprint_then_made_current(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "lake")
    data = b"head weights"
    artifact = save_artifact(root, "quality_classifier", data, fingerprint="f1")
    assert artifact.sha256 == hashlib.sha256(data).hexdigest() and artifact.size_bytes == 12
    assert artifact.uri == f"{root}/_models/quality_classifier/{artifact.sha256}.pt"
    assert trained_artifact(root, "quality_classifier", "f1") == artifact
    assert trained_artifact(root, "quality_classifier", "f2") is None
    assert current_model(root, "quality_classifier") is None
    record = {"training_set": {"bronze/documents": {"batches": {"b1": 3}}}, "auc": 0.9}
    promote_artifact(root, artifact, record)
    current = current_model(root, "quality_classifier")
    assert current is not None and current.artifact == artifact
    assert current.model_version == model_version(artifact.sha256) == artifact.sha256[:12]
    assert current.record == record
    assert current_model(root, "domain_classifier") is None
    assert read_artifact(artifact) == data

    # Training again on other data makes the new artifact current; the old one stays stored.
    newer = save_artifact(root, "quality_classifier", b"other weights", fingerprint="f2")
    promote_artifact(root, newer, {})
    current = current_model(root, "quality_classifier")
    assert current is not None and current.model_version == newer.sha256[:12]
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
