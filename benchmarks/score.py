"""Score (gold stage encoder) against SentenceTransformer.encode.

    python -m benchmarks.score [--quick] [--docs 1000] [--repeats 3] [--max-tokens 256]
        [--batch-size 32] [--gpu]

The first `--docs` documents of a generated corpus (`bench-data/corpus-N`, made once by
`benchmarks.corpus`; sources interleaved) are embedded at the same maximum length (256 tokens)
by each engine in a fresh process, alternating (peer, funnel fp32, funnel bf16, funnel int8,
peer, …), `--repeats` times; figures are medians of the repeats:

- peer: `SentenceTransformer(<the encoder package's model folder>).encode`, batch size 32,
  normalized embeddings — the usual way to run all-MiniLM-L6-v2;
- funnel fp32: `gpu_jobs.runner.encode_documents` (tokenization in a background thread,
  length-sorted batches under a token budget of batch size × max length), the recipe's default
  CPU mode;
- funnel bf16: the same runner under bf16 autocast (`score.cpu_precision: bf16`), only on a CPU
  with native bf16 matrix products (AVX512-BF16 or AMX; elsewhere it is left out, as the
  product refuses it there);
- funnel int8: the same runner on the int8 dynamically quantized encoder
  (`score.cpu_precision: int8`).

Each engine warms up on a few documents first. Fidelity: per-document cosine of each funnel
engine's embeddings to the peer's (minimum and mean over documents). The target (≥ 1.2× the
peer) is met by a funnel CPU mode whose median per-round ratio reaches it while every
document's cosine to the peer stays ≥ 0.99.

Roofline: the useful work per document is 2 × the encoder layers' weights × tokens plus the
attention products (4 × layers × tokens² × hidden), from the model config at the measured mean
tokens per document (embedding lookups and the pooler are left out). Right after its timed run,
every engine process measures the CPU's practical fp32 peak as the rate of a 2048 × 2048 fp32
matrix product with the same torch threads (and, where the CPU has them, the bf16 peak the same
way); each engine's achieved FLOP/s is given as a fraction of the fp32 peak. An fp32 runner
cannot gain more over the peer than 1 / the peer's fraction; a bf16 one not more than the bf16
peak over the peer's achieved rate.

`--gpu` (only where CUDA is present; `benchmarks/gpu.sh` runs it on a GPU machine) records
`score_gpu` instead: encoder-forward tokens/s on pre-tokenized batches already on the card, as a
fraction of the card's bf16 dense peak (data-sheet value by card name, and the measured rate of a
bf16 8192² matrix product), and the runner's end-to-end documents/s (tokenization and copies
included).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.ingest import corpus_dir
from benchmarks.measure import load_average, record, run_engine, spread

TITLE = "Score (gold stage encoder) against SentenceTransformer.encode"
CORPUS_DOCS = 10_000
# Nine runs (three engines × three rounds) at about 14 documents/s on 2 cores: ~12 minutes.
FULL_DOCS = 1_000
QUICK_DOCS = 48
MAX_TOKENS = 256
PEER_BATCH = 32
WARMUP_DOCS = 4
PEAK_SIZE = 2048
PEAK_SECONDS = 1.0
ENGINES = ("sentence_transformers", "funnel_fp32", "funnel_bf16", "funnel_int8")
PEER = ENGINES[0]
TARGET_RATIO = 1.2
TARGET_COSINE = 0.99
# bf16 dense (no sparsity) tensor-core peaks from NVIDIA's data sheets, TFLOP/s, by a substring
# of `torch.cuda.get_device_name()`; the first match wins, so the PCIe H100 comes before SXM.
BF16_DENSE_PEAK_TFLOPS = (
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("A100", 312.0),
)


# Corpus ---------------------------------------------------------------------------------------


def load_texts(corpus: Path, docs: int) -> list[str]:
    """The first `docs` texts of a corpus folder, sources interleaved round-robin."""
    per_source: list[list[str]] = []
    for path in sorted(corpus.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            per_source.append([json.loads(line)["text"] for line in handle])
    texts: list[str] = []
    position = 0
    while len(texts) < docs and any(position < len(source) for source in per_source):
        texts.extend(source[position] for source in per_source if position < len(source))
        position += 1
    if len(texts) < docs:
        raise SystemExit(
            f"{corpus} has only {len(texts)} documents, {docs} asked; pass a smaller --docs "
            "or generate a larger corpus (python -m benchmarks.corpus)"
        )
    return texts[:docs]


# FLOP arithmetic ------------------------------------------------------------------------------


def encoder_flops_per_document(config: Mapping[str, int], tokens: float) -> float:
    """Useful FLOPs of one encoder forward over a document of `tokens` tokens.

    Per layer: the Q, K, V and output projections (4 · hidden²) and the feed-forward pair
    (2 · hidden · intermediate) weights, 2 FLOPs per weight and token; plus QKᵀ and AV,
    2 · tokens² · hidden each. Embedding lookups, biases, norms and the pooler are left out.
    """
    hidden = config["hidden_size"]
    layers = config["num_hidden_layers"]
    weights_per_layer = 4 * hidden * hidden + 2 * hidden * config["intermediate_size"]
    return 2 * layers * weights_per_layer * tokens + 4 * layers * tokens * tokens * hidden


def bf16_dense_peak_tflops(device_name: str) -> float | None:
    """The card's bf16 dense peak from the data sheet, TFLOP/s (None: card not in the table)."""
    for fragment, peak in BF16_DENSE_PEAK_TFLOPS:
        if fragment.lower() in device_name.lower():
            return peak
    return None


