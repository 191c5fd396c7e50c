"""Dedup benchmark: funnel's dedup stage on Spark versus DataTrove's MinHash deduplication.

    python -m benchmarks.dedup --docs 100000 [--docs 10000 …] [--seed 0] [--keep DIR]

For each size, one corpus is generated (`benchmarks.corpus`) and both engines deduplicate it in
fresh processes, on the same 2 cores:

- funnel: the stage's operators (`spark_jobs.dedup.deduplicate`) on Spark local[2] reading the
  corpus as Parquet, writing kept documents, rejections and index rows with Spark, and
  committing `silver/unique_documents` and `silver/dedup_index` with delta-rs;
- DataTrove: its four MinHash stages (signatures, buckets, clusters, filter) with a JSON-lines
  reader and writer, 2 workers.

Both use word 5-gram shingles and 14 bands × 8 rows. Peak memory is the largest resident set
of the engine's whole process tree (Spark's JVM and Python workers included), sampled every
0.1 s. Documents/s counts input documents over the engine's wall time, start-up included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa

from benchmarks.corpus import generate
from benchmarks.measure import machine, write_result
from lakehouse.tables import SILVER_DEDUP_INDEX, TIMESTAMP, TableSpec, spark_ddl

RESULTS = Path("bench-data") / "results"
SAMPLE_SECONDS = 0.1
# The generated corpus has no silver signal columns: kept documents go to a table of the
# columns it has, committed the way `silver/unique_documents` is.
BENCH_UNIQUE_DOCUMENTS = TableSpec(
    layer="silver",
    name="unique_documents",
    schema=pa.schema(
        [
            pa.field("doc_id", pa.string()),
            pa.field("batch_id", pa.string()),
            pa.field("ingested_at", TIMESTAMP),
            pa.field("text", pa.large_string()),
        ]
    ),
    partition_by=("batch_id",),
    description="Benchmark stand-in for silver/unique_documents.",
)


def _tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(args: list[str]) -> dict[str, Any]:
    """Run `python -m benchmarks.dedup ARGS` and return its JSON line plus peak tree memory."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.dedup", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(watched))
            except psutil.Error:
                return
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{stderr[-4000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = round(peak / 2**20, 1)
    return result


def _to_parquet(corpus: Path, target: Path, shards: int = 8) -> int:
    """The generated JSON lines as Parquet shards of (doc_id, ingested_at, text), both engines'
    input."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    tables = [
        pj.read_json(path).select(["id", "text"]) for path in sorted(corpus.glob("*/*.jsonl.gz"))
    ]
    table = pa.concat_tables(tables)
    now = pa.array([datetime.now(UTC)] * table.num_rows, pa.timestamp("us", tz="UTC"))
    table = pa.table({"doc_id": table["id"], "ingested_at": now, "text": table["text"]})
    target.mkdir(parents=True)
    step = -(-table.num_rows // shards)
    for shard, start in enumerate(range(0, table.num_rows, step)):
        pq.write_table(table.slice(start, step), target / f"part-{shard:03d}.parquet")
    return table.num_rows


def funnel_engine(data: Path, work: Path) -> dict[str, Any]:
    """The dedup stage on Spark local[2]; returns counts and seconds as a dict."""
    import pyarrow.dataset as ds
    from pyspark.sql import functions as F

    from lakehouse.catalog import Catalog, CommitInfo
    from lakehouse.recipe import DedupConfig
    from spark_jobs.dedup import KEPT, deduplicate, rejections
    from spark_jobs.session import spark_session

    started = time.perf_counter()
    session = spark_session(
        "local[2]",
        app_name="funnel-bench-dedup",
        settings={"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8"},
    )
    config = DedupConfig()
    documents = session.read.parquet(str(data))
    index_schema = spark_ddl(SILVER_DEDUP_INDEX, exclude=("batch_id",))
    outcome = deduplicate(documents, session.createDataFrame([], index_schema), config)
    kept_ids = outcome.decisions.where(F.col("outcome") == KEPT).select("doc_id")
    out = work / "out"
    documents.join(kept_ids, "doc_id", "left_semi").withColumn(
        "batch_id", F.lit("bench")
    ).write.parquet(str(out / "kept"))
    outcome.index.withColumn("batch_id", F.lit("bench")).write.parquet(str(out / "index"))
    rejections(outcome.decisions, config).write.parquet(str(out / "rejected"))
    catalog = Catalog(str(work / "lake"))
    commit = CommitInfo("bench", "dedup", "0" * 64, "bench")
    for spec, folder in ((BENCH_UNIQUE_DOCUMENTS, "kept"), (SILVER_DEDUP_INDEX, "index")):
        rows = ds.dataset(str(out / folder)).scanner(columns=spec.schema.names).to_reader()
        catalog.write(spec, rows, commit, replace={"batch_id": "bench"})
    kept_rows = catalog.row_count(BENCH_UNIQUE_DOCUMENTS)
    rules = ds.dataset(str(out / "rejected")).to_table(columns=["rule"])["rule"].to_pylist()
    return {
        "engine": "funnel",
        "documents": kept_rows + len(rules),
        "kept": kept_rows,
        "exact_removed": rules.count("exact_duplicate"),
        "near_removed": rules.count("near_duplicate"),
        "seconds": round(time.perf_counter() - started, 2),
    }


def datatrove_engine(data: Path, work: Path) -> dict[str, Any]:
    """DataTrove's four MinHash stages with 2 workers; returns counts and seconds as a dict."""
    import pyarrow.parquet as pq
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    started = time.perf_counter()
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)
    tasks = len(list(data.glob("*.parquet")))

    def reader() -> ParquetReader:
        return ParquetReader(str(data), glob_pattern="*.parquet", id_key="doc_id")

    stages = [
        ([reader(), MinhashDedupSignature(str(work / "sigs"), config=config)], tasks),
        ([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)], 14),
        ([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config)], 1),
        (
            [
                reader(),
                MinhashDedupFilter(str(work / "remove")),
                ParquetWriter(str(work / "kept")),
            ],
            tasks,
        ),
    ]
    for number, (pipeline, count) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=count,
            workers=2,
            logging_dir=str(work / f"logs{number}"),
        ).run()
    kept = sum(pq.read_metadata(path).num_rows for path in (work / "kept").glob("*.parquet"))
    return {
        "engine": "datatrove",
        "kept": kept,
        "seconds": round(time.perf_counter() - started, 2),
    }


