"""The review sample: which release-candidate documents people look at before a release.

Two parts, in queue order: first the documents nearest each selection threshold of the recipe
(where a wrong threshold would show first), then a stratified sample over domain × quality-score
bucket, taken round-robin across the strata so that every stratum is seen even when the sample
is small. Within a stratum the order is a seeded hash of the doc id: deterministic, and not
biased towards any score.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise

import pyarrow as pa

from lakehouse.recipe import CurateConfig, ReviewConfig

STRATIFIED = "stratified"
NEAR_PREFIX = "near:"


@dataclass(frozen=True)
class Threshold:
    """A selection threshold: its recipe name, the candidate column it applies to, its value."""

    name: str
    column: str
    value: float


def selection_thresholds(config: CurateConfig) -> list[Threshold]:
    """The curate thresholds the recipe sets, each with the signal column it is compared to."""
    found = []
    if config.min_quality_score is not None:
        found.append(Threshold("min_quality_score", "quality_score", config.min_quality_score))
    if config.top_fraction_per_domain is not None:
        found.append(
            Threshold(
                "top_fraction_per_domain", "domain_quality_rank", config.top_fraction_per_domain
            )
        )
    return found


def bucket_labels(edges: list[float]) -> list[str]:
    """Labels of the quality buckets the inner `edges` make: `[0, 0.25)` … `[0.75, 1]`."""
    bounds = [0.0, *edges, 1.0]
    return [
        f"[{low:g}, {high:g}{']' if index == len(bounds) - 2 else ')'}"
        for index, (low, high) in enumerate(pairwise(bounds))
    ]


def quality_bucket(score: float, edges: list[float]) -> str:
    """The bucket label of a quality score."""
    index = sum(1 for edge in edges if score >= edge)
    return bucket_labels(edges)[index]


def _order_key(seed: int, doc_id: str) -> str:
    return hashlib.sha256(f"{seed}:{doc_id}".encode()).hexdigest()


def review_sample(candidate: pa.Table, curate: CurateConfig, review: ReviewConfig) -> pa.Table:
    """The queue: `position, doc_id, domain, quality_score, quality_bucket, reason`.

    At most `review.sample_size` documents: `review.near_threshold` nearest each threshold
    (by absolute distance of the signal to the threshold, ties by doc id), then the strata.
    """
    rows = candidate.select(
        ["doc_id", "domain", "quality_score", "domain_quality_rank"]
    ).to_pylist()
    size = min(review.sample_size, len(rows))
    chosen: list[tuple[dict[str, object], str]] = []
    taken: set[str] = set()
    for threshold in selection_thresholds(curate):
        nearest = sorted(
            (row for row in rows if row["doc_id"] not in taken),
            key=lambda row: (abs(float(row[threshold.column]) - threshold.value), row["doc_id"]),
        )
        for row in nearest[: review.near_threshold]:
            if len(chosen) == size:
                break
            chosen.append((row, NEAR_PREFIX + threshold.name))
            taken.add(str(row["doc_id"]))
    strata: dict[tuple[str, str], list[dict[str, object]]] = {}
    for row in rows:
        if row["doc_id"] in taken:
            continue
        bucket = quality_bucket(float(row["quality_score"]), review.quality_buckets)
        strata.setdefault((str(row["domain"]), bucket), []).append(row)
    queues = [
        sorted(members, key=lambda row: _order_key(review.seed, str(row["doc_id"])))
        for _, members in sorted(strata.items())
    ]
    depth = 0
    while len(chosen) < size:
        for queue in queues:
            if depth < len(queue) and len(chosen) < size:
                chosen.append((queue[depth], STRATIFIED))
        depth += 1
    return pa.table(
        {
            "position": pa.array(range(len(chosen)), pa.int64()),
            "doc_id": pa.array([row["doc_id"] for row, _ in chosen], pa.string()),
            "domain": pa.array([row["domain"] for row, _ in chosen], pa.string()),
            "quality_score": pa.array([row["quality_score"] for row, _ in chosen], pa.float64()),
            "quality_bucket": pa.array(
                [
                    quality_bucket(float(row["quality_score"]), review.quality_buckets)
                    for row, _ in chosen
                ],
                pa.string(),
            ),
            "reason": pa.array([reason for _, reason in chosen], pa.string()),
        }
    )
