"""Dedup benchmark: funnel's dedup stage against DataTrove's MinHash deduplication, equal work.

funnel's dedup stage on Spark against DataTrove's MinHash deduplication, the same shingles and
bands on both, with recall per planted Jaccard and the cost of adding a batch to an existing
index.

The corpus: documents of the generator (`benchmarks.corpus`, seed 0), each with a third of its
words redrawn from the corpus's vocabulary by frequency (the generator recombines a small sample,
so without this its documents repeat each other's 5-grams and too few are distinct), kept
only when they share no band of a permissive MinHash (10 bands × 2 rows, seed 7, its own
permutations: pairs at word 5-gram Jaccard ≥ 0.5 collide with probability ≥ 0.94), so the base
documents are distinct; then
10 % of the documents are planted copies of base documents (`benchmarks.quality.corpus`'s
near-duplicate editor), equally exact and at word 5-gram Jaccard 0.5–0.6, 0.6–0.7, 0.7–0.8,
0.8–0.9 and 0.9–1.0, each after its original. Both engines read it as the same Parquet shards.

- funnel: `spark_jobs.dedup.deduplicate` on Spark `local[2]` (driver 6 GiB): exact duplicates
  by content hash, MinHash-LSH candidates, each confirmed by its signature estimate reaching
  `dedup.jaccard_threshold` (0.7, the recipe default), connected components; Spark writes kept
  documents, rejections and index rows, delta-rs commits the kept documents and
  `silver/dedup_index`.
- DataTrove: its four MinHash stages (signatures, buckets, clusters, filter), 2 workers, with a
  signature stage subclassed to use funnel's shingles (`spark_jobs.minhash.shingle_hashes`:
  lower-cased word 5-grams, words are runs of Unicode letters and digits), so both engines hash
  the same shingle sets. It accepts every band match (no Jaccard confirmation).

Both: 14 bands × 8 rows (112 permutations, each engine its own hash family), seed 1. A planted
pair counts as found when either of its documents was removed; a false removal is a removed
document that belongs to no planted pair. Incremental cost: a batch of a tenth of the corpus
added to the index of the corpus (funnel's `deduplicate` against `silver/dedup_index`, the
stage's path for every later batch) against deduplicating corpus and batch again from scratch
with each engine. Each engine runs in a fresh process, engines alternating; wall time includes
start-up (Spark's JVM, DataTrove's imports); peak memory is the resident set of the engine's
process tree, sampled every 0.1 s. Full profile: 100,000 documents, 3 runs, a 10,000 batch;
`--quick`: 5,000 documents, 1 run, a 1,000 batch.

    python -m benchmarks.dedup [--quick] [--docs N] [--batch N] [--repeats R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.measure import load_average, record, run_measured, spread, spread_cell
from lakehouse.tables import SILVER_DEDUP_INDEX, TIMESTAMP, TableSpec, spark_ddl

TITLE = "Dedup (exact + MinHash-LSH) against DataTrove, equal shingles"
ENGINES = ("datatrove", "funnel")
EXACT = "exact"
JACCARD_BUCKETS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
BUCKETS = (EXACT, *(f"{low:.1f}-{high:.1f}" for low, high in JACCARD_BUCKETS))
PLANTED_SHARE = 0.1
# Originals of planted copies: long enough to edit, short enough to edit quickly.
MIN_WORDS, MAX_WORDS = 40, 400
# The permissive MinHash that keeps the base documents distinct (its own seed and shape).
DISTINCT_BANDS, DISTINCT_ROWS, DISTINCT_SEED = 10, 2, 7
# Share of each generated document's words replaced by words drawn from the whole corpus's
# vocabulary. The generator recombines a small sample, so its documents share many 5-grams
# (10,000 generated hold about 6,800 distinct ones, 40,000 only 17,000); with a third of the
# words replaced, a 5-gram outlives the edit with probability 0.67^5 ≈ 0.13, which leaves
# nearly every document distinct while keeping the sample's words and their frequencies.
VARIED_SHARE = 1 / 3
VOCABULARY_TEXTS = 2_000
FULL = {"docs": 100_000, "batch": 10_000, "repeats": 3}
QUICK = {"docs": 5_000, "batch": 1_000, "repeats": 1}
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


def _generated_texts(docs: int, seed: int, folder: Path) -> list[str]:
    """The texts of `docs` generated documents, in generation order."""
    import gzip

    from benchmarks.corpus import generate

    generate(folder, docs, seed)
    texts = []
    for path in sorted(folder.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle]
    return texts


def distinct(texts: list[str]) -> list[str]:
    """The texts that share no band of the permissive MinHash with an earlier kept text."""
    from spark_jobs.minhash import MinHasher

    hasher = MinHasher(
        DISTINCT_BANDS * DISTINCT_ROWS, DISTINCT_BANDS, DISTINCT_ROWS, 5, DISTINCT_SEED
    )
    seen: set[int] = set()
    kept = []
    for start in range(0, len(texts), 2000):
        chunk = texts[start : start + 2000]
        signatures, has_words = hasher.text_signatures(pa.array(chunk, pa.large_string()))
        for text, keys, usable in zip(
            chunk, hasher.band_keys(signatures).tolist(), has_words, strict=True
        ):
            if usable and seen.isdisjoint(keys):
                seen.update(keys)
                kept.append(text)
    return kept


def plant(
    base: list[str], total: int, seed: int
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """`total` documents: base documents and planted copies (`PLANTED_SHARE`, equally per
    bucket), each copy after its original. Returns the (doc_id, text) rows in order and the
    planted pairs (original, copy, bucket, Jaccard)."""
    from benchmarks.quality.corpus import jaccard, near_duplicate

    rng = random.Random(seed)
    planted = round(total * PLANTED_SHARE)
    base_count = total - planted
    if len(base) < base_count:
        raise ValueError(
            f"only {len(base)} distinct base documents for {base_count}: generate more"
        )
    base = base[:base_count]
    editable = [i for i, text in enumerate(base) if MIN_WORDS <= len(text.split()) <= MAX_WORDS]
    if len(editable) < planted:
        raise ValueError(f"only {len(editable)} documents to copy for {planted} planted copies")
    originals = rng.sample(editable, planted)
    rows: list[tuple[float, str, str]] = [(i, f"b{i:07d}", text) for i, text in enumerate(base)]
    pairs = []
    for number, original in enumerate(originals):
        bucket = BUCKETS[number % len(BUCKETS)]
        text = base[original]
        if bucket == EXACT:
            copy, similarity = text, 1.0
        else:
            low, high = JACCARD_BUCKETS[BUCKETS.index(bucket) - 1]
            try:
                copy, similarity = near_duplicate(text, low, high, rng)
            except RuntimeError:  # a text whose single edits jump over the bucket
                continue
        copy_id = f"c{number:07d}"
        rows.append((rng.uniform(original + 0.5, base_count), copy_id, copy))
        pairs.append(
            {
                "original": f"b{original:07d}",
                "copy": copy_id,
                "bucket": bucket,
                "jaccard": round(similarity if bucket == EXACT else jaccard(text, copy), 4),
            }
        )
    rows.sort(key=lambda row: row[0])
    return [(doc_id, text) for _, doc_id, text in rows], pairs


def varied(texts: list[str], seed: int) -> list[str]:
    """Each text with `VARIED_SHARE` of its words (split on spaces) replaced at random by
    words drawn with their frequency in the first `VOCABULARY_TEXTS` texts."""
    rng = np.random.default_rng(seed)
    counts = Counter(word for text in texts[:VOCABULARY_TEXTS] for word in text.split(" "))
    vocabulary = np.array(sorted(counts), dtype=object)
    cumulative = np.cumsum([counts[word] for word in vocabulary], dtype=np.float64)
    cumulative /= cumulative[-1]
    out = []
    for text in texts:
        words = np.array(text.split(" "), dtype=object)
        replaced = rng.random(len(words)) < VARIED_SHARE
        # Draws in [0, 1) against a cumulative ending at 1.0: every index is in range.
        picks = np.searchsorted(cumulative, rng.random(int(replaced.sum())), side="right")
        words[replaced] = vocabulary[picks]
        out.append(" ".join(words.tolist()))
    return out


def build_corpus(
    docs: int, batch: int, seed: int, work: Path
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """`docs + batch` documents with planted pairs, from generated, varied, distinct base
    documents."""
    total = docs + batch
    wanted = total - round(total * PLANTED_SHARE)
    generated = round(wanted * 1.25)
    for _ in range(3):
        texts = _generated_texts(generated, seed, work / f"generated-{generated}")
        base = distinct(varied(texts, seed))
        if len(base) >= wanted:
            return plant(base, total, seed)
        generated *= 2
    raise ValueError(f"only {len(base)} distinct documents from {generated // 2} generated")


def _write_parquet(rows: list[tuple[str, str]], target: Path, shards: int = 8) -> None:
    """(doc_id, ingested_at, text) Parquet shards, what both engines read."""
    import pyarrow.parquet as pq

    now = datetime.now(UTC)
    table = pa.table(
        {
            "doc_id": [doc_id for doc_id, _ in rows],
            "ingested_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            "text": pa.array([text for _, text in rows], pa.large_string()),
        }
    )
    target.mkdir(parents=True)
    step = -(-table.num_rows // shards)
    for shard, start in enumerate(range(0, table.num_rows, step)):
        pq.write_table(table.slice(start, step), target / f"part-{shard:03d}.parquet")


def funnel_engine(data: Path, work: Path, index: Path | None = None) -> dict[str, Any]:
    """The dedup stage on Spark local[2] against an index (`index`: Parquet index rows of an
    earlier run; none: empty); returns counts, removed doc ids and seconds."""
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
    prior = (
        session.read.parquet(str(index)).drop("batch_id")
        if index is not None
        else session.createDataFrame([], index_schema)
    )
    outcome = deduplicate(documents, prior, config)
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
    rejected = ds.dataset(str(out / "rejected")).to_table(columns=["doc_id", "rule"])
    rules = rejected["rule"].to_pylist()
    return {
        "engine": "funnel",
        "documents": kept_rows + len(rules),
        "kept": kept_rows,
        "exact_removed": rules.count("exact_duplicate"),
        "near_removed": rules.count("near_duplicate"),
        "removed_ids": rejected["doc_id"].to_pylist(),
        "seconds": round(time.perf_counter() - started, 2),
    }


class _FunnelShingles:
    """Mixed into DataTrove's signature stage: funnel's shingle hashes instead of DataTrove's
    own (spaCy words of simplified text, xxhash), so that both engines see the same sets."""

    config: Any

    def get_shingles(self, text: str) -> np.ndarray:
        """The 64-bit hashes of the text's word n-grams, as funnel's MinHash computes them."""
        from spark_jobs.minhash import document_words, shingle_hashes

        words = document_words(pa.array([text], pa.large_string()))
        values, _ = shingle_hashes(words, self.config.n_grams)
        return values.reshape(-1, 1)


def _signature_stage() -> type:
    """DataTrove's `MinhashDedupSignature` with funnel's shingles (imported lazily: DataTrove
    is a benchmark dependency only)."""
    from datatrove.pipeline.dedup import MinhashDedupSignature

    return type("FunnelShingleSignature", (_FunnelShingles, MinhashDedupSignature), {})


def datatrove_engine(data: Path, work: Path) -> dict[str, Any]:
    """DataTrove's four MinHash stages with 2 workers and funnel's shingles; returns counts,
    removed doc ids and seconds."""
    import pyarrow.parquet as pq
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    started = time.perf_counter()
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1)
    tasks = len(list(data.glob("*.parquet")))
    signature = _signature_stage()

    def reader() -> ParquetReader:
        return ParquetReader(str(data), glob_pattern="*.parquet", id_key="doc_id")

    stages = [
        ([reader(), signature(str(work / "sigs"), config=config)], tasks),
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
    kept_ids = {
        doc_id
        for path in (work / "kept").glob("*.parquet")
        for doc_id in pq.read_table(path, columns=["id"])["id"].to_pylist()
    }
    every = [
        doc_id
        for path in sorted(data.glob("*.parquet"))
        for doc_id in pq.read_table(path, columns=["doc_id"])["doc_id"].to_pylist()
    ]
    return {
        "engine": "datatrove",
        "kept": len(kept_ids),
        "removed_ids": [doc_id for doc_id in every if doc_id not in kept_ids],
        "seconds": round(time.perf_counter() - started, 2),
    }


def decision_quality(
    pairs: list[dict[str, Any]], documents: list[str], removed: set[str]
) -> dict[str, Any]:
    """Recall per planted bucket (a pair is found when either document was removed) and the
    false-removal rate (removed documents in no planted pair, over all such documents), for
    the planted pairs with both documents among `documents`."""
    present = set(documents)
    unknown = removed - present
    if unknown:
        raise ValueError(
            f"{len(unknown)} removed ids are not in the corpus (e.g. {sorted(unknown)[0]}): "
            "the engine read other documents"
        )
    mine = [pair for pair in pairs if pair["original"] in present and pair["copy"] in present]
    in_pairs = {pair[key] for pair in mine for key in ("original", "copy")}
    buckets: dict[str, dict[str, Any]] = {}
    for bucket in BUCKETS:
        planted = [pair for pair in mine if pair["bucket"] == bucket]
        found = sum(pair["original"] in removed or pair["copy"] in removed for pair in planted)
        buckets[bucket] = {
            "planted": len(planted),
            "found": found,
            "recall": round(found / len(planted), 4) if planted else None,
        }
    others = len(present - in_pairs)
    false = len(removed - in_pairs)
    return {
        "buckets": buckets,
        "false_removals": false,
        "false_removal_rate": round(false / others, 5) if others else 0.0,
        "unpaired_documents": others,
    }


def _engine(engine: str, data: Path, work: Path, index: Path | None = None) -> dict[str, Any]:
    """One engine run in a fresh, measured process."""
    args = ["--engine", engine, "--data", str(data), "--work", str(work)]
    if index is not None:
        args += ["--index", str(index)]
    return run_measured("benchmarks.dedup", args)


def compare(docs: int, batch: int, repeats: int, seed: int, work: Path) -> tuple[dict, list]:
    """Build the planted corpus, run both engines `repeats` times alternating on `docs`
    documents, then the incremental batch against funnel's index and both engines from scratch
    on documents and batch together. Returns the summary and every run's figures."""
    rows, pairs = build_corpus(docs, batch, seed, work / "generated")
    main, added = rows[:docs], rows[docs:]
    _write_parquet(main, work / "main")
    _write_parquet(added, work / "batch", shards=2)
    _write_parquet(rows, work / "all")
    runs: list[dict[str, Any]] = []
    quality: dict[tuple[str, str], Any] = {}

    def run(engine: str, part: str, data: Path, index: Path | None = None, n: int = 0) -> Path:
        folder = work / f"{engine}-{part}-{n}"
        result = _engine(engine.removesuffix("-incremental"), data, folder, index)
        removed = set(result.pop("removed_ids"))
        ids = [doc_id for doc_id, _ in {"main": main, "batch": added, "all": rows}[part]]
        result["docs"] = len(ids)
        # The run's own label wins over the engine's (`funnel` also runs the incremental batch).
        runs.append({**result, "engine": engine, "part": part, "round": n})
        if (engine, part) not in quality:
            judged = ids
            if part == "batch":
                # The batch's copies are judged with their originals, which the index holds.
                batch_ids = set(ids)
                judged = ids + [p["original"] for p in pairs if p["copy"] in batch_ids]
            quality[engine, part] = decision_quality(pairs, judged, removed)
        print(f"{engine} on {part} ({len(ids)} docs): {result['wall_seconds']} s", flush=True)
        return folder

    if repeats < 1:
        raise ValueError(f"--repeats {repeats}: each engine needs at least one run")
    for n in range(repeats):
        run("datatrove", "main", work / "main", n=n)
        funnel_work = run("funnel", "main", work / "main", n=n)
    run("funnel-incremental", "batch", work / "batch", funnel_work / "out" / "index")
    run("datatrove", "all", work / "all")
    run("funnel", "all", work / "all")
    return summarize(docs, batch, runs, quality, pairs), runs


