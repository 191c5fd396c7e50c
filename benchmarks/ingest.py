"""Ingest benchmark: funnel's bronze stage against plain pyarrow on the same JSON-lines files.

Peer: pyarrow reads each file (`pyarrow.json.read_json`, multithreaded) and writes it as Parquet —
the least any ingestion must do. funnel does that plus validation, quarantine, provenance
columns, two sha256 hashes per record, a Delta commit with metadata and the ledger, inside a real
Dagster run.
The ratio (funnel documents/s ÷ pyarrow documents/s) is the price of all that; the target is ≥ 0.5.

    python -m benchmarks.ingest --docs 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import machine, median, peak_rss_mb, run_engine, write_result

BENCH_DIR = Path("bench-data")


def corpus_dir(docs: int) -> Path:
    """The generated corpus of `docs` documents, made once and reused."""
    folder = BENCH_DIR / f"corpus-{docs}"
    marker = folder / ".complete"
    if not marker.exists():
        from benchmarks.corpus import generate

        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, docs)
        marker.write_text(str(docs))
    return folder


def corpus_files(folder: Path) -> list[Path]:
    """Every JSON-lines shard of a generated corpus."""
    return sorted(folder.glob("*/*.jsonl.gz"))


def uncompressed_bytes(path: Path) -> int:
    """Uncompressed size of a single-member gzip file (from its trailer; files < 4 GiB)."""
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return struct.unpack("<I", handle.read(4))[0]


def _recipe(folder: Path, landing: Path) -> Path:
    sources = sorted(path.name for path in landing.iterdir() if path.is_dir())
    lines = ["name: bench", f"landing: {landing.resolve()}", "sources:"]
    lines += [
        f'  - {{name: {name}, path: "{name}/*.jsonl.gz", format: jsonl, domain: {name}, '
        f"license: mixed}}"
        for name in sources
    ]
    path = folder / "recipe.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_funnel(landing: Path) -> dict[str, Any]:
    """Register the corpus as one batch and materialize the ingest asset in a Dagster run."""
    import dagster as dg

    from assets.ingest import BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY
    from assets.resources import LakehouseResource
    from dagster_project.runs import pending_batches, run_batch

    with tempfile.TemporaryDirectory(prefix="funnel-bench-") as work:
        lakehouse = LakehouseResource(
            root=str(Path(work) / "lake"), recipe_path=str(_recipe(Path(work), landing))
        )
        started = time.perf_counter()
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = pending_batches(instance, lakehouse)
            outcome = run_batch(
                instance, lakehouse, batch, assets=[BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY]
            )
        seconds = time.perf_counter() - started
        if not outcome.success:
            raise RuntimeError(outcome.error)
        (entry,) = [entry for entry in outcome.stages if entry.stage == "ingest"]
        return {"seconds": seconds, "docs": entry.rows_out, "peak_rss_mb": peak_rss_mb()}


def run_pyarrow(landing: Path) -> dict[str, Any]:
    """Read every file with pyarrow's JSON reader and write it as Parquet."""
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    docs = 0
    with tempfile.TemporaryDirectory(prefix="pyarrow-bench-") as work:
        started = time.perf_counter()
        for index, path in enumerate(corpus_files(landing)):
            table = pa_json.read_json(path)
            pq.write_table(table, Path(work) / f"part-{index:05d}.parquet")
            docs += table.num_rows
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "docs": docs, "peak_rss_mb": peak_rss_mb()}


def benchmark(docs: int, repeats: int) -> dict[str, Any]:
    """Alternate both engines `repeats` times on the same corpus; medians and ratios."""
    landing = corpus_dir(docs)
    files = corpus_files(landing)
    raw_mb = sum(uncompressed_bytes(path) for path in files) / 2**20
    runs: dict[str, list[dict[str, Any]]] = {"pyarrow": [], "funnel": []}
    for _ in range(repeats):
        for engine in runs:
            runs[engine].append(
                run_engine("benchmarks.ingest", ["--engine", engine, "--landing", str(landing)])
            )
    summary: dict[str, Any] = {
        "benchmark": "ingest",
        "docs": docs,
        "files": len(files),
        "raw_mb": round(raw_mb, 1),
        "repeats": repeats,
        "machine": machine(),
        "command": f"python -m benchmarks.ingest --docs {docs} --repeats {repeats}",
    }
    for engine, results in runs.items():
        seconds = median(results, "seconds")
        summary[engine] = {
            "seconds_median": round(seconds, 2),
            "seconds_all": [round(result["seconds"], 2) for result in results],
            "docs_per_s": round(results[0]["docs"] / seconds),
            "mb_per_s": round(raw_mb / seconds, 1),
            "peak_rss_mb": round(max(result["peak_rss_mb"] for result in results)),
            "docs_written": results[0]["docs"],
        }
    summary["ratio_docs_per_s"] = round(
        summary["funnel"]["docs_per_s"] / summary["pyarrow"]["docs_per_s"], 3
    )
    return summary


def main() -> None:
    """Command line: run one engine (internal) or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", choices=["funnel", "pyarrow"], help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        run = run_funnel if args.engine == "funnel" else run_pyarrow
        print(json.dumps(run(args.landing)))
        return
    summary = benchmark(args.docs, args.repeats)
    write_result(f"ingest-{args.docs}", summary, BENCH_DIR / "results")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
