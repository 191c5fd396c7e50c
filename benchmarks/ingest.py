"""Ingest benchmark: funnel's bronze stage against plain pyarrow on the same JSON-lines files.

Input: a corpus made by `benchmarks.corpus` (gzip JSON-lines shards, texts from the bundled
sample), generated once under `bench-data/` and reused.
Peer: pyarrow reads each file (`pyarrow.json.read_json`, multithreaded) and writes it as Parquet —
the least any ingestion must do. funnel does that plus validation, quarantine, provenance
columns, two sha256 hashes per record, a Delta commit with metadata and the ledger, inside a real
Dagster run of the ingest asset with its checks and lineage events, timed once the process has
loaded funnel's code (Dagster definitions and Great Expectations, as a deployed code location has;
pyarrow's imports are outside its timing too); the whole funnel process, imports included, is
reported beside it. Engines alternate (pyarrow, funnel, pyarrow, funnel…), each run in a fresh
process, so each peak RSS is its engine's own (funnel's includes its loaded code, about 1 GB).
The ratio (funnel documents/s ÷ pyarrow documents/s, medians) is the price of all that; the target
is ≥ 0.8, and funnel's peak RSS < 2 GB at 1M documents.

The full profile runs 100,000 documents three times per engine and 1,000,000 documents once per
engine; the quick profile (`--quick`) 10,000 documents three times.

    python -m benchmarks.ingest [--quick] [--docs N --repeats N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, median, peak_rss_mb, record, run_engine, spread

PROCESS_STARTED = time.perf_counter()
BENCH_DIR = Path("bench-data")
TITLE = "Ingest (bronze) against pyarrow"
TARGET_RATIO = 0.8
ENGINES = ("pyarrow", "funnel")
# (documents, repeats) per size of each profile.
FULL_SIZES = ((100_000, 3), (1_000_000, 1))
QUICK_SIZES = ((10_000, 3),)


def corpus_dir(docs: int, root: Path = BENCH_DIR) -> Path:
    """The generated corpus of `docs` documents, made once and reused.

    It is generated into a private folder beside it and renamed into place complete, so two
    benchmarks starting at once never read, or remove, a half-written corpus; a folder left
    without its completion marker (a run killed while generating) is moved aside and replaced.
    """
    folder = root / f"corpus-{docs}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    from benchmarks.corpus import generate

    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".corpus-{docs}-", dir=root))
    try:
        generate(staging, docs)
        (staging / ".complete").write_text(str(docs))
        for _ in range(3):
            try:
                staging.rename(folder)
                break
            except OSError:
                if marker.exists():
                    break  # another run put its own complete copy in place first
                with contextlib.suppress(OSError):
                    folder.rename(root / f".incomplete-{staging.name}")
        if not marker.exists():
            raise RuntimeError(f"could not put the generated corpus in place at {folder}")
    finally:
        for leftover in (staging, *root.glob(f".incomplete-{staging.name}")):
            shutil.rmtree(leftover, ignore_errors=True)
    return folder


def corpus_files(folder: Path) -> list[Path]:
    """Every JSON-lines shard of a generated corpus."""
    return sorted(folder.glob("*/*.jsonl.gz"))


def uncompressed_bytes(path: Path) -> int:
    """Uncompressed size of a single-member gzip file (from its trailer; files < 4 GiB)."""
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return struct.unpack("<I", handle.read(4))[0]


def _recipe(folder: Path, landing: Path, name: str = "bench", section: str = "") -> Path:
    """A recipe with one JSON-lines source per corpus folder, then `section` (YAML) if any."""
    sources = sorted(path.name for path in landing.iterdir() if path.is_dir())
    lines = [f"name: {name}", f"landing: {landing.resolve()}", "sources:"]
    lines += [
        f'  - {{name: {source}, path: "{source}/*.jsonl.gz", format: jsonl, domain: {source}, '
        f"license: mixed}}"
        for source in sources
    ]
    path = folder / "recipe.yaml"
    path.write_text("\n".join(lines) + "\n" + section)
    return path


def run_funnel(landing: Path) -> dict[str, Any]:
    """Register the corpus as one batch and materialize the ingest asset in a Dagster run."""
    import dagster as dg

    from assets.ingest import BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY
    from assets.resources import LakehouseResource
    from checks.expectations import _gx_context
    from dagster_project.definitions import defs  # noqa: F401 (the code location, loaded once)
    from dagster_project.runs import pending_batches, run_batch

    # Loading the code location (Dagster, every asset module with the encoder's libraries) and
    # Great Expectations is a once-per-process cost that a deployed code location has paid
    # already; pyarrow's imports are outside its timing too.
    _gx_context()
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
        return {
            "seconds": seconds,
            "process_seconds": time.perf_counter() - PROCESS_STARTED,
            "docs_written": entry.rows_out,
            "peak_rss_mb": peak_rss_mb(),
        }


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
    return {"seconds": seconds, "docs_written": docs, "peak_rss_mb": peak_rss_mb()}


def measure(docs: int, repeats: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Alternate both engines `repeats` times on one corpus; its summary and every run."""
    landing = corpus_dir(docs)
    files = corpus_files(landing)
    raw_mb = sum(uncompressed_bytes(path) for path in files) / 2**20
    runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        for engine in ENGINES:
            run = run_engine("benchmarks.ingest", ["--engine", engine, "--landing", str(landing)])
            runs.append({"docs": docs, "engine": engine, **run})
    return summarize(docs, len(files), raw_mb, runs), runs