def model_config() -> dict[str, int]:
    """The bundled encoder's architecture figures (hidden size, layers, feed-forward width)."""
    from gpu_jobs.encoder import encoder_directory

    config = json.loads((encoder_directory() / "config.json").read_text())
    return {
        key: config[key]
        for key in ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads")
    }


# One engine, in its own process ---------------------------------------------------------------


def peak_flops(
    dtype: str = "float32", size: int = PEAK_SIZE, seconds: float = PEAK_SECONDS
) -> float:
    """This CPU's practical peak in `dtype`: the rate of a size × size matrix product, FLOP/s."""
    import torch

    left = torch.randn(size, size, dtype=getattr(torch, dtype))
    right = torch.randn(size, size, dtype=getattr(torch, dtype))
    left @ right
    products = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        left @ right
        products += 1
    return 2 * size**3 * products / (time.perf_counter() - started)


def engine_run(
    engine: str, docs: int, max_tokens: int, batch_size: int, embeddings: Path
) -> dict[str, Any]:
    """Embed the first `docs` corpus documents with one engine; save the embeddings (.npy)."""
    import numpy as np
    import torch

    texts = load_texts(corpus_dir(CORPUS_DOCS), docs)
    encode: Callable[[list[str]], Any]
    if engine == PEER:
        from sentence_transformers import SentenceTransformer

        from gpu_jobs.encoder import encoder_directory

        peer = SentenceTransformer(str(encoder_directory()), device="cpu")
        peer.max_seq_length = max_tokens

        def encode(batch: list[str]) -> Any:
            return peer.encode(batch, batch_size=batch_size, normalize_embeddings=True)

    else:
        from gpu_jobs.encoder import load_encoder
        from gpu_jobs.runner import encode_documents

        precision = engine.removeprefix("funnel_")
        encoder = load_encoder("cpu", precision, max_tokens)  # type: ignore[arg-type]

        def encode(batch: list[str]) -> Any:
            return encode_documents(encoder, batch, batch_size * max_tokens).embeddings.numpy()

    encode(texts[:WARMUP_DOCS])
    started = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - started
    np.save(embeddings, np.asarray(vectors, dtype=np.float32))
    run = {
        "engine": engine,
        "docs": len(texts),
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(texts) / seconds, 3),
        "fp32_peak_gflops": round(peak_flops("float32") / 1e9, 2),
        "torch_threads": torch.get_num_threads(),
    }
    from gpu_jobs.encoder import cpu_multiplies_bf16

    if cpu_multiplies_bf16():
        run["bf16_peak_gflops"] = round(peak_flops("bfloat16") / 1e9, 2)
    return run


