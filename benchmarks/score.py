"""Score benchmark: the score stage's encoder runner against plain SentenceTransformer.encode.

    python -m benchmarks.score [--docs 10000] [--max-tokens 256] [--corpus DIR] [--gpu]

CPU part (always): the same documents (the first N of a generated corpus, all sources
interleaved) are embedded in this process, at the same maximum length, by

- the peer: `SentenceTransformer(<the package's model folder>).encode` (batch size 32, sorted
  by length, normalized embeddings) — the usual way to run this model;
- funnel fp32: `gpu_jobs.runner.encode_documents` (tokenization in a background thread,
  length-bucketed batches under a token budget), the recipe's default CPU mode;
- funnel int8: the same runner on the int8 dynamically quantized encoder.

Each prints documents/s, the ratio to the peer and the cosine similarity of its embeddings to
the peer's fp32 embeddings (minimum and mean over documents). A warm-up batch runs first.

The CPU ceiling: the machine's measured fp32 matrix-product rate at the encoder's feed-forward
shape, and the FLOP/s each engine achieved (2 × non-embedding parameters plus attention, per
token). An fp32 engine cannot be faster than that rate allows, so `peer_fraction_of_fp32_rate`
bounds what any fp32 runner can gain over the peer: at most 1 / fraction.

GPU part (`--gpu`, only where CUDA is present): the card's measured bf16 matrix-product rate;
tokens/s of the encoder forward alone on pre-tokenized batches already on the GPU, as a
fraction of that rate (2 × non-embedding parameters FLOPs per token plus attention); and
end-to-end documents/s of the runner (tokenization and copies included) against forward-only
documents/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from benchmarks.measure import machine, write_result
from gpu_jobs.encoder import Encoder, encoder_directory, load_encoder
from gpu_jobs.runner import encode_documents, plan_batches

RESULTS = Path("bench-data") / "results"
DEFAULT_CORPUS = Path("bench-data") / "corpus-10000"
PEER_BATCH = 32
WARMUP_DOCS = 32


def load_texts(corpus: Path, docs: int) -> list[str]:
    """The first `docs` texts of a corpus folder, sources interleaved round-robin."""
    per_source: list[list[str]] = []
    for path in sorted(corpus.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            per_source.append([json.loads(line)["text"] for line in handle])
    texts: list[str] = []
    position = 0
    while len(texts) < docs and any(position < len(texts_) for texts_ in per_source):
        texts.extend(source[position] for source in per_source if position < len(source))
        position += 1
    if len(texts) < docs:
        raise SystemExit(f"{corpus} has only {len(texts)} documents; generate a larger corpus")
    return texts[:docs]


def cosine(reference: torch.Tensor, other: torch.Tensor) -> dict[str, float]:
    """Per-document cosine of two sets of unit embeddings: minimum and mean."""
    values = (reference * other).sum(dim=1)
    return {
        "cosine_min": round(float(values.min()), 5),
        "cosine_mean": round(float(values.mean()), 5),
    }


def timed(function: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def fp32_matmul_flops(encoder: Encoder, seconds: float = 3.0) -> float:
    """Measured fp32 matrix-product rate of this CPU at the encoder's feed-forward shape."""
    config = encoder.model.config
    rows = 8192
    left = torch.randn(rows, config.hidden_size)
    right = torch.randn(config.hidden_size, config.intermediate_size)
    left @ right
    products = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        left @ right
        products += 1
    elapsed = time.perf_counter() - started
    return 2 * rows * config.hidden_size * config.intermediate_size * products / elapsed


