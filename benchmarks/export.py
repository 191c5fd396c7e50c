"""Export benchmark: `funnel export` against the tokenizer library's own batch-encode loop.

Peer: Hugging Face `tokenizers` itself — the release's texts read block by block and passed to
`Tokenizer.encode_batch`, the least any tokenized export must do. funnel does that plus the
seeded document order, the shard files, the doc index and the resume bookkeeping
(`serving.export.export_release`). The ratio (funnel tokens/s ÷ peer tokens/s) is the price of
the rest; each engine runs in a fresh process, so its peak RSS is its own.

    python -m benchmarks.export --docs 1000000 --repeats 3 --format megatron
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.measure import machine, peak_rss_mb, run_engine, write_result
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
RESULTS = Path("bench-data") / "results"
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


def main() -> None:
    """Run both engines `--repeats` times on the same release; print and save the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents in the release")
    parser.add_argument("--chars", type=int, default=300, help="characters per document")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each engine")
    parser.add_argument("--format", choices=["mds", "megatron", "jsonl"], default="megatron")
    parser.add_argument("--engine", choices=["funnel", "peer"], help=argparse.SUPPRESS)
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
    root = DATA / f"lake-{args.docs}-{args.chars}"
    build_release(root, args.docs, args.chars)
    module = "benchmarks.export"
    common = ["--root", str(root), "--format", args.format]
    runs: dict[str, list[dict[str, float]]] = {"funnel": [], "peer": []}
    for _ in range(args.repeats):
        for engine in runs:
            runs[engine].append(run_engine(module, ["--engine", engine, *common]))
    funnel = statistics.median(run["seconds"] for run in runs["funnel"])
    peer = statistics.median(run["seconds"] for run in runs["peer"])
    tokens = runs["funnel"][0]["tokens"]
    assert tokens == runs["peer"][0]["tokens"], "the engines tokenized different texts"
    result = {
        "benchmark": "export",
        "docs": args.docs,
        "chars_per_doc": args.chars,
        "format": args.format,
        "tokens": tokens,
        "repeats": args.repeats,
        "funnel_seconds": [round(run["seconds"], 2) for run in runs["funnel"]],
        "peer_seconds": [round(run["seconds"], 2) for run in runs["peer"]],
        "funnel_tokens_per_s": round(tokens / funnel),
        "peer_tokens_per_s": round(tokens / peer),
        "ratio": round(peer / funnel, 3),
        "funnel_peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs["funnel"]), 1),
        "peer_peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs["peer"]), 1),
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.export " + " ".join(sys.argv[1:]),
    }
    write_result("export", result, RESULTS)
    print(
        f"export {args.docs} docs ({tokens} tokens, {args.format}): funnel "
        f"{result['funnel_tokens_per_s']} tokens/s, tokenizers encode_batch alone "
        f"{result['peer_tokens_per_s']} tokens/s; ratio {result['ratio']}; peak RSS funnel "
        f"{result['funnel_peak_rss_mb']} MiB, peer {result['peer_peak_rss_mb']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