def summarize(docs: int, files: int, raw_mb: float, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per engine: median seconds and spread, documents/s, MB/s, peak RSS; and the ratio."""
    summary: dict[str, Any] = {"docs": docs, "files": files, "raw_mb": round(raw_mb, 1)}
    for engine in ENGINES:
        results = [run for run in runs if run["engine"] == engine]
        seconds = median(results, "seconds")
        summary[engine] = {
            "seconds": spread([result["seconds"] for result in results], 2),
            "docs_per_s": round(results[0]["docs_written"] / seconds),
            "mb_per_s": round(raw_mb / seconds, 1),
            "peak_rss_mb": round(max(result["peak_rss_mb"] for result in results)),
            "docs_written": results[0]["docs_written"],
        }
    summary["funnel"]["process_seconds"] = spread(
        [run["process_seconds"] for run in runs if run["engine"] == "funnel"], 2
    )
    summary["ratio_docs_per_s"] = round(
        summary["funnel"]["docs_per_s"] / summary["pyarrow"]["docs_per_s"], 3
    )
    pyarrow = [run for run in runs if run["engine"] == "pyarrow"]
    funnel = [run for run in runs if run["engine"] == "funnel"]
    summary["pairwise_ratio"] = [
        round(peer["seconds"] / ours["seconds"], 3)
        for peer, ours in zip(pyarrow, funnel, strict=True)
    ]
    return summary


def render(result: dict[str, Any]) -> str:
    """One table per corpus size: each engine's time, throughput and peak RSS, then the ratio."""
    parts = []
    for size in result["summary"]["sizes"]:
        rows = [
            f"**{size['docs']:,} documents** ({size['files']} files, {size['raw_mb']:,} MB of "
            "JSON):",
            "",
            "| engine | median s | min–max s, n | documents/s | MB/s | peak RSS, MiB |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for engine in ENGINES:
            figures = size[engine]
            seconds = figures["seconds"]
            rows.append(
                f"| {engine} | {seconds['median']:.2f} | {seconds['min']:.2f}–"
                f"{seconds['max']:.2f}, {seconds['n']} | {figures['docs_per_s']:,} | "
                f"{figures['mb_per_s']} | {figures['peak_rss_mb']:,} |"
            )
        pairwise = ", ".join(f"{ratio:.2f}" for ratio in size["pairwise_ratio"])
        verdict = "met" if size["ratio_docs_per_s"] >= TARGET_RATIO else "not met"
        rows += [
            "",
            f"Ratio funnel ÷ pyarrow documents/s: **{size['ratio_docs_per_s']:.2f}** (target ≥ "
            f"{TARGET_RATIO}: {verdict}); pairwise {pairwise}. funnel's whole process, loading "
            f"its code included: median {size['funnel']['process_seconds']['median']:.2f} s.",
        ]
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def main() -> None:
    """Command line: run one engine (internal) or the whole comparison, and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 documents, three times")
    parser.add_argument("--docs", type=int, help="documents in the corpus (one size)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each engine")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        run = run_funnel if args.engine == "funnel" else run_pyarrow
        print(json.dumps(run(args.landing)))
        return
    command = "python -m benchmarks.ingest"
    if args.docs:
        sizes: tuple[tuple[int, int], ...] = ((args.docs, args.repeats),)
        command += f" --docs {args.docs} --repeats {args.repeats}"
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
        command += " --quick" if args.quick else ""
    load_before = load_average()
    summaries, runs = [], []
    for docs, repeats in sizes:
        summary, size_runs = measure(docs, repeats)
        summaries.append(summary)
        runs += size_runs
        print(
            f"ingest {docs:,} docs: pyarrow {summary['pyarrow']['docs_per_s']:,} docs/s, funnel "
            f"{summary['funnel']['docs_per_s']:,} docs/s (peak RSS "
            f"{summary['funnel']['peak_rss_mb']:,} MiB); ratio {summary['ratio_docs_per_s']}"
        )
    record(
        "ingest",
        command,
        {"target_ratio": TARGET_RATIO, "sizes": summaries},
        runs,
        quick=args.quick,
        load_before=load_before,
    )


if __name__ == "__main__":
    main()
