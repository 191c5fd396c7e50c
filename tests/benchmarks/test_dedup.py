"""The dedup benchmark's planted corpus, its recall-by-bucket scoring and its tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.dedup import (
    BUCKETS,
    EXACT,
    VARIED_SHARE,
    _generated_texts,
    decision_quality,
    distinct,
    plant,
    render,
    varied,
)
from benchmarks.quality.corpus import jaccard

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
]


def _base(count: int) -> list[str]:
    """Distinct texts of 60–80 words (each its own vocabulary order)."""
    texts = []
    for number in range(count):
        words = [f"{WORDS[(number * 7 + i * 3) % len(WORDS)]}{number}x{i}" for i in range(60)]
        texts.append(" ".join(words))
    return texts


def test_planted_copies_follow_their_originals_at_their_bucket_jaccard() -> None:
    rows, pairs = plant(_base(60), 60, seed=3)
    assert len(rows) == 60
    # 10 % planted, equally over the buckets: one exact copy and one per Jaccard bucket.
    assert sorted(pair["bucket"] for pair in pairs) == sorted(BUCKETS)
    position = {doc_id: index for index, (doc_id, _) in enumerate(rows)}
    text = dict(rows)
    for pair in pairs:
        assert position[pair["copy"]] > position[pair["original"]]
        similarity = jaccard(text[pair["original"]], text[pair["copy"]])
        assert similarity == pytest.approx(pair["jaccard"], abs=1e-4)
        if pair["bucket"] == EXACT:
            assert text[pair["copy"]] == text[pair["original"]]
        else:
            low, high = (float(x) for x in pair["bucket"].split("-"))
            assert low <= similarity < high


def test_too_few_base_documents_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="only 5 distinct base documents for 90"):
        plant(_base(5), 100, seed=0)


PAIRS = [
    {"original": "b1", "copy": "c1", "bucket": EXACT, "jaccard": 1.0},
    {"original": "b2", "copy": "c2", "bucket": "0.5-0.6", "jaccard": 0.55},
    {"original": "b3", "copy": "c3", "bucket": "0.5-0.6", "jaccard": 0.58},
    {"original": "b4", "copy": "c4", "bucket": "0.9-1.0", "jaccard": 0.95},
]
DOCUMENTS = ["b1", "c1", "b2", "c2", "b3", "c3", "b4", "c4", "u1", "u2", "u3", "u4"]


def test_a_pair_is_found_when_either_document_goes_and_others_are_false_removals() -> None:
    quality = decision_quality(PAIRS, DOCUMENTS, {"c1", "b2", "u3"})
    assert quality["buckets"][EXACT] == {"planted": 1, "found": 1, "recall": 1.0}
    assert quality["buckets"]["0.5-0.6"] == {"planted": 2, "found": 1, "recall": 0.5}
    assert quality["buckets"]["0.9-1.0"]["recall"] == 0.0
    assert quality["buckets"]["0.7-0.8"] == {"planted": 0, "found": 0, "recall": None}
    assert quality["false_removals"] == 1
    assert quality["false_removal_rate"] == 0.25


def test_pairs_outside_the_judged_documents_are_left_out() -> None:
    quality = decision_quality(PAIRS, ["b1", "c1", "b4", "u1"], {"c1"})
    assert quality["buckets"]["0.5-0.6"]["planted"] == 0
    assert quality["unpaired_documents"] == 2  # b4 (its copy is not judged) and u1


def test_removed_ids_of_another_corpus_are_refused() -> None:
    with pytest.raises(ValueError, match="1 removed ids are not in the corpus"):
        decision_quality(PAIRS, DOCUMENTS, {"z9"})


def _figures(seconds: float, removed: int) -> dict:
    return {
        "seconds": {"median": seconds, "min": seconds, "max": seconds, "n": 1},
        "docs_per_s": {"median": 100 / seconds, "min": 1.0, "max": 1.0, "n": 1},
        "peak_rss_mb": {"median": 900.0, "min": 900.0, "max": 900.0, "n": 1},
        "kept": 100 - removed,
        "removed": removed,
    }


def test_render_shows_recall_for_both_engines_and_the_incremental_runs() -> None:
    quality = decision_quality(PAIRS, DOCUMENTS, {"c1", "b2", "u3"})
    summary = {
        "docs": 100,
        "batch": 10,
        "planted_pairs": 4,
        "datatrove": {**_figures(50.0, 9), **quality},
        "funnel": {**_figures(20.0, 8), **decision_quality(PAIRS, DOCUMENTS, {"c1"})},
        "ratio_docs_per_s": 2.5,
        "incremental": {
            "funnel_batch_onto_index": _figures(10.0, 1),
            "funnel_from_scratch": _figures(25.0, 9),
            "datatrove_from_scratch": _figures(55.0, 10),
            "batch_quality": decision_quality(PAIRS[:1], ["b1", "c1"], {"c1"}),
        },
    }
    text = render({"summary": summary})
    assert "| funnel | 20 | 5 | 900 | 8 | **2.5** |" in text
    assert "| Jaccard 0.5-0.6 | 0.500 (1/2) | 0.000 (0/2) |" in text
    assert "| false removals | 1 of 4 (25.00%) | 0 of 4 (0.00%) |" in text
    assert "| funnel, batch against `silver/dedup_index` | 10 | 10 | 900 | 1 |" in text
    assert "found 1 of the 1 planted copies in the batch, with 0 false removals" in text


def test_varied_generated_documents_are_distinct_where_the_generator_repeats_itself(
    tmp_path: Path,
) -> None:
    texts = _generated_texts(6_000, 0, tmp_path / "generated")
    assert len(distinct(texts)) < 0.8 * len(texts)  # why the base documents are varied
    changed = varied(texts, seed=0)
    assert changed == varied(texts, seed=0)
    assert len(distinct(changed)) > 0.99 * len(texts)
    words = [(a.split(" "), b.split(" ")) for a, b in zip(texts, changed, strict=True)]
    assert all(len(a) == len(b) for a, b in words)
    replaced = sum(x != y for a, b in words for x, y in zip(a, b, strict=True))
    # A third of the words are redrawn; some redraws land on the same word.
    assert 0.2 < replaced / sum(len(a) for a, _ in words) < VARIED_SHARE