def available_engines() -> tuple[str, ...]:
    """The engines this CPU can run: bf16 only with native bf16 matrix products."""
    from gpu_jobs.encoder import cpu_multiplies_bf16

    return tuple(engine for engine in ENGINES if engine != "funnel_bf16" or cpu_multiplies_bf16())


# The CPU comparison ---------------------------------------------------------------------------


def cosine(reference: Any, other: Any) -> dict[str, float]:
    """Per-document cosine of two sets of unit embeddings (rows): minimum and mean."""
    import numpy as np

    values = np.sum(np.asarray(reference) * np.asarray(other), axis=1)
    return {"min": round(float(values.min()), 5), "mean": round(float(values.mean()), 5)}


def mean_tokens(docs: int, max_tokens: int) -> float:
    """Mean encoder tokens per document after truncation (special tokens included)."""
    from transformers import AutoTokenizer

    from gpu_jobs.encoder import encoder_directory

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_directory()), local_files_only=True)
    texts = load_texts(corpus_dir(CORPUS_DOCS), docs)
    ids = tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    return sum(len(row) for row in ids) / len(ids)


def summarize(
    runs: list[dict[str, Any]],
    cosines: dict[str, dict[str, float]],
    config: Mapping[str, int],
    tokens_per_doc: float,
) -> dict[str, Any]:
    """Medians and spreads per engine, ratios to the peer, roofline fractions, fidelity."""
    flops_per_doc = encoder_flops_per_document(config, tokens_per_doc)
    peaks = [run["fp32_peak_gflops"] for run in runs]
    engines: dict[str, Any] = {}
    for engine in ENGINES:
        mine = [run for run in runs if run["engine"] == engine]
        if not mine:
            continue
        rates = [run["docs_per_s"] for run in mine]
        gflops = [rate * flops_per_doc / 1e9 for rate in rates]
        fractions = [
            rate * flops_per_doc / 1e9 / run["fp32_peak_gflops"]
            for rate, run in zip(rates, mine, strict=True)
        ]
        engines[engine] = {
            "docs_per_s": spread(rates),
            "gflops": spread(gflops, 2),
            "fraction_of_fp32_peak": spread(fractions),
        }
    peer_rates = [run["docs_per_s"] for run in runs if run["engine"] == PEER]
    for engine in ENGINES[1:]:
        if engine not in engines:
            continue
        # Ratios pair each funnel run with the peer run of the same round (same load).
        rates = [run["docs_per_s"] for run in runs if run["engine"] == engine]
        per_round = [rate / peer for rate, peer in zip(rates, peer_rates, strict=False)]
        engines[engine]["ratio_to_peer"] = spread(per_round)
        engines[engine]["ratio_to_peer_per_round"] = [round(ratio, 3) for ratio in per_round]
        engines[engine]["ratio_of_medians"] = round(
            engines[engine]["docs_per_s"]["median"] / engines[PEER]["docs_per_s"]["median"], 3
        )
        engines[engine]["cosine_to_peer"] = cosines[engine]
    peer_fraction = engines[PEER]["fraction_of_fp32_peak"]["median"]
    bf16_peaks = [run["bf16_peak_gflops"] for run in runs if "bf16_peak_gflops" in run]
    roofline = {
        "tokens_per_doc": round(tokens_per_doc, 1),
        "gflop_per_doc": round(flops_per_doc / 1e9, 3),
        "fp32_peak_gflops": spread(peaks, 2),
        "fp32_bound_over_peer": round(1 / peer_fraction, 2) if peer_fraction else None,
    }
    if bf16_peaks:
        roofline["bf16_peak_gflops"] = spread(bf16_peaks, 2)
        roofline["bf16_bound_over_peer"] = round(
            statistics.median(bf16_peaks) / engines[PEER]["gflops"]["median"], 2
        )
    return {
        "docs": runs[0]["docs"],
        "repeats": len(peer_rates),
        "torch_threads": runs[0]["torch_threads"],
        "engines": engines,
        "roofline": roofline,
        "target": target_outcome(engines),
    }