def compare(docs: int, seed: int, work: Path, peer: bool = True) -> dict[str, Any]:
    """Generate `docs` documents and run funnel (and, with `peer`, DataTrove) on them."""
    corpus = work / "corpus"
    summary = generate(corpus, docs, seed)
    data = work / "parquet"
    _to_parquet(corpus, data)
    funnel = run_measured(["--engine", "funnel", "--data", str(data), "--work", str(work / "f")])
    funnel["docs_per_s"] = round(docs / funnel["wall_seconds"], 1)
    result = {
        "docs": docs,
        "planted_exact": summary["exact_duplicates"],
        "planted_near": summary["near_duplicates"],
        "funnel": funnel,
    }
    if peer:
        trove = run_measured(
            ["--engine", "datatrove", "--data", str(data), "--work", str(work / "d")]
        )
        trove["docs_per_s"] = round(docs / trove["wall_seconds"], 1)
        result["datatrove"] = trove
        result["throughput_ratio"] = round(funnel["docs_per_s"] / trove["docs_per_s"], 2)
    return result


def main() -> None:
    """Command-line entry point: compare the engines at each `--docs` size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, action="append", help="corpus size (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument(
        "--funnel-only", action="store_true", help="skip DataTrove (for sizes it takes hours on)"
    )
    parser.add_argument("--engine", choices=["funnel", "datatrove"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        args.work.mkdir(parents=True, exist_ok=True)
        engine = funnel_engine if args.engine == "funnel" else datatrove_engine
        print(json.dumps(engine(args.data, args.work)))
        return
    results = []
    for docs in args.docs or [10_000]:
        work = args.keep or Path(tempfile.mkdtemp(prefix="funnel-bench-dedup-"))
        try:
            result = compare(docs, args.seed, work / str(docs), peer=not args.funnel_only)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
        results.append(result)
        funnel = result["funnel"]
        line = (
            f"{docs} docs: funnel {funnel['docs_per_s']} docs/s, peak {funnel['peak_rss_mb']} "
            f"MiB, removed {funnel['exact_removed']} exact + {funnel['near_removed']} near"
        )
        if "datatrove" in result:
            trove = result["datatrove"]
            line += (
                f" | datatrove {trove['docs_per_s']} docs/s, peak {trove['peak_rss_mb']} MiB, "
                f"kept {trove['kept']} | ratio {result['throughput_ratio']}"
            )
        print(line)
    path = write_result("dedup", {"machine": machine(), "runs": results}, RESULTS)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
