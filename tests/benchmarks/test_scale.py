"""The scale benchmark's summary (medians, ratios, agreement, linear projection) and its tables,
on fixed runs."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.scale import render, summarize


def _stage(seconds: float, docs: int, kept_hash: str, scale: int = 1) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "docs": docs,
        "kept": docs // 2,
        "read_bytes": 1_000_000 * scale,
        "written_bytes": 500_000 * scale,
        "shuffle_read_bytes": 200_000 * scale,
        "shuffle_write_bytes": 250_000 * scale,
        "kept_ids": {"rows": docs // 2, "sha256": kept_hash},
    }


def _runs(dedup_hash_of_last: str = "b") -> list[dict[str, Any]]:
    """Two repeats of the four configurations; clean on 1 worker takes 10 s, on 2 workers 5 s,
    S3 runs take twice as long; dedup always 4 s (1 worker) and 4 s (2 workers)."""
    runs = []
    for repeat in range(2):
        for workers in (1, 2):
            for lake in ("local", "s3"):
                slower = 2 if lake == "s3" else 1
                clean_seconds = (10 if workers == 1 else 5) * slower + repeat
                last = repeat == 1 and workers == 2 and lake == "s3"
                runs.append(
                    {
                        "repeat": repeat,
                        "workers": workers,
                        "lake": lake,
                        "clean": _stage(clean_seconds, 1000, "a"),
                        "dedup": _stage(4, 800, dedup_hash_of_last if last else "b", scale=2),
                    }
                )
    return runs


def test_medians_ratios_and_agreement() -> None:
    summary = summarize(_runs(), docs=1000)
    assert summary["repeats"] == 2
    one_local = summary["configurations"]["1w-local"]["clean"]
    # 1000 docs in 10 s and in 11 s: median of 100 and 90.9: 95.5, min 90.9, max 100.
    assert one_local == {"median": 95.5, "min": 90.9, "max": 100.0, "n": 2}
    two_local = summary["configurations"]["2w-local"]["clean"]["median"]
    assert summary["ratios"]["workers_2_over_1"]["clean-local"] == round(two_local / 95.5, 2)
    assert summary["ratios"]["workers_2_over_1"]["dedup-s3"] == 1.0
    s3 = summary["configurations"]["1w-s3"]["clean"]["median"]
    assert summary["ratios"]["s3_over_local"]["clean-1w"] == round(s3 / 95.5, 2)
    assert summary["agreement"] == {"clean": True, "dedup": True}
    assert summary["kept"] == {"clean": 500, "dedup": 400}


def test_one_run_keeping_other_documents_breaks_agreement() -> None:
    summary = summarize(_runs(dedup_hash_of_last="c"), docs=1000)
    assert summary["agreement"] == {"clean": True, "dedup": False}
    assert "dedup NO" in render({"summary": summary})


def test_projection_is_linear_in_the_batch_landing_documents() -> None:
    sizing = summarize(_runs(), docs=1000)["sizing"]
    # 1000 landing documents: clean read 1 MB → 1 GB per 1M documents.
    assert sizing["clean"]["measured"]["input_docs"] == 1000
    assert sizing["clean"]["measured"]["read_bytes"] == 1_000_000
    assert sizing["clean"]["per_million_docs"]["read_bytes"] == 1_000_000_000
    # Dedup saw 800 documents (what clean kept) but is projected per landing document too:
    # 2 MB read → 2 GB per 1M, 0.5 MB shuffle written → 0.5 GB.
    assert sizing["dedup"]["measured"]["input_docs"] == 800
    assert sizing["dedup"]["per_million_docs"]["read_bytes"] == 2_000_000_000
    assert sizing["dedup"]["per_million_docs"]["shuffle_write_bytes"] == 500_000_000
    # One core (1 worker, local lake): clean median 10.5 s per 1000 docs → 10,500 s = 2.92 h
    # per 1M; the S3 runs (20 and 21 s) do not count.
    assert sizing["clean"]["per_million_docs"]["one_core_hours"] == pytest.approx(2.92)


def test_render_puts_each_ratio_beside_its_inputs() -> None:
    text = render({"summary": summarize(_runs(), docs=1000)})
    assert "| 1 | local | 95.5 (90.9–100.0, n=2) |" in text
    assert "| clean | local | 95.5 | 183.3 | 1.92 |" in text
    assert "| clean | 1 | 95.5 | 48.8 | 0.51 |" in text
    assert "| clean | 1,000 | 1.0 | 0.5 | 0.2 | 0.2 | 1.00 | 0.50 | 0.20 | 0.25 | 2.92 |" in text
    assert "clean yes (500 kept), dedup yes (400 kept)" in text


def test_no_runs_is_an_error_naming_what_is_missing() -> None:
    with pytest.raises(ValueError, match="no scale runs to summarize"):
        summarize([], docs=10)