def summarize(
    docs: int,
    batch: int,
    runs: list[dict[str, Any]],
    quality: dict[tuple[str, str], Any],
    pairs: list[dict[str, Any]],
) -> dict[str, Any]:
    """Throughput (medians and spreads) and decision quality per engine; the incremental
    batch's cost against deduplicating everything again."""

    def figures(engine: str, part: str) -> dict[str, Any]:
        mine = [r for r in runs if r["engine"] == engine and r["part"] == part]
        return {
            "seconds": spread([r["wall_seconds"] for r in mine], 1),
            "docs_per_s": spread([r["docs"] / r["wall_seconds"] for r in mine], 1),
            "peak_rss_mb": spread([r["peak_rss_mb"] for r in mine], 0),
            "kept": mine[0]["kept"],
            "removed": mine[0]["docs"] - mine[0]["kept"],
        }

    summary: dict[str, Any] = {"docs": docs, "batch": batch, "planted_pairs": len(pairs)}
    for engine in ENGINES:
        summary[engine] = {**figures(engine, "main"), **quality[engine, "main"]}
    summary["ratio_docs_per_s"] = round(
        summary["funnel"]["docs_per_s"]["median"] / summary["datatrove"]["docs_per_s"]["median"],
        2,
    )
    incremental = figures("funnel-incremental", "batch")
    summary["incremental"] = {
        "funnel_batch_onto_index": incremental,
        "funnel_from_scratch": figures("funnel", "all"),
        "datatrove_from_scratch": figures("datatrove", "all"),
        "batch_quality": quality["funnel-incremental", "batch"],
    }
    return summary


