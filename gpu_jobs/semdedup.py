"""Semantic dedup (SemDeDup, Abbas et al. 2023): near-identical meaning, found by embedding.

Embeddings are clustered with spherical k-means in torch (on the embeddings' device, so on the
GPU when present); within each cluster, documents are visited oldest first (earliest ingested,
then smallest doc_id) and one whose cosine similarity to an already kept document of its cluster
exceeds the threshold is a duplicate of the most similar such keeper. Everything is determined
by the seed and the inputs.

Lexical confirmation: similar embeddings also mean "same topic" (GPL-2 and GPL-3 are at cosine
0.955), so a pair above the cosine threshold is a duplicate only if their word 5-gram Jaccard
(the dedup stage's shingles) reaches `lexical_jaccard`; the most similar confirmed keeper wins.
Pairs where a text is not given (no `texts`, or anchors without texts) are judged by cosine.

Across batches, documents kept by other batches are anchors: each is placed in the batch's
nearest cluster and counts as kept before any document of the batch, so a document that repeats
the meaning of one kept earlier is a duplicate of it, and an earlier batch's output never changes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import torch

from lakehouse.recipe import SemDedupConfig
from lakehouse.shingles import shingles

SEMANTIC_DUPLICATE = "semantic_duplicate"
# Rows of a cluster compared with each other at a time: bounds memory for a giant cluster.
_BLOCK = 512


@dataclass(frozen=True)
class SemanticDedup:
    """The decision for every document, in input order."""

    clusters: torch.Tensor
    """int64 (documents,): the k-means cluster of each document."""
    duplicate_of: list[int | None]
    """Index of the kept document each duplicate repeats, in the batch's documents followed by
    the anchors; None for kept documents."""
    similarity: list[float | None]
    """Cosine similarity to that keeper; None for kept documents."""
    keeper_ids: list[str | None]
    """doc_id of the kept document each duplicate repeats; None for kept documents."""

    @property
    def kept(self) -> list[int]:
        """Indices of the documents kept."""
        return [index for index, keeper in enumerate(self.duplicate_of) if keeper is None]


@dataclass(frozen=True)
class Anchors:
    """Documents kept by other batches: kept before the batch's own, never rejected here."""

    embeddings: torch.Tensor
    """(anchors, dim) unit vectors."""
    doc_ids: Sequence[str]
    texts: Sequence[str] | None = None
    """Their texts, for the lexical confirmation; None judges anchor pairs by cosine alone."""

    def __post_init__(self) -> None:
        if self.embeddings.shape[0] != len(self.doc_ids):
            raise ValueError(
                f"{self.embeddings.shape[0]} anchor embeddings but {len(self.doc_ids)} doc ids"
            )
        if self.texts is not None and len(self.texts) != len(self.doc_ids):
            raise ValueError(f"{len(self.texts)} anchor texts but {len(self.doc_ids)} doc ids")


def lexical_jaccard(first: str, second: str, size: int = 5) -> float:
    """Jaccard similarity of two texts' word `size`-gram sets (the dedup stage's shingles)."""
    a, b = shingles(first, size), shingles(second, size)
    return len(a & b) / len(a | b) if a or b else 1.0