def target_outcome(engines: Mapping[str, Any]) -> dict[str, Any]:
    """Which funnel modes reach TARGET_RATIO × the peer with every cosine ≥ TARGET_COSINE.

    Judged on the median of the per-round ratios: each pair of runs shared the same load."""
    modes = {}
    for engine, figures in engines.items():
        if engine == PEER:
            continue
        rounds = figures["ratio_to_peer_per_round"]
        faithful = figures["cosine_to_peer"]["min"] >= TARGET_COSINE
        modes[engine] = {
            "faithful": faithful,
            "met": faithful and figures["ratio_to_peer"]["median"] >= TARGET_RATIO,
            "rounds_reaching": sum(ratio >= TARGET_RATIO for ratio in rounds),
            "rounds": len(rounds),
        }
    return {
        "ratio": TARGET_RATIO,
        "min_cosine": TARGET_COSINE,
        "met_by": [engine for engine, mode in modes.items() if mode["met"]],
        "modes": modes,
    }


def cpu_comparison(
    docs: int, repeats: int, max_tokens: int, batch_size: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every engine `repeats` times, alternating, each in a fresh process: (summary, runs)."""
    import numpy as np

    corpus_dir(CORPUS_DOCS)
    work = Path(tempfile.mkdtemp(prefix="funnel-bench-score-"))
    try:
        runs = []
        vectors: dict[str, Any] = {}
        engines = available_engines()
        for round_ in range(repeats):
            for engine in engines:
                path = work / f"{engine}-{round_}.npy"
                arguments = [
                    "--engine", engine, "--docs", str(docs), "--max-tokens", str(max_tokens),
                    "--batch-size", str(batch_size), "--embeddings", str(path),
                ]  # fmt: skip
                run = run_engine("benchmarks.score", arguments)
                print(
                    f"  round {round_ + 1}: {engine:22s} {run['docs_per_s']:8.2f} docs/s "
                    f"(fp32 peak {run['fp32_peak_gflops']} GFLOP/s)",
                    flush=True,
                )
                runs.append({"round": round_ + 1, **run})
                vectors.setdefault(engine, np.load(path))
        cosines = {engine: cosine(vectors[PEER], vectors[engine]) for engine in engines[1:]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(runs, cosines, model_config(), mean_tokens(docs, max_tokens))
    summary.update(max_tokens=max_tokens, batch_size=batch_size)
    return summary, runs


# The GPU part ---------------------------------------------------------------------------------


def bf16_matmul_flops(device: Any, size: int = 8192, repeats: int = 20) -> float:
    """Measured bf16 matrix-product rate of the card, FLOP/s."""
    import torch

    left = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    right = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        left @ right
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        left @ right
    torch.cuda.synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def gpu_measurement(docs: int, max_tokens: int, batch_tokens: int) -> dict[str, Any]:
    """Forward-only tokens/s against the card's bf16 peak, and end-to-end documents/s."""
    import torch

    from gpu_jobs.encoder import load_encoder
    from gpu_jobs.runner import encode_documents, plan_batches

    device = torch.device("cuda")
    texts = load_texts(corpus_dir(CORPUS_DOCS), docs)
    encoder = load_encoder("cuda", "fp32", max_tokens)
    name = torch.cuda.get_device_name(device)
    measured_peak = bf16_matmul_flops(device)
    token_ids = encoder.tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    lengths = [len(ids) for ids in token_ids]
    batches = []
    for members in plan_batches(lengths, batch_tokens):
        longest = lengths[members[0]]
        ids = torch.zeros((len(members), longest), dtype=torch.long)
        mask = torch.zeros((len(members), longest), dtype=torch.long)
        for row, index in enumerate(members):
            ids[row, : lengths[index]] = torch.tensor(token_ids[index])
            mask[row, : lengths[index]] = 1
        batches.append((ids.to(device), mask.to(device)))

    def forward_only() -> None:
        with torch.inference_mode(), encoder.autocast():
            for ids, mask in batches:
                encoder.model(input_ids=ids, attention_mask=mask)
        torch.cuda.synchronize(device)

    def end_to_end() -> None:
        encode_documents(encoder, texts, batch_tokens)
        torch.cuda.synchronize(device)

    forward_only()
    forward_seconds = min(_seconds(forward_only) for _ in range(3))
    encode_documents(encoder, texts[:WARMUP_DOCS], batch_tokens)
    total_seconds = min(_seconds(end_to_end) for _ in range(3))
    tokens = sum(lengths)
    # Useful FLOPs summed per document (attention grows with each document's own length).
    config = model_config()
    flops = sum(encoder_flops_per_document(config, length) for length in lengths)
    sheet_peak = bf16_dense_peak_tflops(name)
    forward_flops = flops / forward_seconds
    return {
        "card": name,
        "docs": len(texts),
        "tokens": tokens,
        "bf16_dense_peak_tflops_sheet": sheet_peak,
        "bf16_matmul_tflops_measured": round(measured_peak / 1e12, 1),
        "forward_tokens_per_s": round(tokens / forward_seconds),
        "forward_tflops": round(forward_flops / 1e12, 2),
        "forward_fraction_of_sheet_peak": round(forward_flops / (sheet_peak * 1e12), 4)
        if sheet_peak
        else None,
        "forward_fraction_of_measured_peak": round(forward_flops / measured_peak, 4),
        "forward_docs_per_s": round(len(texts) / forward_seconds, 1),
        "end_to_end_docs_per_s": round(len(texts) / total_seconds, 1),
        "end_to_end_tokens_per_s": round(tokens / total_seconds),
        "end_to_end_over_forward": round(forward_seconds / total_seconds, 3),
    }


def _seconds(function: Callable[[], None]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


# Rendering ------------------------------------------------------------------------------------


def _spread_cell(figures: Mapping[str, Any], unit: str = "") -> str:
    return f"{figures['median']}{unit} ({figures['min']}–{figures['max']}, n = {figures['n']})"


def render(result: dict[str, Any]) -> str:
    """Markdown tables of the CPU comparison and roofline (or of the GPU figures)."""
    summary = result["summary"]
    if "card" in summary:
        rows = ["| figure | value |", "|---|---:|"]
        rows += [f"| {key.replace('_', ' ')} | {value} |" for key, value in summary.items()]
        return "\n".join(rows)
    engines = summary["engines"]
    rows = [
        f"{summary['docs']} documents, {summary['roofline']['tokens_per_doc']} tokens each on "
        f"average (max {summary['max_tokens']}), batch size {summary['batch_size']}, "
        f"{summary['torch_threads']} torch threads; median of {summary['repeats']} alternating "
        "rounds (min–max).",
        "",
        "| engine | documents/s | ratio to peer (per round) | ratio of medians | "
        "cosine to peer (min / mean) | GFLOP/s | fraction of fp32 peak |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for engine, figures in engines.items():
        ratio = figures.get("ratio_to_peer")
        fidelity = figures.get("cosine_to_peer")
        agreement = f"{fidelity['min']} / {fidelity['mean']}" if fidelity else "—"
        rows.append(
            f"| {engine} | {_spread_cell(figures['docs_per_s'])} | "
            f"{_spread_cell(ratio) if ratio else '1 (peer)'} | "
            f"{figures.get('ratio_of_medians', 1.0)} | "
            f"{agreement} | "
            f"{figures['gflops']['median']} | {figures['fraction_of_fp32_peak']['median']} |"
        )
    roofline = summary["roofline"]
    target = summary["target"]
    rows += [
        "",
        "| roofline | value |",
        "|---|---:|",
        f"| tokens per document (mean, measured) | {roofline['tokens_per_doc']} |",
        f"| GFLOP per document (encoder forward) | {roofline['gflop_per_doc']} |",
        f"| fp32 peak, {PEAK_SIZE}² matrix product, GFLOP/s | "
        f"{_spread_cell(roofline['fp32_peak_gflops'])} |",
        f"| most an fp32 runner can gain over the peer | {roofline['fp32_bound_over_peer']}× |",
    ]
    if "bf16_peak_gflops" in roofline:
        rows += [
            f"| bf16 peak, {PEAK_SIZE}² matrix product, GFLOP/s | "
            f"{_spread_cell(roofline['bf16_peak_gflops'])} |",
            f"| most a bf16 runner can gain over the peer | {roofline['bf16_bound_over_peer']}× |",
        ]
    met_by = ", ".join(target["met_by"]) or "no mode"
    rows += [
        "",
        f"Target: a funnel CPU mode ≥ {target['ratio']}× the peer with every document's cosine "
        f"to the peer ≥ {target['min_cosine']} — **{'met' if target['met_by'] else 'not met'}** "
        f"({met_by}) on the median of the per-round ratios.",
        *(
            f"- {engine}: {mode['rounds_reaching']} of {mode['rounds']} rounds reach the ratio"
            + ("" if mode["faithful"] else "; cosine below the bound, so it cannot qualify")
            for engine, mode in target["modes"].items()
        ),
        "",
        "Under a high load average the rounds scatter; read the ratios with their ranges.",
    ]
    return "\n".join(rows)


# Command line ---------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    """Run the CPU comparison (or, with --gpu, the CUDA measurement) and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DOCS} documents")
    parser.add_argument("--docs", type=int, help=f"documents (default {FULL_DOCS})")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--batch-size", type=int, default=PEER_BATCH)
    parser.add_argument("--gpu", action="store_true", help="the CUDA measurement instead")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--embeddings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    docs = args.docs or (QUICK_DOCS if args.quick else FULL_DOCS)
    if docs > CORPUS_DOCS:
        parser.error(f"--docs is at most {CORPUS_DOCS} (the generated corpus)")
    if args.engine:
        run = engine_run(args.engine, docs, args.max_tokens, args.batch_size, args.embeddings)
        print(json.dumps(run))
        return
    command = " ".join(["python -m benchmarks.score", *argv])
    load_before = load_average()
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--gpu: torch sees no CUDA device here; run without --gpu")
        summary = gpu_measurement(docs, args.max_tokens, args.batch_size * args.max_tokens)
        for key, value in summary.items():
            print(f"{key:36s} {value}")
        path = record("score_gpu", command, summary, [summary], quick=args.quick,
                      load_before=load_before)  # fmt: skip
        print(f"saved {path}")
        return
    engines = ", ".join(available_engines())
    print(f"score: {docs} documents, {args.repeats} rounds of {engines}", flush=True)
    summary, runs = cpu_comparison(docs, args.repeats, args.max_tokens, args.batch_size)
    for engine, figures in summary["engines"].items():
        extra = ""
        if "ratio_to_peer" in figures:
            fidelity = figures["cosine_to_peer"]
            extra = (
                f"  {figures['ratio_to_peer']['median']}x the peer (median of rounds), "
                f"cosine min {fidelity['min']} "
                f"mean {fidelity['mean']}"
            )
        print(
            f"{engine:22s} {figures['docs_per_s']['median']:8.2f} docs/s, "
            f"{figures['fraction_of_fp32_peak']['median']:.2f} of fp32 peak{extra}"
        )
    roofline = summary["roofline"]
    print(
        f"fp32 peak {roofline['fp32_peak_gflops']['median']} GFLOP/s; "
        f"{roofline['gflop_per_doc']} GFLOP per document; an fp32 runner can gain at most "
        f"{roofline['fp32_bound_over_peer']}x over the peer"
    )
    path = record("score", command, summary, runs, quick=args.quick, load_before=load_before)
    print(f"saved {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
