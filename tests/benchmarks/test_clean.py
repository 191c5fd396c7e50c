"""The clean benchmark's per-family agreement and its rendered tables."""

from __future__ import annotations

import pytest

from benchmarks.clean import KEPT, family_agreement, render, summarize


def test_agreement_counts_each_family_over_every_document() -> None:
    funnel = {"a": "language", "b": "gopher_repetition", "c": "c4"}
    datatrove = {"a": "language", "b": "gopher_quality", "d": "fineweb"}
    agreement = family_agreement(10, funnel, datatrove)
    assert agreement["language"] == {
        "funnel_dropped": 1,
        "datatrove_dropped": 1,
        "both_dropped": 1,
        "funnel_only": 0,
        "datatrove_only": 0,
        "agreement": 1.0,
    }
    # b: the engines disagree on which family dropped it, so both families count it once.
    assert agreement["gopher_repetition"]["funnel_only"] == 1
    assert agreement["gopher_repetition"]["agreement"] == 0.9
    assert agreement["gopher_quality"]["datatrove_only"] == 1
    # The final decision: a and b dropped by both, c only by funnel, d only by DataTrove.
    assert agreement[KEPT]["both_dropped"] == 2
    assert agreement[KEPT]["agreement"] == 0.8


def test_a_family_outside_the_compared_ones_gets_its_own_row() -> None:
    agreement = family_agreement(4, {"a": "normalize"}, {})
    assert list(agreement)[-2:] == ["normalize", KEPT]
    assert agreement["normalize"]["funnel_only"] == 1


def test_ids_of_another_corpus_are_refused() -> None:
    with pytest.raises(ValueError, match="3 dropped document ids for 2 documents"):
        family_agreement(2, {"a": "c4", "b": "c4"}, {"c": "c4"})


def test_render_puts_the_ratio_beside_both_engines_and_the_agreement_table() -> None:
    runs = [
        {
            "docs": 100,
            "engine": "datatrove",
            "seconds": 10.0,
            "wall_seconds": 12.0,
            "peak_rss_mb": 900.0,
            "kept": 40,
        },
        {
            "docs": 100,
            "engine": "funnel",
            "seconds": 5.0,
            "wall_seconds": 30.0,
            "peak_rss_mb": 3000.0,
            "kept": 41,
        },
        {
            "docs": 100,
            "engine": "datatrove",
            "seconds": 20.0,
            "wall_seconds": 22.0,
            "peak_rss_mb": 910.0,
            "kept": 40,
        },
        {
            "docs": 100,
            "engine": "funnel",
            "seconds": 4.0,
            "wall_seconds": 29.0,
            "peak_rss_mb": 3100.0,
            "kept": 41,
        },
    ]
    size = summarize(100, runs, family_agreement(100, {"x": "c4"}, {}))
    # Medians of 10 and 20 s (7.5 docs/s) and of 4 and 5 s (22.5 docs/s): ratio 3.0.
    assert size["datatrove"]["docs_per_s"]["median"] == 7.5
    assert size["funnel"]["docs_per_s"] == {"median": 22.5, "min": 20.0, "max": 25.0, "n": 2}
    assert size["ratio_docs_per_s"] == 3.0
    text = render({"summary": {"sizes": [size]}})
    assert "| 100 | 2 | 15 (10–20) | 7.5 (5–10) | 905 (900–910) |" in text
    assert "**3.0**" in text
    assert "| `c4` | 0 | 1 | 0 | 0 | 1 | 99.00% |" in text
    assert "| final decision (kept or not) | 0 | 1 |" in text
