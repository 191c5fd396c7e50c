"""Dedup: a batch's `silver/documents` → `silver/unique_documents`, duplicates to `ops/rejections`.

The batch is compared with itself and with every document kept before (`silver/dedup_index`,
every other batch's recorded outcome), so dedup is global across batches; the batch's own
earlier index rows are replaced, so a re-run gives the same result.
"""

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    OPS_REJECTIONS,
    SILVER_DEDUP_INDEX,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
    TableSpec,
    spark_ddl,
)
from spark_jobs.dedup import (
    EXACT_DUPLICATE,
    KEPT,
    NEAR_DUPLICATE,
    cluster_size_histogram,
    deduplicate,
    rejections,
)

STAGE = "dedup"
SILVER_UNIQUE_DOCUMENTS_KEY = asset_key(SILVER_UNIQUE_DOCUMENTS)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]


def _batch_documents(run: StageRun) -> DataFrame:
    """The batch's silver documents with `ingested_at` from their bronze rows."""
    session = run.resources["spark"].session(run.loaded)
    documents = session.read.parquet(*run.batch_files(SILVER_DOCUMENTS))
    ingested = session.read.parquet(*run.batch_files(BRONZE_DOCUMENTS)).select(
        "doc_id", "ingested_at"
    )
    return documents.withColumn("batch_id", F.lit(run.batch_id)).join(ingested, "doc_id", "left")


def _prior_index(run: StageRun) -> DataFrame:
    """Index rows of every other batch, each as its recorded dedup outcome holds them."""
    session = run.resources["spark"].session(run.loaded)
    files = run.other_batch_files(SILVER_DEDUP_INDEX)
    if files:
        return session.read.parquet(*files)
    return session.createDataFrame([], spark_ddl(SILVER_DEDUP_INDEX, exclude=("batch_id",)))


def _parquet_rows(folder: Path, spec: TableSpec) -> pa.RecordBatchReader:
    """A streaming reader of the Parquet files Spark wrote to `folder`, in the table's columns."""
    if not folder.exists():
        return pa.RecordBatchReader.from_batches(spec.schema, iter(()))
    return ds.dataset(str(folder), format="parquet").scanner(columns=spec.schema.names).to_reader()


def _rejected(folder: Path) -> pa.Table:
    if folder.exists():
        return ds.dataset(str(folder), format="parquet").to_table(columns=_REJECTION_COLUMNS)
    return pa.schema([OPS_REJECTIONS.schema.field(n) for n in _REJECTION_COLUMNS]).empty_table()


def dedup_batch(run: StageRun) -> StageResult:
    """Dedup the pinned silver batch against the pinned index of the other batches on Spark."""
    batch_id = run.batch_id or ""
    scratch = run.scratch()
    config = run.loaded.recipe.dedup
    rows_in = run.catalog.count(
        SILVER_DOCUMENTS, run.version(SILVER_DOCUMENTS) or 0, where={"batch_id": batch_id}
    )
    histogram: dict[str, int] = {}
    if rows_in:
        documents = _batch_documents(run)
        outcome = deduplicate(documents, _prior_index(run), config)
        kept = outcome.decisions.where(F.col("outcome") == KEPT).select("doc_id")
        documents.join(kept, "doc_id", "left_semi").write.parquet(str(scratch / "kept"))
        outcome.index.withColumn("batch_id", F.lit(batch_id)).write.parquet(str(scratch / "index"))
        rejections(outcome.decisions, config).write.parquet(str(scratch / "rejected"))
        histogram = cluster_size_histogram(outcome.decisions)
    rejected = _rejected(scratch / "rejected")
    rules = rejected["rule"].to_pylist()
    exact, near = rules.count(EXACT_DUPLICATE), rules.count(NEAR_DUPLICATE)
    return StageResult(
        rows_in=rows_in,
        outputs={
            SILVER_UNIQUE_DOCUMENTS.key: _parquet_rows(scratch / "kept", SILVER_UNIQUE_DOCUMENTS),
            SILVER_DEDUP_INDEX.key: _parquet_rows(scratch / "index", SILVER_DEDUP_INDEX),
        },
        rejections=rejected,
        metadata={
            SILVER_UNIQUE_DOCUMENTS.key: {
                "exact_duplicates": exact,
                "near_duplicates": near,
                "cluster_sizes": dg.MetadataValue.json(histogram),
                "signature": f"{config.bands} bands × {config.rows_per_band} rows, "
                f"{config.shingle_size}-word shingles, seed {config.seed}",
            }
        },
        summary=f"batch {batch_id}: {rows_in} silver rows → {rows_in - len(rules)} unique, "
        f"{exact} exact and {near} near duplicates removed",
    )


DEDUP = Stage(
    name=STAGE,
    description=(
        "The batch's silver documents without exact duplicates (same normalized text) and "
        "near duplicates (MinHash-LSH on word 5-gram shingles, verified on the estimated "
        "Jaccard similarity), compared with each other and with every document kept before. "
        "One keeper per cluster; every removed document is a row of ops/rejections with its "
        "keeper in `duplicate_of`."
    ),
    group="silver",
    engine="spark",
    inputs=(
        Input(SILVER_DOCUMENTS, "clean"),
        Input(BRONZE_DOCUMENTS, "ingest"),
        Input(SILVER_DEDUP_INDEX, STAGE, required=False),
    ),
    outputs=(SILVER_UNIQUE_DOCUMENTS, SILVER_DEDUP_INDEX),
    operator=dedup_batch,
    resources=("lakehouse", "spark"),
    settings=("dedup",),
    one_batch_at_a_time=True,
    descriptions={
        SILVER_DEDUP_INDEX.key: SILVER_DEDUP_INDEX.description,
    },
    # Unique documents are silver documents, unchanged: every column comes straight through.
    column_lineage={
        SILVER_UNIQUE_DOCUMENTS.key: {
            name: [
                Derived(SILVER_DOCUMENTS.key, name, "kept after exact and near-duplicate removal")
            ]
            for name in ("doc_id", "text", "text_sha256", "lang", "source_uri")
        },
    },
)

dedup = stage_asset(DEDUP)
