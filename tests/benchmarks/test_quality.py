"""The decision-quality benchmark's tables, from a fixed recorded result."""

from __future__ import annotations

from typing import Any

from benchmarks.quality.__main__ import render


def _summary(semdedup: bool) -> dict[str, Any]:
    rates = {"planted": 10, "recall": 0.9, "precision": 1.0, "false_positives": 0}
    summary: dict[str, Any] = {
        "documents": 12,
        "labels": {"clean": 10, "junk": 2},
        "pii": {
            "per_kind": {"email": rates},
            "per_format": {"email/plain": {**rates, "recall": 1.0}, "email/upper": rates},
        },
        "pii_spark": {"documents": 4, "values_left_verbatim": 0, "count_mismatches": 1},
        "junk": {
            "junk_recall": {"keyword_spam": 1.0},
            "junk_rules": {"keyword_spam": {"gopher_too_few_stop_words": 2}},
            "profiles": {"keyword_spam": "default", "package_code": "code"},
            "clean_keep_rate": {"package_code": 0.5},
            "clean_rejections": {"package_code": {}},
        },
        "dedup": {
            "buckets": {"exact": {"planted": 2, "recall": 1.0, "keeper_is_original": 1.0}},
            "false_removals": 0,
            "junk_pages_removed_as_duplicates": 3,
            "threshold": 0.7,
        },
        "lsh_curve": {
            "bands": 14,
            "rows_per_band": 8,
            "bins": [{"jaccard_from": 0.65, "pairs": 30, "measured": 0.4, "theoretical": 0.45}],
        },
    }
    if semdedup:
        row = {"precision": 0.993, "recall": 0.971, "false_duplicates": 1}
        summary["semdedup_pairs"] = {
            "duplicate_pairs": 140,
            "distinct_pairs": 61,
            "cosine_only": row,
            "lexically_confirmed": {**row, "precision": 1.0, "false_duplicates": 0},
        }
    return summary


def test_render_lists_each_measure_in_its_table() -> None:
    text = render({"summary": _summary(semdedup=True)})
    assert "| email | 10 | 0.900 | 1.000 | plain 1.000, upper 0.900 |" in text
    assert "differ from Python's in 1 documents" in text
    assert "| keyword_spam | default | 1.000 | `gopher_too_few_stop_words` 2 |" in text
    assert "| `package_code` | code | 0.500 | — |" in text
    assert "| exact | 2 | 1.000 | 1.000 |" in text
    assert "junk pages removed as duplicates: 3" in text
    assert "| 0.65–0.70 | 30 | 0.40 | 0.45 |" in text
    assert "| cosine and 5-gram Jaccard | 1.000 | 0.971 | 0 |" in text


def test_the_quick_profile_says_semdedup_was_not_measured() -> None:
    text = render({"summary": _summary(semdedup=False)})
    assert "SemDeDup pairs: not measured in the quick profile" in text
    assert "| decision |" not in text
