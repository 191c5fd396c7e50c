"""Classifier heads on sentence embeddings, trained in-project with torch.

`quality_classifier` follows DCLM: documents of the recipe's reference sources are positives, a
seeded sample of the other bronze documents the negatives; its score is the probability of
"reference".
`domain_classifier` learns the source domains, so documents of mixed sources (web crawls) get a
domain for mixing. Both are a logistic regression (or a one-hidden-layer MLP) trained full-batch
on the CPU from a fixed seed, so the same training set gives the same bytes; a trained head is
saved as a small torch file whose sha256 identifies it.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import torch
import torch.nn.functional as F

from gpu_jobs.encoder import EMBEDDING_DIM
from lakehouse.recipe import DomainHeadConfig, QualityHeadConfig

QUALITY_CLASSIFIER = "quality_classifier"
DOMAIN_CLASSIFIER = "domain_classifier"
REFERENCE = "reference"
NEGATIVE = "sampled"


class HeadTrainingError(ValueError):
    """The training set of a head cannot train it (a class without examples, unknown sources)."""


class HeadArtifactError(ValueError):
    """A saved head whose bytes do not match the sha256 recorded for it, or are not a head."""


@dataclass(frozen=True)
class TrainingSet:
    """Documents (by doc_id) and the label each one teaches a head."""

    doc_ids: list[str]
    labels: list[str]

    def fingerprint(self, settings: str) -> str:
        """sha256 of the documents, labels and training settings: same value, same head."""
        digest = hashlib.sha256(settings.encode())
        for doc_id, label in zip(self.doc_ids, self.labels, strict=True):
            digest.update(f"\n{doc_id}\t{label}".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class TrainedHead:
    """A trained classifier head: its classes, weights and what it was trained on."""

    name: str
    classes: list[str]
    hidden: int
    state: dict[str, torch.Tensor]
    encoder: str
    training: dict[str, int | float | str | None] = field(default_factory=dict)

    def module(self) -> torch.nn.Module:
        """The head as a torch module with its trained weights, in eval mode."""
        module = _head_module(len(self.classes), self.hidden)
        module.load_state_dict(self.state)
        return module.eval()

    def probabilities(self, embeddings: torch.Tensor) -> torch.Tensor:
        """float64 (documents, classes): softmax of the head on the embeddings."""
        module = self.module().to(embeddings.device)
        with torch.inference_mode():
            logits = module(embeddings.to(torch.float32))
        return torch.softmax(logits.to(torch.float64), dim=-1).cpu()


def seeded_order(doc_ids: Sequence[str], seed: int) -> list[int]:
    """Indices of `doc_ids` in a pseudo-random order fixed by the seed and the ids alone."""
    keys = [hashlib.sha256(f"{seed}:{doc_id}".encode()).digest() for doc_id in doc_ids]
    return sorted(range(len(doc_ids)), key=lambda index: keys[index])


def quality_training_set(documents: pa.Table, config: QualityHeadConfig) -> TrainingSet:
    """References (positives) and sampled other bronze documents (negatives) from `documents`.

    `documents` has `doc_id` and `source`. Negatives come from outside the reference sources,
    so no reference-like document teaches the head that it is not one.
    """
    doc_ids = documents["doc_id"].to_pylist()
    sources = documents["source"].to_pylist()
    references = set(config.reference_sources)
    order = seeded_order(doc_ids, config.seed)
    positives = [index for index in order if sources[index] in references][: config.max_references]
    if not positives:
        raise HeadTrainingError(
            f"no bronze document comes from the reference sources {sorted(references)}; "
            "name sources of the recipe that have been ingested in score.quality.reference_sources"
        )
    if len(positives) < config.min_references:
        raise HeadTrainingError(
            f"only {len(positives)} bronze documents come from the reference sources "
            f"{sorted(references)}, fewer than score.quality.min_references "
            f"({config.min_references}); ingest more reference documents"
        )
    negatives = [
        index
        for index in seeded_order(doc_ids, config.seed + 1)
        if sources[index] not in references
    ][: config.negative_samples]
    if not negatives:
        raise HeadTrainingError(
            "every bronze document comes from a reference source, so there is nothing to sample "
            "negatives from; ingest other sources or shorten score.quality.reference_sources"
        )
    picked = positives + negatives
    labels = [REFERENCE] * len(positives) + [NEGATIVE] * len(negatives)
    return TrainingSet([doc_ids[i] for i in picked], labels)


def domain_training_set(documents: pa.Table, config: DomainHeadConfig) -> TrainingSet:
    """A seeded sample of up to `samples_per_domain` documents per `domain` of `documents`.

    `documents` has `doc_id`, `source` and `domain` (the recipe's label of the source).
    Documents of the recipe's mixed sources are left out: their source domain says little.
    """
    doc_ids = documents["doc_id"].to_pylist()
    sources = documents["source"].to_pylist()
    domains = documents["domain"].to_pylist()
    mixed = set(config.mixed_sources)
    taken: dict[str, int] = {}
    picked = []
    for index in seeded_order(doc_ids, config.seed):
        domain = domains[index]
        if sources[index] in mixed:
            continue
        if taken.get(domain, 0) < config.samples_per_domain:
            taken[domain] = taken.get(domain, 0) + 1
            picked.append(index)
    if len(taken) < 2:
        raise HeadTrainingError(
            f"the domain classifier needs documents of at least two domains, found {sorted(taken)}"
        )
    return TrainingSet([doc_ids[i] for i in picked], [domains[i] for i in picked])


def _head_module(classes: int, hidden: int) -> torch.nn.Module:
    if hidden:
        return torch.nn.Sequential(
            torch.nn.Linear(EMBEDDING_DIM, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, classes),
        )
    return torch.nn.Sequential(torch.nn.Linear(EMBEDDING_DIM, classes))


def train_head(
    name: str,
    embeddings: torch.Tensor,
    labels: Sequence[str],
    *,
    encoder: str,
    epochs: int,
    learning_rate: float,
    hidden: int,
    seed: int,
) -> TrainedHead:
    """A head trained full-batch with Adam on class-balanced cross-entropy, on the CPU.

    Classes are the sorted distinct labels. The seed fixes the initial weights; full-batch
    training on the CPU has no other randomness, so the result is reproducible bit for bit.
    """
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise HeadTrainingError(f"{name} needs two classes at least, got {classes}")
    if embeddings.shape[0] != len(labels):
        raise HeadTrainingError(
            f"{name}: {embeddings.shape[0]} embeddings but {len(labels)} labels"
        )
    index = {label: position for position, label in enumerate(classes)}
    targets = torch.tensor([index[label] for label in labels], dtype=torch.long)
    counts = torch.bincount(targets, minlength=len(classes)).to(torch.float32)
    weights = counts.sum() / (len(classes) * counts)
    inputs = embeddings.detach().to("cpu", torch.float32)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        module = _head_module(len(classes), hidden)
    finally:
        torch.random.set_rng_state(generator_state)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    module.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(module(inputs), targets, weight=weights)
        loss.backward()
        optimizer.step()
    state = {key: value.detach().clone() for key, value in module.state_dict().items()}
    training = {"documents": len(labels), "epochs": epochs, "final_loss": f"{loss.item():.6f}"}
    per_class = zip(classes, counts.tolist(), strict=True)
    training |= {f"class_{label}": int(count) for label, count in per_class}
    return TrainedHead(name, classes, hidden, state, encoder, training)


def constant_head(name: str, classes: Sequence[str], encoder: str, reason: str) -> TrainedHead:
    """A head that gives every document the same, uniform probabilities over `classes`.

    What a head says when its training set cannot train it (a corpus without reference
    documents gives every document a quality score of 0.5; a corpus of one domain labels every
    document with that domain, probability 1). `reason` is kept in the head's training record.
    """
    module = _head_module(len(classes), 0)
    state = {key: torch.zeros_like(value) for key, value in module.state_dict().items()}
    return TrainedHead(name, sorted(classes), 0, state, encoder, {"untrained": reason})


def head_bytes(head: TrainedHead) -> bytes:
    """The head as a torch file (weights and metadata only, loadable with weights_only)."""
    buffer = io.BytesIO()
    torch.save(
        {
            "name": head.name,
            "classes": head.classes,
            "hidden": head.hidden,
            "state": head.state,
            "encoder": head.encoder,
            "training": head.training,
        },
        buffer,
    )
    return buffer.getvalue()


def load_head(data: bytes, sha256: str | None = None) -> TrainedHead:
    """A head from its saved bytes, checked against the sha256 recorded for it when given."""
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise HeadArtifactError(
            f"head file sha256 {hashlib.sha256(data).hexdigest()} is not the recorded {sha256}; "
            "re-materialize the head asset"
        )
    try:
        saved = torch.load(io.BytesIO(data), weights_only=True)
        return TrainedHead(
            saved["name"],
            list(saved["classes"]),
            int(saved["hidden"]),
            dict(saved["state"]),
            saved["encoder"],
            dict(saved["training"]),
        )
    except (RuntimeError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as error:
        raise HeadArtifactError(f"not a saved head: {error}") from error


def quality_scores(head: TrainedHead, embeddings: torch.Tensor) -> torch.Tensor:
    """float64 (documents,): probability that each document is like the references, 0-1."""
    return head.probabilities(embeddings)[:, head.classes.index(REFERENCE)]


def domain_labels(head: TrainedHead, embeddings: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """The most probable domain of each document and that probability (float64, 0-1)."""
    probabilities = head.probabilities(embeddings)
    best, position = probabilities.max(dim=-1)
    return [head.classes[i] for i in position.tolist()], best


def held_out_split(
    training: TrainingSet, fraction: float, seed: int
) -> tuple[TrainingSet, TrainingSet]:
    """(train, held out): a seeded `fraction` of each label held out, at least one per label
    when the label has two examples or more, so both parts see every class they can."""
    order = seeded_order(training.doc_ids, seed)
    by_label: dict[str, list[int]] = {}
    for index in order:
        by_label.setdefault(training.labels[index], []).append(index)
    held: set[int] = set()
    for indices in by_label.values():
        if len(indices) >= 2:
            held.update(indices[: max(1, min(len(indices) - 1, round(len(indices) * fraction)))])
    train = [i for i in range(len(training.doc_ids)) if i not in held]
    kept = sorted(held)
    return (
        TrainingSet([training.doc_ids[i] for i in train], [training.labels[i] for i in train]),
        TrainingSet([training.doc_ids[i] for i in kept], [training.labels[i] for i in kept]),
    )


def roc_auc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties count one half), 0-1; None without both
    a positive and a negative example."""
    pos = [score for score, positive in zip(scores, positives, strict=True) if positive]
    neg = [score for score, positive in zip(scores, positives, strict=True) if not positive]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def expected_calibration_error(
    scores: Sequence[float], positives: Sequence[bool], bins: int = 10
) -> float | None:
    """Expected calibration error over `bins` equal-width bins of the predicted probability:
    the document-weighted mean of |mean prediction - fraction positive|, 0-1; None when empty."""
    if not scores:
        return None
    totals = [[0, 0.0, 0] for _ in range(bins)]
    for score, positive in zip(scores, positives, strict=True):
        bucket = totals[min(int(score * bins), bins - 1)]
        bucket[0] += 1
        bucket[1] += score
        bucket[2] += int(positive)
    return sum(
        abs(total / count - hits / count) * count for count, total, hits in totals if count
    ) / (len(scores))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def quality_metrics(
    head: TrainedHead,
    held_out: torch.Tensor,
    labels: Sequence[str],
    unseen: torch.Tensor,
    unseen_positives: int,
    bins: int = 10,
) -> dict[str, int | float | None]:
    """Measures of a quality head: AUC and expected calibration error (`bins` bins) on the
    held-out embeddings with their `labels`, and AUC on `unseen` embeddings whose first
    `unseen_positives` rows are clean prose and the rest junk, from sources never trained on."""
    scores = quality_scores(head, held_out).tolist() if labels else []
    positives = [label == REFERENCE for label in labels]
    metrics: dict[str, int | float | None] = {
        "held_out_documents": len(labels),
        "held_out_positives": sum(positives),
        "held_out_auc": _round(roc_auc(scores, positives)),
        "held_out_ece": _round(expected_calibration_error(scores, positives, bins)),
    }
    if unseen.shape[0]:
        unseen_scores = quality_scores(head, unseen).tolist()
        truth = [index < unseen_positives for index in range(len(unseen_scores))]
        metrics |= {
            "unseen_prose": unseen_positives,
            "unseen_junk": len(truth) - unseen_positives,
            "unseen_source_auc": _round(roc_auc(unseen_scores, truth)),
        }
    return metrics