def _recall(row: dict[str, Any]) -> str:
    return (
        "—" if row["recall"] is None else f"{row['recall']:.3f} ({row['found']}/{row['planted']})"
    )


def render(result: dict[str, Any]) -> str:
    """Throughput beside the ratio, recall per planted bucket and false removals for both
    engines, then the incremental batch against deduplicating from scratch."""
    s = result["summary"]
    trove, funnel = s["datatrove"], s["funnel"]
    out = (
        f"{s['docs']:,} documents ({s['planted_pairs']:,} planted pairs over corpus and batch), "
        f"{funnel['seconds']['n']} run(s) per engine, medians (min–max):\n\n"
        "| engine | s | docs/s | peak MiB | removed | ratio (docs/s) |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| DataTrove | {spread_cell(trove['seconds'])} | {spread_cell(trove['docs_per_s'])} "
        f"| {spread_cell(trove['peak_rss_mb'])} | {trove['removed']:,} | |\n"
        f"| funnel | {spread_cell(funnel['seconds'])} | {spread_cell(funnel['docs_per_s'])} "
        f"| {spread_cell(funnel['peak_rss_mb'])} | {funnel['removed']:,} "
        f"| **{s['ratio_docs_per_s']}** |\n\n"
        "Recall per planted bucket (word 5-gram Jaccard of copy and original; a pair is found "
        "when either is removed) and false removals (removed documents in no planted pair):\n\n"
        "| planted | DataTrove recall | funnel recall |\n|---|---:|---:|\n"
    )
    for bucket in BUCKETS:
        name = "exact copy" if bucket == EXACT else f"Jaccard {bucket}"
        out += (
            f"| {name} | {_recall(trove['buckets'][bucket])} "
            f"| {_recall(funnel['buckets'][bucket])} |\n"
        )
    out += (
        f"| false removals | {trove['false_removals']:,} of {trove['unpaired_documents']:,} "
        f"({trove['false_removal_rate']:.2%}) | {funnel['false_removals']:,} of "
        f"{funnel['unpaired_documents']:,} ({funnel['false_removal_rate']:.2%}) |\n"
    )
    inc = s["incremental"]
    onto = inc["funnel_batch_onto_index"]
    total = s["docs"] + s["batch"]
    out += (
        f"\nIncremental: a batch of {s['batch']:,} documents added to the index of the "
        f"{s['docs']:,}, against deduplicating all {total:,} again (one run each):\n\n"
        "| run | documents read | s | peak MiB | removed |\n|---|---:|---:|---:|---:|\n"
        f"| funnel, batch against `silver/dedup_index` | {s['batch']:,} "
        f"| {spread_cell(onto['seconds'])} | {spread_cell(onto['peak_rss_mb'])} "
        f"| {onto['removed']:,} |\n"
    )
    for name, key in (("funnel", "funnel_from_scratch"), ("DataTrove", "datatrove_from_scratch")):
        row = inc[key]
        out += (
            f"| {name}, everything from scratch | {total:,} | {spread_cell(row['seconds'])} "
            f"| {spread_cell(row['peak_rss_mb'])} | {row['removed']:,} |\n"
        )
    batch_quality = inc["batch_quality"]
    found = sum(row["found"] for row in batch_quality["buckets"].values())
    planted = sum(row["planted"] for row in batch_quality["buckets"].values())
    out += (
        f"\nThe batch against the index found {found} of the {planted} planted copies in the "
        f"batch, with {batch_quality['false_removals']} false removals.\n"
    )
    return out


