import hashlib

import pyarrow as pa
import pytest
import torch

from gpu_jobs.heads import (
    NEGATIVE,
    REFERENCE,
    HeadArtifactError,
    HeadTrainingError,
    TrainingSet,
    domain_labels,
    domain_training_set,
    expected_calibration_error,
    head_bytes,
    held_out_split,
    load_head,
    quality_metrics,
    quality_scores,
    quality_training_set,
    roc_auc,
    train_head,
)
from lakehouse.recipe import DomainHeadConfig, QualityHeadConfig


def two_groups(count: int = 40) -> tuple[torch.Tensor, list[str]]:
    """Unit vectors around two directions, labelled by direction."""
    generator = torch.Generator().manual_seed(1)
    left = torch.zeros(384)
    left[0] = 1
    right = torch.zeros(384)
    right[1] = 1
    points = torch.cat(
        [
            left + 0.1 * torch.randn(count, 384, generator=generator),
            right + 0.1 * torch.randn(count, 384, generator=generator),
        ]
    )
    return torch.nn.functional.normalize(points, dim=1), ["left"] * count + ["right"] * count


def train(embeddings: torch.Tensor, labels: list[str], hidden: int = 0, seed: int = 0):  # type: ignore[no-untyped-def]
    return train_head(
        "test_head",
        embeddings,
        labels,
        encoder="enc",
        epochs=60,
        learning_rate=0.05,
        hidden=hidden,
        seed=seed,
    )


@pytest.mark.parametrize("hidden", [0, 16])
def test_a_head_learns_separable_classes(hidden: int) -> None:
    embeddings, labels = two_groups()
    head = train(embeddings, labels, hidden)
    predicted, probability = domain_labels(head, embeddings)
    assert predicted == labels
    assert probability.dtype == torch.float64 and float(probability.min()) > 0.5
    assert head.classes == ["left", "right"] and head.training["class_left"] == 40


def test_training_is_reproducible_bit_for_bit() -> None:
    embeddings, labels = two_groups()
    first, second = train(embeddings, labels), train(embeddings, labels)
    assert head_bytes(first) == head_bytes(second)
    other_seed = train(embeddings, labels, seed=1)
    assert head_bytes(other_seed) != head_bytes(first)


def test_a_saved_head_loads_only_with_its_sha256() -> None:
    embeddings, labels = two_groups()
    data = head_bytes(train(embeddings, labels))
    loaded = load_head(data, hashlib.sha256(data).hexdigest())
    assert loaded.classes == ["left", "right"] and loaded.encoder == "enc"
    assert domain_labels(loaded, embeddings)[0] == labels
    with pytest.raises(HeadArtifactError, match="re-materialize the head asset"):
        load_head(data, "0" * 64)
    with pytest.raises(HeadArtifactError, match="not a saved head"):
        load_head(b"not a torch file")


def test_quality_scores_are_the_reference_probability() -> None:
    embeddings, labels = two_groups()
    names = [REFERENCE if label == "left" else NEGATIVE for label in labels]
    scores = quality_scores(train(embeddings, names), embeddings)
    assert float(scores[:40].min()) > 0.5 > float(scores[40:].max())
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1


def test_a_head_needs_two_classes_and_one_label_per_embedding() -> None:
    embeddings, labels = two_groups()
    with pytest.raises(HeadTrainingError, match="needs two classes"):
        train(embeddings, ["left"] * len(labels))
    with pytest.raises(HeadTrainingError, match="80 embeddings but 79 labels"):
        train(embeddings, labels[:-1])


def bronze(sources: list[str], domains: list[str] | None = None) -> pa.Table:
    columns = {"doc_id": [f"doc{i:03d}" for i in range(len(sources))], "source": sources}
    if domains is not None:
        columns["domain"] = domains
    return pa.table(columns)


def test_quality_training_set_samples_references_and_other_documents() -> None:
    documents = bronze(["ref"] * 30 + ["web"] * 70)
    config = QualityHeadConfig(reference_sources=["ref"], max_references=10, negative_samples=50)
    training = quality_training_set(documents, config)
    positives = [
        d for d, label in zip(training.doc_ids, training.labels, strict=True) if label == REFERENCE
    ]
    negatives = [
        d for d, label in zip(training.doc_ids, training.labels, strict=True) if label == NEGATIVE
    ]
    assert len(positives) == 10 and len(negatives) == 50
    assert all(int(doc_id[3:]) < 30 for doc_id in positives)
    assert not set(positives) & set(negatives)
    assert quality_training_set(documents, config) == training
    reseeded = quality_training_set(documents, config.model_copy(update={"seed": 5}))
    assert reseeded.doc_ids != training.doc_ids


def test_quality_training_set_without_references_says_what_to_fix() -> None:
    config = QualityHeadConfig(reference_sources=["missing"])
    with pytest.raises(HeadTrainingError, match=r"score\.quality\.reference_sources"):
        quality_training_set(bronze(["web"] * 5), config)


