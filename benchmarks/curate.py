"""Curate benchmark: the whole curate stage against token counting alone with transformers.

Peer: Hugging Face transformers' fast tokenizer (`PreTrainedTokenizerFast`, the same
tokenizer.json), called on the batch of texts the usual way — the least any curation that
reports token counts must do. funnel does that plus the quality rank per domain, the selection,
the domain mixture with weights and the rejection rows (`spark_jobs.curate.curate`). The ratio
(funnel documents/s ÷ peer documents/s) is the price of the rest; the target is ≥ 0.8.

    python -m benchmarks.curate --docs 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from benchmarks.measure import machine, peak_rss_mb, write_result
from lakehouse.recipe import CurateConfig
from spark_jobs.curate import curate, encoder_tokenizer_path, load_tokenizer

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "landing"
RESULTS = Path("bench-data") / "results"


def scored_table(docs: int) -> pa.Table:
    """`docs` scored rows whose texts cycle through the sample corpus, one domain per source."""
    texts: list[tuple[str, str]] = []
    for path in sorted(SAMPLE.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for _, line in zip(range(400), handle, strict=False):
                texts.append((path.parent.name, json.loads(line)["text"]))
    rows = []
    for index in range(docs):
        source, text = texts[index % len(texts)]
        digest = hashlib.sha256(f"{index}".encode()).digest()
        rows.append(
            {
                "doc_id": digest.hex()[:32],
                "batch_id": "bench",
                "domain": source,
                "quality_score": digest[0] / 255,
                "text": f"{index} {text}",
            }
        )
    return pa.Table.from_pylist(rows)


def _curate_seconds(scored: pa.Table, config: CurateConfig) -> float:
    tokenizer = load_tokenizer()
    started = time.perf_counter()
    curate(scored, config, tokenizer)
    return time.perf_counter() - started


def _peer_seconds(scored: pa.Table) -> float:
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(encoder_tokenizer_path()))
    texts = scored["text"].to_pylist()
    started = time.perf_counter()
    counts = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    elapsed = time.perf_counter() - started
    assert len(counts) == len(texts)
    return elapsed


def main() -> None:
    """Run both engines `--repeats` times on the same rows; print and save the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000, help="scored documents")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each engine")
    args = parser.parse_args()
    scored = scored_table(args.docs)
    domains = sorted(set(scored["domain"].to_pylist()))
    config = CurateConfig(
        min_quality_score=0.3,
        top_fraction_per_domain=0.9,
        target_token_shares={domain: 1 / len(domains) for domain in domains},
    )
    funnel = statistics.median(_curate_seconds(scored, config) for _ in range(args.repeats))
    peer = statistics.median(_peer_seconds(scored) for _ in range(args.repeats))
    result = {
        "benchmark": "curate",
        "docs": args.docs,
        "repeats": args.repeats,
        "funnel_docs_per_s": round(args.docs / funnel, 1),
        "transformers_tokenizer_docs_per_s": round(args.docs / peer, 1),
        "ratio": round(peer / funnel, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_result("curate", result, RESULTS)
    print(
        f"curate {args.docs} docs: funnel {result['funnel_docs_per_s']} docs/s (rank, select, "
        f"tokens, mixture), transformers tokenizer alone "
        f"{result['transformers_tokenizer_docs_per_s']} docs/s; ratio {result['ratio']} "
        "(target ≥ 0.8)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