def cpu_part(texts: list[str], max_tokens: int, batch_tokens: int) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    peer = SentenceTransformer(str(encoder_directory()), device="cpu")
    peer.max_seq_length = max_tokens
    peer.encode(texts[:WARMUP_DOCS], batch_size=PEER_BATCH)
    peer_embeddings, peer_seconds = timed(
        lambda: torch.from_numpy(
            peer.encode(texts, batch_size=PEER_BATCH, normalize_embeddings=True)
        )
    )
    rows: dict[str, Any] = {
        "sentence_transformers": {
            "docs_per_s": round(len(texts) / peer_seconds, 2),
            "seconds": round(peer_seconds, 2),
        }
    }
    reference = load_encoder("cpu", "fp32", max_tokens)
    rate = fp32_matmul_flops(reference)
    tokens = [
        len(ids)
        for ids in reference.tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    ]
    work = sum(tokens) * forward_flops_per_token(reference, sum(tokens) / len(tokens))
    rows["ceiling"] = {
        "fp32_matmul_gflops": round(rate / 1e9, 1),
        "peer_gflops": round(work / peer_seconds / 1e9, 1),
        "peer_fraction_of_fp32_rate": round(work / peer_seconds / rate, 3),
        "fp32_bound_over_peer": round(rate * peer_seconds / work, 2),
    }
    for precision in ("fp32", "int8"):
        encoder = load_encoder("cpu", precision, max_tokens)  # type: ignore[arg-type]
        encode_documents(encoder, texts[:WARMUP_DOCS], batch_tokens)
        encoded, seconds = timed(
            lambda encoder=encoder: encode_documents(encoder, texts, batch_tokens)
        )
        rows[f"funnel_{precision}"] = {
            "docs_per_s": round(len(texts) / seconds, 2),
            "seconds": round(seconds, 2),
            "ratio_to_sentence_transformers": round(peer_seconds / seconds, 3),
            **cosine(peer_embeddings, encoded.embeddings),
            "tokens": int(encoded.tokens.sum()),
            "gflops": round(work / seconds / 1e9, 1),
        }
    return rows


def bf16_matmul_flops(device: torch.device, size: int = 8192, repeats: int = 20) -> float:
    """Measured bf16 matrix-product rate of the card, FLOP/s."""
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


def forward_flops_per_token(encoder: Encoder, mean_length: float) -> float:
    """2 × encoder-layer parameters, plus attention (QKᵀ and AV) at the mean sequence length.

    Embeddings are lookups and the pooler sees one token per document, so neither counts.
    """
    model = encoder.model
    parameters = sum(p.numel() for p in model.encoder.parameters())
    config = model.config
    attention = 4 * config.num_hidden_layers * mean_length * config.hidden_size
    return 2 * parameters + attention


def gpu_part(texts: list[str], max_tokens: int, batch_tokens: int) -> dict[str, Any]:
    device = torch.device("cuda")
    encoder = load_encoder("cuda", "fp32", max_tokens)
    peak = bf16_matmul_flops(device)
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

    forward_only()
    _, forward_seconds = timed(forward_only)
    tokens = sum(lengths)
    flops_per_token = forward_flops_per_token(encoder, tokens / len(lengths))
    encode_documents(encoder, texts[:WARMUP_DOCS], batch_tokens)

    def end_to_end() -> None:
        encode_documents(encoder, texts, batch_tokens)
        torch.cuda.synchronize(device)

    _, total_seconds = timed(end_to_end)
    forward_tokens_per_s = tokens / forward_seconds
    return {
        "card": torch.cuda.get_device_name(device),
        "bf16_matmul_tflops": round(peak / 1e12, 1),
        "forward_tokens_per_s": round(forward_tokens_per_s),
        "forward_fraction_of_bf16_peak": round(forward_tokens_per_s * flops_per_token / peak, 3),
        "forward_docs_per_s": round(len(texts) / forward_seconds, 1),
        "end_to_end_docs_per_s": round(len(texts) / total_seconds, 1),
        "end_to_end_over_forward": round(forward_seconds / total_seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--gpu", action="store_true", help="also run the CUDA part")
    parser.add_argument("--skip-cpu", action="store_true", help="only the CUDA part")
    args = parser.parse_args()
    texts = load_texts(args.corpus, args.docs)
    result: dict[str, Any] = {
        "benchmark": "score",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "docs": len(texts),
        "max_tokens": args.max_tokens,
        "batch_tokens": args.batch_tokens,
    }
    if not args.skip_cpu:
        result["cpu"] = cpu_part(texts, args.max_tokens, args.batch_tokens)
        for name, row in result["cpu"].items():
            if "docs_per_s" not in row:
                print(f"{name:24s} {row}")
                continue
            extra = ""
            if "ratio_to_sentence_transformers" in row:
                extra = (
                    f"  ratio {row['ratio_to_sentence_transformers']}x  cosine min "
                    f"{row['cosine_min']} mean {row['cosine_mean']}"
                )
            print(f"{name:24s} {row['docs_per_s']:8.2f} docs/s{extra}")
    if args.gpu:
        if not torch.cuda.is_available():
            print("--gpu: no CUDA device here; GPU part skipped")
        else:
            result["gpu"] = gpu_part(texts, args.max_tokens, args.batch_tokens)
            for key, value in result["gpu"].items():
                print(f"{key:32s} {value}")
    path = write_result(f"score-{len(texts)}", result, RESULTS)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