def main() -> None:
    """Command line: run one engine (internal) or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 documents, one run")
    parser.add_argument("--docs", type=int, help="corpus size (full: 100,000)")
    parser.add_argument("--batch", type=int, help="documents of the incremental batch")
    parser.add_argument("--repeats", type=int, help="runs of each engine on the corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        args.work.mkdir(parents=True, exist_ok=True)
        if args.engine == "funnel":
            result = funnel_engine(args.data, args.work, args.index)
        else:
            result = datatrove_engine(args.data, args.work)
        print(json.dumps(result))
        return
    profile = QUICK if args.quick else FULL
    docs = args.docs or profile["docs"]
    batch = args.batch or (profile["batch"] if args.docs is None else max(1, docs // 10))
    repeats = args.repeats or profile["repeats"]
    load_before = load_average()
    work = args.keep or Path(tempfile.mkdtemp(prefix="funnel-bench-dedup-"))
    try:
        summary, runs = compare(docs, batch, repeats, args.seed, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    command = "python -m benchmarks.dedup" + (" --quick" if args.quick else "")
    for name in ("docs", "batch", "repeats"):
        if getattr(args, name) is not None:
            command += f" --{name} {getattr(args, name)}"
    path = record("dedup", command, summary, runs, quick=args.quick, load_before=load_before)
    trove, funnel = summary["datatrove"], summary["funnel"]
    print(
        f"{docs} docs: funnel {funnel['docs_per_s']['median']} docs/s, DataTrove "
        f"{trove['docs_per_s']['median']} docs/s, ratio {summary['ratio_docs_per_s']}; "
        f"false removals funnel {funnel['false_removals']}, DataTrove {trove['false_removals']}"
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