def test_too_few_references_fail_the_training_set_saying_how_many() -> None:
    config = QualityHeadConfig(reference_sources=["ref"], min_references=3)
    with pytest.raises(HeadTrainingError, match=r"only 2 bronze documents .*min_references \(3\)"):
        quality_training_set(bronze(["ref", "ref", "web", "web"]), config)
    assert (
        quality_training_set(bronze(["ref"] * 3 + ["web"]), config).labels.count("reference") == 3
    )


def test_domain_training_set_caps_each_domain() -> None:
    documents = bronze(["a"] * 50 + ["b"] * 5, ["code"] * 50 + ["legal"] * 5)
    training = domain_training_set(documents, DomainHeadConfig(samples_per_domain=8))
    assert sorted(training.labels) == ["code"] * 8 + ["legal"] * 5
    assert training.fingerprint("x") == domain_training_set(
        documents, DomainHeadConfig(samples_per_domain=8)
    ).fingerprint("x")
    assert training.fingerprint("x") != training.fingerprint("y")
    with pytest.raises(HeadTrainingError, match="at least two domains"):
        domain_training_set(bronze(["a"] * 3, ["code"] * 3), DomainHeadConfig())


def test_roc_auc_counts_ordered_pairs_and_half_of_ties() -> None:
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    # Pairs (0.6 > 0.5), (0.6 > 0.6: tie, one half), (0.4 < 0.5), (0.4 < 0.6): 1.5 of 4.
    assert roc_auc([0.6, 0.4, 0.5, 0.6], [True, True, False, False]) == pytest.approx(0.375)
    assert roc_auc([0.6, 0.4], [True, True]) is None


def test_expected_calibration_error_weights_each_bin_by_its_documents() -> None:
    # A perfectly calibrated bin: four predictions of 0.25, one positive of four.
    assert expected_calibration_error([0.25] * 4, [True, False, False, False]) == 0.0
    # Bin 0.9-1.0: predictions 0.95, none positive (error 0.95); bin 0.0-0.1: 0.05, all
    # positive (error 0.95); both hold two documents.
    ece = expected_calibration_error([0.95, 0.95, 0.05, 0.05], [False, False, True, True])
    assert ece == pytest.approx(0.95)
    # A score of exactly 1.0 falls in the last bin, not outside.
    assert expected_calibration_error([1.0], [True]) == 0.0
    assert expected_calibration_error([], []) is None


def test_held_out_split_keeps_every_class_on_both_sides_and_is_seeded() -> None:
    ids = [f"d{i}" for i in range(12)]
    labels = [REFERENCE] * 2 + [NEGATIVE] * 10
    training = TrainingSet(ids, labels)
    fit, held = held_out_split(training, 0.2, seed=3)
    assert sorted(fit.doc_ids + held.doc_ids) == sorted(ids)
    assert not set(fit.doc_ids) & set(held.doc_ids)
    assert held.labels.count(REFERENCE) == 1 and fit.labels.count(REFERENCE) == 1
    assert held.labels.count(NEGATIVE) == 2 and fit.labels.count(NEGATIVE) == 8
    assert held_out_split(training, 0.2, seed=3) == (fit, held)
    assert held_out_split(training, 0.2, seed=4)[1].doc_ids != held.doc_ids
    # A class with one example stays in training: a head cannot learn a class it never saw.
    single = TrainingSet(["a", "b", "c"], [REFERENCE, NEGATIVE, NEGATIVE])
    fit, held = held_out_split(single, 0.5, seed=0)
    assert REFERENCE in fit.labels and REFERENCE not in held.labels


def test_quality_metrics_measure_the_held_out_and_the_unseen_rows() -> None:
    embeddings, labels = two_groups()
    labels = [REFERENCE if label == "left" else NEGATIVE for label in labels]
    head = train(embeddings, labels)
    metrics = quality_metrics(head, embeddings, labels, embeddings, unseen_positives=40)
    assert metrics["held_out_documents"] == 80 and metrics["held_out_positives"] == 40
    assert metrics["held_out_auc"] == 1.0 and metrics["unseen_source_auc"] == 1.0
    assert 0 <= metrics["held_out_ece"] < 0.5
    assert (metrics["unseen_prose"], metrics["unseen_junk"]) == (40, 40)
    # Labels swapped: the references are the right-hand group, which the head scores low.
    swapped = [NEGATIVE if label == REFERENCE else REFERENCE for label in labels]
    assert quality_metrics(head, embeddings, swapped, embeddings[:0], 0)["held_out_auc"] == 0.0
    empty = quality_metrics(head, embeddings[:0], [], embeddings[:0], 0)
    assert empty["held_out_auc"] is None and "unseen_source_auc" not in empty
