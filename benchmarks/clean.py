"""Clean benchmark: funnel's silver stage on Spark against DataTrove on the same documents.

Peer: DataTrove (what FineWeb ran) with the same work on the same generated corpus: language ID
with the same bundled fastText model and threshold, then Gopher repetition, Gopher quality, C4
(FineWeb's settings) and FineWeb quality filters with the same thresholds, one task per file on
two worker processes for the two cores. funnel does that plus normalization and PII redaction,
from the pinned bronze table to a committed silver table, rejections and ledger, inside a Dagster
materialization; its time includes starting the Spark session. Bronze ingestion happens before
the clock starts.
The ratio is funnel documents/s ÷ DataTrove documents/s; the target is ≥ 2.

    python -m benchmarks.clean --docs 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.ingest import BENCH_DIR, _recipe, corpus_dir, corpus_files
from benchmarks.measure import machine, run_engine, write_result


class TreeMemory:
    """Peak resident memory of this process and all its descendants (JVM, workers), MiB."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        root = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [root, *root.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_funnel(landing: Path) -> dict[str, Any]:
    """Ingest the corpus (untimed), then time the clean asset's materialization."""
    import dagster as dg

    from assets.clean import clean
    from assets.ingest import ingest
    from assets.partitions import BATCH_PARTITIONS_NAME
    from assets.resources import LakehouseResource, SparkResource
    from dagster_project.batching import register_landing
    from lakehouse.ledger import ledger_entries

    with tempfile.TemporaryDirectory(prefix="funnel-bench-") as work:
        lakehouse = LakehouseResource(
            root=str(Path(work) / "lake"), recipe_path=str(_recipe(Path(work), landing))
        )
        resources = {"lakehouse": lakehouse, "spark": SparkResource(master="local[2]")}
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = register_landing(instance, lakehouse, writer="bench")
            instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch])
            dg.materialize([ingest], instance=instance, partition_key=batch, resources=resources)
            with TreeMemory() as memory:
                started = time.perf_counter()
                dg.materialize([clean], instance=instance, partition_key=batch, resources=resources)
                seconds = time.perf_counter() - started
        (entry,) = ledger_entries(lakehouse.catalog(), stage="clean")
        return {
            "seconds": seconds,
            "docs": entry.rows_in,
            "kept": entry.rows_out,
            "peak_rss_mb": memory.peak,
        }


def _lines(path: Path) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def run_datatrove(landing: Path) -> dict[str, Any]:
    """The same work with DataTrove's filters, two tasks on two worker processes."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LambdaFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from lakehouse.recipe import LanguageConfig

    language = LanguageConfig()

    def allowed_language(document: Any) -> bool:
        from spark_jobs.language import detect_languages

        ((lang, score),) = detect_languages([document.text])
        return lang in language.allow and score >= language.min_score

    with tempfile.TemporaryDirectory(prefix="datatrove-bench-") as work:
        executor = LocalPipelineExecutor(
            pipeline=[
                JsonlReader(str(landing), glob_pattern="*/*.jsonl.gz"),
                LambdaFilter(allowed_language),
                GopherRepetitionFilter(),
                GopherQualityFilter(),
                C4QualityFilter(filter_no_terminal_punct=False),
                FineWebQualityFilter(),
                JsonlWriter(str(Path(work) / "out")),
            ],
            # One task per file so that both workers stay busy until the end.
            tasks=len(corpus_files(landing)),
            workers=2,
            logging_dir=str(Path(work) / "logs"),
        )
        with TreeMemory() as memory:
            started = time.perf_counter()
            executor.run()
            seconds = time.perf_counter() - started
        kept = sum(_lines(path) for path in (Path(work) / "out").glob("*.jsonl.gz"))
    docs = sum(_lines(path) for path in corpus_files(landing))
    return {"seconds": seconds, "docs": docs, "kept": kept, "peak_rss_mb": memory.peak}


def benchmark(docs: int, peer: bool = True) -> dict[str, Any]:
    """Both engines (funnel alone without `peer`) once each, in fresh processes, on the same
    generated corpus."""
    landing = corpus_dir(docs)
    engines = ("datatrove", "funnel") if peer else ("funnel",)
    results = {
        engine: run_engine("benchmarks.clean", ["--engine", engine, "--landing", str(landing)])
        for engine in engines
    }
    summary: dict[str, Any] = {
        "benchmark": "clean",
        "docs": docs,
        "machine": machine(),
        "command": f"python -m benchmarks.clean --docs {docs}",
    }
    for engine, result in results.items():
        summary[engine] = {
            "seconds": round(result["seconds"], 1),
            "docs_per_s": round(result["docs"] / result["seconds"], 1),
            "kept": result["kept"],
            "peak_rss_mb": round(result["peak_rss_mb"]),
        }
    if peer:
        summary["ratio_docs_per_s"] = round(
            summary["funnel"]["docs_per_s"] / summary["datatrove"]["docs_per_s"], 2
        )
    return summary


def main() -> None:
    """Command line: run one engine (internal) or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument(
        "--funnel-only", action="store_true", help="skip DataTrove (for sizes it takes hours on)"
    )
    parser.add_argument("--engine", choices=["funnel", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        run = run_funnel if args.engine == "funnel" else run_datatrove
        print(json.dumps(run(args.landing)))
        return
    summary = benchmark(args.docs, peer=not args.funnel_only)
    write_result(f"clean-{args.docs}", summary, BENCH_DIR / "results")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
