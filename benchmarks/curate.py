"""Curate benchmark: throughput of the whole curate stage on scored documents.

funnel's `spark_jobs.curate.curate` ranks documents by quality within each domain, selects,
counts tokens (`tokenizers`, the encoder's tokenizer.json), computes the domain mixture with its
weights and writes the rejection rows. Texts cycle through the bundled sample corpus (400 per
file), one domain per source, quality scores from a hash of the row number.

No peer: no library does this same work. The earlier comparison against transformers'
`PreTrainedTokenizerFast` measured token counting alone, a fraction of what curate does, so its
ratio said nothing about the stage; it was dropped. What is reported is funnel's own documents/s
(median and spread of repeated runs in one process, after a warm-up run) and the process's peak
RSS — a throughput figure to compare across commits, not against another tool.

The full profile runs 10,000 documents five times; the quick profile (`--quick`) 2,000 three times.

    python -m benchmarks.curate [--quick] [--docs N --repeats N]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks.measure import load_average, peak_rss_mb, record, spread
from lakehouse.recipe import CurateConfig
from spark_jobs.curate import curate, load_tokenizer

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


TITLE = "Curate (release candidate) throughput"
FULL_DOCS, FULL_REPEATS = 10_000, 5
QUICK_DOCS, QUICK_REPEATS = 2_000, 3


def curate_config(scored: pa.Table) -> CurateConfig:
    """A curate configuration over the table's domains: quality floor, top 90 %, equal shares."""
    domains = sorted(set(scored["domain"].to_pylist()))
    return CurateConfig(
        min_quality_score=0.3,
        top_fraction_per_domain=0.9,
        target_token_shares={domain: 1 / len(domains) for domain in domains},
    )


def measure(docs: int, repeats: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Curate the same scored rows `repeats` times after a warm-up; summary and every run."""
    scored = scored_table(docs)
    config = curate_config(scored)
    tokenizer = load_tokenizer()
    curate(scored, config, tokenizer)  # warm-up: first-call costs of the tokenizer and Arrow
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        curate(scored, config, tokenizer)
        seconds = time.perf_counter() - started
        runs.append({"seconds": seconds, "docs_per_s": docs / seconds})
    summary = {
        "docs": docs,
        "domains": len(config.target_token_shares),
        "seconds": spread([run["seconds"] for run in runs]),
        "docs_per_s": spread([run["docs_per_s"] for run in runs], 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    return summary, runs


def render(result: dict[str, Any]) -> str:
    """funnel's curate throughput and peak RSS as a markdown table."""
    summary = result["summary"]
    rate, seconds = summary["docs_per_s"], summary["seconds"]
    return "\n".join(
        [
            "| documents | domains | median s | documents/s (median) | documents/s min–max, n | "
            "peak RSS, MiB |",
            "|---:|---:|---:|---:|---|---:|",
            f"| {summary['docs']:,} | {summary['domains']} | {seconds['median']:.3f} | "
            f"{rate['median']:,.1f} | {rate['min']:,.1f}–{rate['max']:,.1f}, {rate['n']} | "
            f"{summary['peak_rss_mb']:,.0f} |",
        ]
    )


def main() -> None:
    """Curate the same rows `--repeats` times; print and record the throughput."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 documents, three times")
    parser.add_argument("--docs", type=int, help="scored documents")
    parser.add_argument("--repeats", type=int, help="timed runs")
    args = parser.parse_args()
    docs = args.docs or (QUICK_DOCS if args.quick else FULL_DOCS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    command = "python -m benchmarks.curate" + (" --quick" if args.quick else "")
    if args.docs or args.repeats:
        command += f" --docs {docs} --repeats {repeats}"
    load_before = load_average()
    summary, runs = measure(docs, repeats)
    record("curate", command, summary, runs, quick=args.quick, load_before=load_before)
    print(
        f"curate {docs} docs: {summary['docs_per_s']['median']} docs/s (median of {repeats}), "
        f"peak RSS {summary['peak_rss_mb']} MiB"
    )


if __name__ == "__main__":
    main()
