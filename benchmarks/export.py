"""Export benchmark: `funnel export` against the tokenizer library's own batch-encode loop.

Peer: Hugging Face `tokenizers` itself — the release's texts read block by block and passed to
`Tokenizer.encode_batch`, the least any tokenized export must do. funnel does that plus the
seeded document order, the shard files, the doc index and the resume bookkeeping
(`serving.export.export_release`). The ratio (funnel tokens/s ÷ peer tokens/s) is the price of
the rest. Engines alternate (peer, funnel, peer, funnel…), each run in a fresh process, so its
peak RSS is its own; both must count the same tokens.

The release holds documents whose texts cycle through the bundled sample (400 per file), each cut
to `--chars` characters, exported with the default settings. The full profile exports 1,000,000
documents of 60 characters three times per engine (Megatron `.bin/.idx`); the quick profile
(`--quick`) 10,000 documents three times.

    python -m benchmarks.export [--quick] [--docs N --chars N --repeats N --format F]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.measure import load_average, median, peak_rss_mb, record, run_engine, spread
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.landing import doc_id
from lakehouse.releases import ReleaseManifest, manifest_files, publish_release, release_manifest
from lakehouse.tables import GOLD_RELEASE_CANDIDATE
from serving.export import (
    ExportRequest,
    bundled_tokenizer_path,
    export_release,
    load_export_tokenizer,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "landing"
DATA = Path("bench-data") / "export"
TITLE = "Export (tokenized shards) against the tokenizer's own batch-encode loop"
ENGINES = ("peer", "funnel")
FULL_DOCS, FULL_CHARS, FULL_REPEATS = 1_000_000, 60, 3
QUICK_DOCS, QUICK_CHARS, QUICK_REPEATS = 10_000, 60, 3
RELEASE = "bench"
TOKENIZER = "all-minilm-l6-v2"
_CHUNK = 100_000
_COMMIT = CommitInfo(run_id="bench", stage="bench", recipe_sha256="0" * 64, code_version="bench")


def _sample_texts(chars: int) -> list[tuple[str, str]]:
    texts = []
    for path in sorted(SAMPLE.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for _, line in zip(range(400), handle, strict=False):
                texts.append((path.parent.name, json.loads(line)["text"][:chars]))
    return texts


def build_release(root: Path, docs: int, chars: int) -> Catalog:
    """A lake whose release `bench` holds `docs` documents cycling through the sample's texts
    (each cut to `chars` characters); reused when it already exists."""
    catalog = Catalog(str(root))
    if catalog.exists(GOLD_RELEASE_CANDIDATE):
        return catalog
    texts = _sample_texts(chars)
    version = 0
    for start in range(0, docs, _CHUNK):
        rows = []
        for index in range(start, min(docs, start + _CHUNK)):
            source, text = texts[index % len(texts)]
            text = f"{index} {text}"
            rows.append(
                {
                    "doc_id": doc_id(f"file:///bench/{source}", index),
                    "batch_id": "bench",
                    "source": source,
                    "source_domain": source,
                    "license": "CC0-1.0",
                    "source_uri": f"file:///bench/{source}",
                    "source_record": index,
                    "text": text,
                    "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "lang": "en",
                    "quality_score": 0.5,
                    "domain": source,
                    "domain_prob": 1.0,
                    "domain_quality_rank": 0.0,
                    "tokens": 0,
                    "weight": 1.0,
                }
            )
        table = pa.Table.from_pylist(rows, GOLD_RELEASE_CANDIDATE.schema)
        version = catalog.write(GOLD_RELEASE_CANDIDATE, table, _COMMIT, overwrite=start == 0)
    manifest = ReleaseManifest(
        name=RELEASE,
        published_at=datetime(2026, 12, 1, tzinfo=UTC),
        run_id="bench",
        recipe_sha256="0" * 64,
        code_version="bench",
        candidate_version=version,
        pinned_tables={GOLD_RELEASE_CANDIDATE.key: version},
        documents=docs,
        tokens=0,
        weighted_tokens=0.0,
        domains=[],
        review={},
    )
    publish_release(catalog, manifest, _COMMIT)
    return catalog


def run_funnel(root: str, output: str, format: str) -> dict[str, float]:
    """One export into a fresh `output`: seconds, tokens, peak RSS of this process."""
    shutil.rmtree(output, ignore_errors=True)
    request = ExportRequest(
        release=RELEASE,
        format=format,
        tokenizer=TOKENIZER,
        tokenizer_path=bundled_tokenizer_path(TOKENIZER),
        output=Path(output),
    )
    started = time.perf_counter()
    manifest = export_release(Catalog(root), request)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tokens": manifest["tokens"], "peak_rss_mb": peak_rss_mb()}


def run_peer(root: str, block: int = 4096) -> dict[str, float]:
    """The release's texts read block by block and passed to `encode_batch`: nothing else."""
    catalog = Catalog(root)
    tokenizer = load_export_tokenizer(bundled_tokenizer_path(TOKENIZER))
    files = manifest_files(catalog, release_manifest(catalog, RELEASE))
    started = time.perf_counter()
    tokens = 0
    for path in sorted(files):
        for batch in pq.ParquetFile(path.removeprefix("file://")).iter_batches(
            batch_size=block, columns=["text"]
        ):
            encodings = tokenizer.encode_batch(batch["text"].to_pylist(), add_special_tokens=False)
            tokens += sum(len(encoding.ids) for encoding in encodings)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "tokens": tokens, "peak_rss_mb": peak_rss_mb()}


