import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.score import (
    bf16_dense_peak_tflops,
    cosine,
    encoder_flops_per_document,
    load_texts,
    render,
    summarize,
)

MINILM = {"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536}


def test_flops_per_document_counts_layer_weights_and_attention_products() -> None:
    # Per layer 4·384² + 2·384·1536 = 1,769,472 weights; 6 layers, 2 FLOPs per weight and token.
    weights = 2 * 6 * 1_769_472 * 256
    # QKᵀ and AV: 2·256²·384 each, per layer.
    attention = 6 * 4 * 256 * 256 * 384
    assert encoder_flops_per_document(MINILM, 256) == weights + attention == 6_039_797_760
    # Attention grows with the square of the length, the weights linearly.
    assert encoder_flops_per_document(MINILM, 128) > encoder_flops_per_document(MINILM, 256) / 2.2


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100-PCIE-40GB", 312.0),
        ("Tesla T4", None),
    ],
)
def test_bf16_peak_is_looked_up_by_card_name(name: str, peak: float | None) -> None:
    assert bf16_dense_peak_tflops(name) == peak


def test_cosine_gives_minimum_and_mean_over_documents() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0]])
    other = np.array([[1.0, 0.0], [0.6, 0.8]])
    assert cosine(reference, other) == {"min": 0.8, "mean": 0.9}


def test_load_texts_interleaves_sources_and_names_a_too_small_corpus(tmp_path: Path) -> None:
    for source, count in (("a", 3), ("b", 1)):
        (tmp_path / source).mkdir()
        with gzip.open(tmp_path / source / "part-00000.jsonl.gz", "wt") as handle:
            for index in range(count):
                handle.write(json.dumps({"text": f"{source}{index}"}) + "\n")
    assert load_texts(tmp_path, 4) == ["a0", "b0", "a1", "a2"]
    with pytest.raises(SystemExit, match=r"has only 4 documents, 5 asked; pass a smaller --docs"):
        load_texts(tmp_path, 5)


def _runs(rates: dict[str, tuple[float, ...]] | None = None, **extra: float) -> list[dict]:
    """Engine runs, alternating per round, at the given docs/s (default: peer and fp32, 2
    rounds); `extra` figures go into every run."""
    rates = rates or {"sentence_transformers": (10.0, 8.0), "funnel_fp32": (11.0, 10.0)}
    rounds = len(next(iter(rates.values())))
    return [
        {
            "engine": engine,
            "round": round_ + 1,
            "docs": 100,
            "docs_per_s": rates[engine][round_],
            "fp32_peak_gflops": 100.0,
            "torch_threads": 2,
            **extra,
        }
        for round_ in range(rounds)
        for engine in rates
    ]


def test_summary_pairs_ratios_by_round_and_bounds_fp32_by_the_peers_peak_fraction() -> None:
    cosines = {"funnel_fp32": {"min": 0.999, "mean": 1.0}}
    # 5 GFLOP per document at 10 docs/s is 50 of a 100 GFLOP/s peak.
    flops_per_doc = encoder_flops_per_document(MINILM, 200) / 1e9
    summary = summarize(_runs(), cosines, MINILM, 200)
    fp32 = summary["engines"]["funnel_fp32"]
    assert fp32["ratio_to_peer"] == {"median": 1.175, "min": 1.1, "max": 1.25, "n": 2}
    assert fp32["ratio_of_medians"] == round(10.5 / 9.0, 3)
    assert fp32["cosine_to_peer"] == cosines["funnel_fp32"]
    peer = summary["engines"]["sentence_transformers"]
    assert peer["fraction_of_fp32_peak"]["median"] == round(9.0 * flops_per_doc / 100, 3)
    assert summary["roofline"]["fp32_bound_over_peer"] == round(
        1 / peer["fraction_of_fp32_peak"]["median"], 2
    )
    assert summary["target"] == {
        "ratio": 1.2,
        "min_cosine": 0.99,
        "met_by": [],
        "modes": {
            "funnel_fp32": {"faithful": True, "met": False, "rounds_reaching": 1, "rounds": 2}
        },
    }
    assert summary["repeats"] == 2
    assert "bf16_peak_gflops" not in summary["roofline"]


def test_render_puts_ratios_and_fidelity_beside_the_rates() -> None:
    summary = summarize(_runs(), {"funnel_fp32": {"min": 0.999, "mean": 1.0}}, MINILM, 200)
    summary.update(max_tokens=256, batch_size=32)
    text = render({"summary": summary})
    fp32_row = next(line for line in text.splitlines() if line.startswith("| funnel_fp32"))
    assert "10.5 (10.0–11.0, n = 2)" in fp32_row
    assert "1.175 (1.1–1.25, n = 2)" in fp32_row
    assert "0.999 / 1.0" in fp32_row
    assert "**not met** (no mode) on the median of the per-round ratios" in text
    assert "- funnel_fp32: 1 of 2 rounds reach the ratio\n" in text


def test_target_is_judged_on_ratios_of_runs_made_under_the_same_load() -> None:
    # Per round 1.1, 1.3, 1.225 (median 1.225); the medians of the rates give only 11 / 10.
    runs = _runs({"sentence_transformers": (10.0, 5.0, 20.0), "funnel_fp32": (11.0, 6.5, 24.5)})
    summary = summarize(runs, {"funnel_fp32": {"min": 1.0, "mean": 1.0}}, MINILM, 200)
    assert summary["engines"]["funnel_fp32"]["ratio_of_medians"] == 1.1
    assert summary["target"]["met_by"] == ["funnel_fp32"]
    assert summary["target"]["modes"]["funnel_fp32"]["rounds_reaching"] == 2


def test_a_fast_mode_below_the_cosine_bound_does_not_meet_the_target() -> None:
    # int8 at twice the peer's rate but with a document at cosine 0.9; bf16 at 1.3× and faithful.
    rates = {
        "sentence_transformers": (10.0, 10.0),
        "funnel_bf16": (13.0, 13.0),
        "funnel_int8": (20.0, 20.0),
    }
    runs = _runs(rates, bf16_peak_gflops=400.0)
    cosines = {
        "funnel_bf16": {"min": 0.9995, "mean": 0.9999},
        "funnel_int8": {"min": 0.9, "mean": 0.95},
    }
    summary = summarize(runs, cosines, MINILM, 200)
    assert summary["target"]["met_by"] == ["funnel_bf16"]
    assert summary["target"]["modes"]["funnel_int8"] == {
        "faithful": False,
        "met": False,
        "rounds_reaching": 2,
        "rounds": 2,
    }
    # The bf16 bound is the bf16 peak over the peer's achieved rate.
    peer_gflops = summary["engines"]["sentence_transformers"]["gflops"]["median"]
    assert summary["roofline"]["bf16_bound_over_peer"] == round(400.0 / peer_gflops, 2)
    summary.update(max_tokens=256, batch_size=32)
    text = render({"summary": summary})
    assert "**met** (funnel_bf16)" in text
    assert "- funnel_int8: 2 of 2 rounds reach the ratio; cosine below the bound" in text
    assert "| most a bf16 runner can gain over the peer |" in text