def kmeans(
    embeddings: torch.Tensor, clusters: int, iterations: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spherical k-means of unit vectors: (cluster per row int64, unit centroids).

    Seeded k-means++ initialization; at most min(clusters, rows) clusters. A cluster that
    empties keeps its previous centroid. Ties go to the lower cluster index.
    """
    rows = embeddings.shape[0]
    if rows == 0:
        return torch.zeros(0, dtype=torch.long), embeddings.new_zeros((0, embeddings.shape[1]))
    points = embeddings.to(torch.float32)
    count = max(1, min(clusters, rows))
    generator = torch.Generator(device="cpu").manual_seed(seed)
    chosen = [int(torch.randint(rows, (1,), generator=generator).item())]
    distance = (1 - points @ points[chosen[0]]).clamp(min=0)
    for _ in range(1, count):
        weights = distance.double().cpu()
        if float(weights.sum()) <= 0:
            remaining = [index for index in range(rows) if index not in set(chosen)]
            pick = remaining[int(torch.randint(len(remaining), (1,), generator=generator))]
        else:
            pick = int(torch.multinomial(weights, 1, generator=generator).item())
        chosen.append(pick)
        distance = torch.minimum(distance, (1 - points @ points[pick]).clamp(min=0))
    centroids = points[chosen].clone()
    assignment = torch.zeros(rows, dtype=torch.long, device=points.device)
    for _ in range(iterations):
        assignment_next = (points @ centroids.T).argmax(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assignment_next, points)
        sizes = torch.bincount(assignment_next, minlength=count)
        filled = sizes > 0
        centroids[filled] = torch.nn.functional.normalize(sums[filled], dim=1)
        if torch.equal(assignment_next, assignment):
            break
        assignment = assignment_next
    return assignment.cpu(), centroids


def semantic_duplicates(
    embeddings: torch.Tensor,
    doc_ids: Sequence[str],
    ingested_at: Sequence[datetime | None],
    config: SemDedupConfig,
    anchors: Anchors | None = None,
    texts: Sequence[str] | None = None,
) -> SemanticDedup:
    """Cluster the (unit) embeddings and mark every duplicate of an earlier-kept document.

    `anchors` (documents kept by other batches) are kept first in the cluster nearest each.
    `texts` (one per document) turn on the lexical confirmation of every candidate pair.
    """
    rows = embeddings.shape[0]
    if len(doc_ids) != rows or len(ingested_at) != rows:
        raise ValueError(
            f"{rows} embeddings but {len(doc_ids)} doc ids and {len(ingested_at)} ingest times"
        )
    if texts is not None and len(texts) != rows:
        raise ValueError(f"{rows} embeddings but {len(texts)} texts")
    assignment, centroids = kmeans(embeddings, config.clusters, config.iterations, config.seed)
    points = embeddings.to(torch.float32)
    anchor_ids: list[str] = []
    anchor_cluster = torch.zeros(0, dtype=torch.long)
    if anchors is not None and rows and len(anchors.doc_ids):
        anchor_points = anchors.embeddings.to(device=points.device, dtype=torch.float32)
        anchor_cluster = (anchor_points @ centroids.T).argmax(dim=1).cpu()
        anchor_ids = list(anchors.doc_ids)
        points = torch.cat([points, anchor_points])
    duplicate_of: list[int | None] = [None] * rows
    similarity: list[float | None] = [None] * rows
    known_texts: list[str | None] = [*(texts or [None] * rows)]
    if anchors is not None and anchor_ids:
        known_texts += (
            list(anchors.texts) if anchors.texts is not None else [None] * len(anchor_ids)
        )
    shingle_sets: dict[int, set[tuple[str, ...]]] = {}

    def confirmed(index: int, keeper: int) -> bool:
        first, second = known_texts[index], known_texts[keeper]
        if config.lexical_jaccard <= 0 or first is None or second is None:
            return True
        for member, text in ((index, first), (keeper, second)):
            if member not in shingle_sets:
                shingle_sets[member] = shingles(text, config.lexical_shingle_size)
        a, b = shingle_sets[index], shingle_sets[keeper]
        overlap = len(a & b) / len(a | b) if a or b else 1.0
        return overlap >= config.lexical_jaccard

    def best_confirmed(index: int, values: torch.Tensor, owners: list[int]) -> tuple[float, int]:
        """The most similar keeper above the cosine threshold that the text confirms."""
        above = torch.nonzero(values > config.cosine_threshold).flatten().tolist()
        for position in sorted(above, key=lambda p: -float(values[p])):
            if confirmed(index, owners[position]):
                return float(values[position]), owners[position]
        return -2.0, -1

    def age(index: int) -> tuple[float, str]:
        moment = ingested_at[index]
        return (moment.timestamp() if moment is not None else math.inf, doc_ids[index])

    for cluster in torch.unique(assignment).tolist():
        members = sorted(torch.nonzero(assignment == cluster).flatten().tolist(), key=age)
        in_cluster = torch.nonzero(anchor_cluster == cluster).flatten().tolist()
        kept: list[int] = [rows + index for index in in_cluster]
        for start in range(0, len(members), _BLOCK):
            block = members[start : start + _BLOCK]
            block_points = points[block]
            to_kept = block_points @ points[kept].T if kept else None
            within = block_points @ block_points.T
            kept_in_block: list[int] = []
            for row, index in enumerate(block):
                best_value, best_index = -2.0, -1
                if to_kept is not None:
                    best_value, best_index = best_confirmed(index, to_kept[row], kept)
                if kept_in_block:
                    owners = [block[position] for position in kept_in_block]
                    value, keeper = best_confirmed(index, within[row, kept_in_block], owners)
                    if value > best_value:
                        best_value, best_index = value, keeper
                if best_index >= 0 and best_value > config.cosine_threshold:
                    duplicate_of[index] = best_index
                    similarity[index] = min(best_value, 1.0)
                else:
                    kept_in_block.append(row)
            kept.extend(block[row] for row in kept_in_block)
    everyone = [*doc_ids, *anchor_ids]
    keeper_ids = [None if keeper is None else everyone[keeper] for keeper in duplicate_of]
    return SemanticDedup(assignment, duplicate_of, similarity, keeper_ids)


def semantic_rejections(
    doc_ids: Sequence[str], decision: SemanticDedup, config: SemDedupConfig
) -> pa.Table:
    """Rows for `ops/rejections`: `doc_id, rule, value, threshold, detail` ({"duplicate_of"})."""
    rows = [
        {
            "doc_id": doc_ids[index],
            "rule": SEMANTIC_DUPLICATE,
            "value": decision.similarity[index],
            "threshold": config.cosine_threshold,
            "detail": json.dumps({"duplicate_of": keeper}, separators=(",", ":")),
        }
        for index, keeper in enumerate(decision.keeper_ids)
        if keeper is not None
    ]
    schema = pa.schema(
        [
            pa.field("doc_id", pa.string()),
            pa.field("rule", pa.string()),
            pa.field("value", pa.float64()),
            pa.field("threshold", pa.float64()),
            pa.field("detail", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