def summarize(runs: list[dict[str, Any]], docs: int, chars: int, format: str) -> dict[str, Any]:
    """Per engine: seconds (median, spread), tokens/s and peak RSS; the ratio funnel ÷ peer."""
    tokens = {run["tokens"] for run in runs}
    if len(tokens) != 1:
        raise RuntimeError(f"the engines tokenized different texts: token counts {sorted(tokens)}")
    (total,) = tokens
    summary: dict[str, Any] = {"docs": docs, "chars_per_doc": chars, "format": format}
    summary["tokens"] = total
    for engine in ENGINES:
        results = [run for run in runs if run["engine"] == engine]
        summary[engine] = {
            "seconds": spread([run["seconds"] for run in results], 2),
            "tokens_per_s": round(total / median(results, "seconds")),
            "peak_rss_mb": round(max(run["peak_rss_mb"] for run in results), 1),
        }
    # tokens/s ratio = inverse ratio of the median times (same tokens), before any rounding.
    summary["ratio_tokens_per_s"] = round(
        median([run for run in runs if run["engine"] == "peer"], "seconds")
        / median([run for run in runs if run["engine"] == "funnel"], "seconds"),
        3,
    )
    return summary


def render(result: dict[str, Any]) -> str:
    """Both engines' time, tokens/s and peak RSS beside the ratio, as markdown."""
    summary = result["summary"]
    what = {
        "peer": "`tokenizers.Tokenizer.encode_batch`, texts read block by block, nothing written",
        "funnel": "`serving.export.export_release`: seeded order, shards, doc index, progress",
    }
    rows = [
        f"{summary['docs']:,} documents of at most {summary['chars_per_doc']} characters, "
        f"{summary['tokens']:,} tokens, format `{summary['format']}`.",
        "",
        "| engine | what it does | median s | min–max s, n | tokens/s | peak RSS, MiB |",
        "|---|---|---:|---|---:|---:|",
    ]
    for engine in ENGINES:
        figures = summary[engine]
        seconds = figures["seconds"]
        rows.append(
            f"| {engine} | {what[engine]} | {seconds['median']:.2f} | {seconds['min']:.2f}–"
            f"{seconds['max']:.2f}, {seconds['n']} | {figures['tokens_per_s']:,} | "
            f"{figures['peak_rss_mb']:,.0f} |"
        )
    rows += ["", f"Ratio funnel ÷ peer tokens/s: **{summary['ratio_tokens_per_s']:.2f}**."]
    return "\n".join(rows)


def main() -> None:
    """Run both engines, alternating, on the same release; print and record the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 documents, three times")
    parser.add_argument("--docs", type=int, help="documents in the release")
    parser.add_argument("--chars", type=int, help="characters per document")
    parser.add_argument("--repeats", type=int, help="runs of each engine")
    parser.add_argument("--format", choices=["mds", "megatron", "jsonl"], default="megatron")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # one run in this (fresh) process
        output = str(Path(args.root).parent / "out")
        measured = (
            run_funnel(args.root, output, args.format)
            if args.engine == "funnel"
            else run_peer(args.root)
        )
        print(json.dumps(measured))
        return
    docs = args.docs or (QUICK_DOCS if args.quick else FULL_DOCS)
    chars = args.chars or (QUICK_CHARS if args.quick else FULL_CHARS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    command = "python -m benchmarks.export" + (" --quick" if args.quick else "")
    if args.docs or args.chars or args.repeats or args.format != "megatron":
        command += f" --docs {docs} --chars {chars} --repeats {repeats} --format {args.format}"
    root = DATA / f"lake-{docs}-{chars}"
    build_release(root, docs, chars)
    load_before = load_average()
    common = ["--root", str(root), "--format", args.format]
    runs = []
    for _ in range(repeats):
        for engine in ENGINES:
            measured = run_engine("benchmarks.export", ["--engine", engine, *common])
            runs.append({"engine": engine, **measured})
    summary = summarize(runs, docs, chars, args.format)
    record("export", command, summary, runs, quick=args.quick, load_before=load_before)
    print(
        f"export {docs} docs ({summary['tokens']} tokens, {args.format}): funnel "
        f"{summary['funnel']['tokens_per_s']} tokens/s, tokenizers encode_batch alone "
        f"{summary['peer']['tokens_per_s']} tokens/s; ratio {summary['ratio_tokens_per_s']}"
    )


if __name__ == "__main__":
    main()
