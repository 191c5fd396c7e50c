"""Correctness floors of the heads on the sample corpus, with the default recipe's settings.

Records are split by a hash of their ground-truth id: one in five is held out. The heads are
trained the way the score stage trains them (same operators, same recipe settings, fewer
documents to keep the test short) on the rest, and judged on held-out records only.
"""

import gzip
import hashlib
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from gpu_jobs.heads import (
    domain_labels,
    domain_training_set,
    quality_scores,
    quality_training_set,
    train_head,
)
from gpu_jobs.runner import encode_documents
from lakehouse.recipe import load_recipe
from tests.gpu_jobs.conftest import cpu_encoder

DATA = Path(__file__).resolve().parents[2] / "data" / "sample"
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "default.yaml"
HELD_OUT_JUNK = 80
HELD_OUT_REAL = 160


# Trains heads on the sample: part of make test, not of the inner loop.
pytestmark = pytest.mark.slow


def sample_records() -> list[dict]:
    """Every landing record of the sample with its source, domain and ground truth."""
    recipe = load_recipe(RECIPE).recipe
    truth = {}
    with gzip.open(DATA / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            truth[(row["file"], row["record"])] = row
    records = []
    for path in sorted((DATA / "landing").glob("*/*.jsonl.gz")):
        name = f"{path.parent.name}/{path.name}"
        domain = recipe.source(path.parent.name).domain
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                known = truth[(name, index)]
                records.append(
                    {
                        "doc_id": hashlib.sha256(f"{name}:{index}".encode()).hexdigest()[:32],
                        "source": path.parent.name,
                        "domain": domain,
                        "text": json.loads(line)["text"],
                        "true_domain": known["domain"],
                        "junk": known["junk"] is not None,
                        "held_out": int(hashlib.sha256(known["id"].encode()).hexdigest(), 16) % 5
                        == 0,
                    }
                )
    return records


def roc_auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    greater = (positive.unsqueeze(1) > negative.unsqueeze(0)).double().mean()
    ties = (positive.unsqueeze(1) == negative.unsqueeze(0)).double().mean()
    return float(greater + ties / 2)


@pytest.fixture(scope="module")
def trained() -> dict:
    recipe = load_recipe(RECIPE).recipe.score
    quality_config = recipe.quality.model_copy(
        update={"max_references": 150, "negative_samples": 150}
    )
    domain_config = recipe.domain.model_copy(update={"samples_per_domain": 40})
    records = sample_records()
    pool = [record for record in records if not record["held_out"]]
    bronze = pa.Table.from_pylist(
        [{key: record[key] for key in ("doc_id", "source", "domain")} for record in pool]
    )
    quality_set = quality_training_set(bronze, quality_config)
    domain_set = domain_training_set(bronze, domain_config)
    generator = random.Random(0)
    held_out = [record for record in records if record["held_out"]]
    junk = generator.sample([r for r in held_out if r["junk"]], HELD_OUT_JUNK)
    real = generator.sample([r for r in held_out if not r["junk"]], HELD_OUT_REAL)
    text = {record["doc_id"]: record["text"] for record in records}
    wanted = list(dict.fromkeys([*quality_set.doc_ids, *domain_set.doc_ids]))
    wanted += [record["doc_id"] for record in junk + real]
    encoder = cpu_encoder(recipe.max_tokens, "fp32")
    encoded = encode_documents(encoder, [text[doc_id] for doc_id in wanted], recipe.batch_tokens)
    row = {doc_id: index for index, doc_id in enumerate(wanted)}

    def vectors(doc_ids: list[str]) -> torch.Tensor:
        return encoded.embeddings[[row[doc_id] for doc_id in doc_ids]]

    def train(name: str, doc_ids: list[str], labels: list[str], config) -> object:  # type: ignore[no-untyped-def]
        return train_head(
            name,
            vectors(doc_ids),
            labels,
            encoder=encoder.identity,
            epochs=config.epochs,
            learning_rate=config.learning_rate,
            hidden=config.hidden,
            seed=config.seed,
        )

    return {
        "quality": train("quality", quality_set.doc_ids, quality_set.labels, quality_config),
        "domain": train("domain", domain_set.doc_ids, domain_set.labels, domain_config),
        "junk": vectors([r["doc_id"] for r in junk]),
        "real": vectors([r["doc_id"] for r in real]),
        "real_domains": [r["true_domain"] for r in real],
        "held_out_ids": {r["doc_id"] for r in junk + real},
        "training_ids": set(quality_set.doc_ids) | set(domain_set.doc_ids),
    }


def test_training_never_sees_held_out_records(trained: dict) -> None:
    assert not trained["held_out_ids"] & trained["training_ids"]


def test_quality_classifier_separates_planted_junk_from_real_documents(trained: dict) -> None:
    real = quality_scores(trained["quality"], trained["real"])
    junk = quality_scores(trained["quality"], trained["junk"])
    assert roc_auc(real, junk) >= 0.9


def test_domain_classifier_finds_the_domain_of_held_out_documents(trained: dict) -> None:
    predicted, _ = domain_labels(trained["domain"], trained["real"])
    correct = sum(
        guess == truth for guess, truth in zip(predicted, trained["real_domains"], strict=True)
    )
    assert correct / len(predicted) >= 0.9
