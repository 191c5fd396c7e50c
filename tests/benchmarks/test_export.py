import pytest

from benchmarks.export import render, summarize


def _run(engine: str, seconds: float, tokens: int = 1000) -> dict:
    return {"engine": engine, "seconds": seconds, "tokens": tokens, "peak_rss_mb": 100.0}


def test_summarize_ratio_is_funnel_over_peer_tokens_per_s() -> None:
    runs = [_run("peer", 1.0), _run("funnel", 2.0), _run("peer", 2.0), _run("funnel", 4.0)]
    summary = summarize(runs, docs=10, chars=60, format="megatron")
    assert summary["peer"]["tokens_per_s"] == round(1000 / 1.5)
    assert summary["funnel"]["tokens_per_s"] == round(1000 / 3.0)
    assert summary["ratio_tokens_per_s"] == 0.5
    assert "Ratio funnel ÷ peer tokens/s: **0.50**" in render({"summary": summary})


def test_summarize_refuses_engines_that_tokenized_different_texts() -> None:
    runs = [_run("peer", 1.0, tokens=1000), _run("funnel", 2.0, tokens=999)]
    with pytest.raises(RuntimeError, match="token counts \\[999, 1000\\]"):
        summarize(runs, docs=10, chars=60, format="megatron")
