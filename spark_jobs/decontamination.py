"""Benchmark decontamination: drop documents that share word n-grams with evaluation items.

The method of the GPT-3 and Llama papers (and DataTrove's and Dolma's decontamination steps):
every evaluation item and every document is cut into word n-grams (13 by default) of its
lower-cased words; a document that shares at least `min_overlap` n-grams with one item is
contaminated by it. Signals first: each document's largest overlap with any one item of each
set; then the decision against the recipe's threshold, recorded as (rule, value, threshold) with
the set and item in `detail`.

An evaluation set's n-grams are hashed to 64 bits (blake2b), one row per (set, item, n-gram):
built once per set version (sha256 of the file, the n-gram size and the fields read) and
stored in the lake, so a batch only hashes its own documents. Runs on Arrow, not Spark: the
per-batch work is one pass over the documents' words.

Precision limits: matching is on words (letters and digits), so punctuation-only and
whitespace-only differences still match; paraphrases and translations do not. Items shorter
than `ngram_size` words contribute one n-gram of all their words, which common short phrases
can match by chance.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse.recipe import DecontaminateConfig, EvaluationSetConfig
from lakehouse.shingles import words

BENCHMARK_CONTAMINATION = "benchmark_contamination"
NGRAM_SCHEMA = pa.schema(
    [
        pa.field("set_name", pa.string(), nullable=False),
        pa.field("set_version", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("ngram", pa.int64(), nullable=False),
    ]
)
_REJECTION_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)


class EvaluationSetError(RuntimeError):
    """An evaluation set the recipe names cannot be read; the message says which and why."""


@dataclass(frozen=True)
class EvaluationSet:
    """The items of one evaluation set, as read from its file."""

    name: str
    version: str
    """sha256 of the file, the n-gram size and the fields read: a new version rebuilds."""
    items: list[tuple[str, str]]
    """(item id, text) in file order."""


def evaluation_set_path(config: EvaluationSetConfig, base: Path) -> Path:
    """The file of an evaluation set: inside its package, or a path (relative to `base`)."""
    if config.package:
        try:
            return Path(str(resources.files(config.package).joinpath(config.path)))
        except ModuleNotFoundError as error:
            raise EvaluationSetError(
                f"decontaminate.sets.{config.name}: package {config.package!r} is not "
                f"installed; install it, or point path at a local copy of the set"
            ) from error
    path = Path(config.path)
    return path if path.is_absolute() else base / path


def load_evaluation_set(config: EvaluationSetConfig, base: Path, ngram_size: int) -> EvaluationSet:
    """Read an evaluation set (JSON lines, gzip-compressed when the name ends in .gz)."""
    path = evaluation_set_path(config, base)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise EvaluationSetError(
            f"decontaminate.sets.{config.name}: cannot read {path}: {error.strerror}"
        ) from error
    raw = gzip.decompress(content) if path.name.endswith(".gz") else content
    items = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            item_id = str(record[config.id_field])
            text = "\n".join(str(record[field]) for field in config.text_fields)
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise EvaluationSetError(
                f"decontaminate.sets.{config.name}: {path} line {number} is not a JSON object "
                f"with {config.id_field!r} and {', '.join(map(repr, config.text_fields))} "
                f"({error}); set id_field and text_fields to the set's fields"
            ) from error
        items.append((item_id, text))
    digest = hashlib.sha256(content)
    digest.update(json.dumps([ngram_size, config.id_field, config.text_fields]).encode())
    return EvaluationSet(config.name, digest.hexdigest()[:16], items)


def _hash(ngram: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(ngram.encode(), digest_size=8).digest(), "little", signed=True
    )


def ngram_hashes(text: str, size: int) -> set[int]:
    """64-bit hashes of the word n-grams of `text`; a text of fewer than `size` words is one
    n-gram of all its words (none without words)."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < size:
        return {_hash(" ".join(tokens))}
    return {_hash(" ".join(tokens[i : i + size])) for i in range(len(tokens) - size + 1)}


def benchmark_ngrams(evaluation_set: EvaluationSet, size: int) -> pa.Table:
    """One row per (item, distinct n-gram) of a set: the rows its index stores."""
    item_ids: list[str] = []
    hashes: list[int] = []
    for item_id, text in evaluation_set.items:
        found = sorted(ngram_hashes(text, size))
        item_ids += [item_id] * len(found)
        hashes += found
    count = len(hashes)
    return pa.table(
        {
            "set_name": pa.array([evaluation_set.name] * count, pa.string()),
            "set_version": pa.array([evaluation_set.version] * count, pa.string()),
            "item_id": pa.array(item_ids, pa.string()),
            "ngram": pa.array(hashes, pa.int64()),
        },
        schema=NGRAM_SCHEMA,
    )


class NgramIndex:
    """The n-grams of the evaluation sets, looked up by hash: n-gram → (set, item) pairs."""

    def __init__(self, rows: pa.Table, set_names: Iterable[str]):
        self.set_names = sorted(set(set_names))
        self._items: dict[int, list[tuple[str, str]]] = defaultdict(list)
        wanted = set(self.set_names)
        for name, item, ngram in zip(
            rows["set_name"].to_pylist(),
            rows["item_id"].to_pylist(),
            rows["ngram"].to_pylist(),
            strict=True,
        ):
            if name in wanted:
                self._items[ngram].append((name, item))

    def overlaps(self, text: str, size: int) -> dict[tuple[str, str], int]:
        """(set, item) → how many of the text's distinct n-grams the item holds."""
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for ngram in ngram_hashes(text, size):
            for key in self._items.get(ngram, ()):
                counts[key] += 1
        return counts


@dataclass(frozen=True)
class Contamination:
    """A batch's decision: which rows stay, what was dropped why, and the rate per set."""

    kept: np.ndarray
    rejections: pa.Table
    contaminated_by_set: dict[str, int]


def find_contamination(
    documents: pa.Table, index: NgramIndex, config: DecontaminateConfig
) -> Contamination:
    """Drop every document that shares at least `min_overlap` n-grams with one item of a set;
    `detail` names the set and item it overlaps most (ties: the first by set, then item id)."""
    kept = np.ones(documents.num_rows, dtype=bool)
    rejected: dict[str, list] = {name: [] for name in _REJECTION_SCHEMA.names}
    by_set = dict.fromkeys(index.set_names, 0)
    texts = documents["text"].to_pylist()
    for row, (doc_id, text) in enumerate(zip(documents["doc_id"].to_pylist(), texts, strict=True)):
        overlaps = index.overlaps(text or "", config.ngram_size)
        hits = {key: count for key, count in overlaps.items() if count >= config.min_overlap}
        if not hits:
            continue
        kept[row] = False
        (set_name, item_id), count = min(hits.items(), key=lambda hit: (-hit[1], hit[0]))
        for name in {name for name, _ in hits}:
            by_set[name] += 1
        rejected["doc_id"].append(doc_id)
        rejected["rule"].append(BENCHMARK_CONTAMINATION)
        rejected["value"].append(float(count))
        rejected["threshold"].append(float(config.min_overlap))
        rejected["detail"].append(
            json.dumps(
                {"set": set_name, "item": item_id, "ngrams": count, "ngram_size": config.ngram_size}
            )
        )
    return Contamination(kept, pa.table(rejected, schema=_REJECTION_SCHEMA), by_set)
