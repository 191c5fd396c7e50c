"""Reference answers for dedup tests: brute-force Jaccard, and datasketch's MinHashLSH.

Both use the shingles of `spark_jobs.minhash.shingles`, so they measure the same sets the
signatures estimate.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH
from scipy import sparse

from lakehouse.recipe import DedupConfig
from lakehouse.shingles import shingles

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@dataclass(frozen=True)
class SampleDocument:
    """A bundled sample document and the duplicate it was planted as (if any)."""

    doc_id: str
    text: str
    planted: bool


def sample_subset(size: int) -> list[SampleDocument]:
    """`size` sample documents: every planted exact/near duplicate and its original first.

    Document ids are `file:record`, so they sort like the landing files.
    """
    texts: dict[str, str] = {}
    for path in sorted((SAMPLE / "landing").glob("*/*.jsonl.gz")):
        name = f"{path.parent.name}/{path.name}"
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for record, line in enumerate(handle):
                texts[f"{name}:{record:05d}"] = json.loads(line)["text"]
    planted: set[str] = set()
    related: set[str] = set()
    with gzip.open(SAMPLE / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            truth = json.loads(line)
            original = truth["exact_duplicate_of"] or truth["near_duplicate_of"]
            if original:
                doc_id = f"{truth['file']}:{truth['record']:05d}"
                planted.add(doc_id)
                related |= {doc_id, f"{original['file']}:{original['record']:05d}"}
    others = [doc_id for doc_id in sorted(texts) if doc_id not in related]
    chosen = sorted(related)[:size]
    chosen += others[: size - len(chosen)]
    return [SampleDocument(doc_id, texts[doc_id], doc_id in planted) for doc_id in sorted(chosen)]


def shingle_sets(texts: Sequence[str], size: int) -> list[set[tuple[str, ...]]]:
    """The shingle set of each text."""
    return [shingles(text, size) for text in texts]


def jaccard_pairs(
    sets: Sequence[set[tuple[str, ...]]], minimum: float
) -> dict[tuple[int, int], float]:
    """Every pair (i < j) of shingle sets with Jaccard ≥ `minimum`, computed exactly."""
    vocabulary: dict[tuple[str, ...], int] = {}
    rows: list[int] = []
    columns: list[int] = []
    for index, items in enumerate(sets):
        rows.extend([index] * len(items))
        columns.extend(vocabulary.setdefault(item, len(vocabulary)) for item in items)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), np.int32), (rows, columns)), shape=(len(sets), len(vocabulary))
    )
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    overlap = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    union = sizes[overlap.row] + sizes[overlap.col] - overlap.data
    similarity = overlap.data / np.maximum(union, 1)
    wanted = similarity >= minimum
    return {
        (int(i), int(j)): float(value)
        for i, j, value in zip(
            overlap.row[wanted], overlap.col[wanted], similarity[wanted], strict=True
        )
    }


def datasketch_keepers(sets: Sequence[set[tuple[str, ...]]], config: DedupConfig) -> list[int]:
    """Keeper index of each shingle set with datasketch MinHashLSH at the recipe's parameters.

    Candidates sharing a band are verified with the MinHash estimate (`jaccard_threshold`),
    clustered (union-find) and the smallest index of a cluster kept — the stage's rules.
    """
    lsh = MinHashLSH(num_perm=config.num_hashes, params=(config.bands, config.rows_per_band))
    sketches = []
    indexed = set()
    for index, items in enumerate(sets):
        sketch = MinHash(num_perm=config.num_hashes, seed=config.seed)
        words = [" ".join(item).encode() for item in items]
        sketch.update_batch(words)
        sketches.append(sketch)
        if words:
            lsh.insert(index, sketch)
            indexed.add(index)
    parent = list(range(len(sets)))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for index, sketch in enumerate(sketches):
        if index not in indexed:
            continue
        for other in lsh.query(sketch):
            if other != index and sketch.jaccard(sketches[other]) >= config.jaccard_threshold:
                first, second = root(index), root(other)
                parent[max(first, second)] = min(first, second)
    return [root(index) for index in range(len(sets))]
