"""Dedup: a batch's `silver/documents` → `silver/unique_documents`, duplicates to `ops/rejections`.

The batch is compared with itself and with every document kept before (`silver/dedup_index`,
every other batch's recorded outcome), so dedup is global across batches; the batch's own
earlier index rows are replaced, so a re-run gives the same result.
"""

import dagster as dg
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.catalog import StagedFiles
from lakehouse.recipe import DedupConfig
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    OPS_REJECTIONS,
    SILVER_DEDUP_INDEX,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
    TableSpec,
)
from spark_jobs.dedup import (
    EXACT_DUPLICATE,
    KEPT,
    NEAR_DUPLICATE,
    cluster_size_histogram,
    deduplicate,
    rejections,
)
from spark_jobs.lake_io import PartTarget, read_parquet, write_parts

STAGE = "dedup"
SILVER_UNIQUE_DOCUMENTS_KEY = asset_key(SILVER_UNIQUE_DOCUMENTS)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]


def _file_schema(spec: TableSpec, columns: list[str] | None = None) -> pa.Schema:
    """A table's columns as its files hold them (no partition columns), or only `columns`."""
    names = columns or [name for name in spec.schema.names if name not in spec.partition_by]
    return pa.schema([spec.schema.field(name) for name in names])


def _batch_documents(run: StageRun) -> DataFrame:
    """The batch's silver documents with `ingested_at` from their bronze rows, read from the
    pinned versions' files by the executors."""
    session = run.resources["spark"].session(run.loaded)
    options = run.catalog.storage_options
    documents = read_parquet(
        session, run.batch_files(SILVER_DOCUMENTS), _file_schema(SILVER_DOCUMENTS), options
    )
    ingested = read_parquet(
        session,
        run.batch_files(BRONZE_DOCUMENTS),
        _file_schema(BRONZE_DOCUMENTS, ["doc_id", "ingested_at"]),
        options,
    )
    return documents.withColumn("batch_id", F.lit(run.batch_id)).join(ingested, "doc_id", "left")


def _prior_index(run: StageRun) -> DataFrame:
    """Index rows of every other batch, each as its recorded dedup outcome holds them."""
    session = run.resources["spark"].session(run.loaded)
    files = run.other_batch_files(SILVER_DEDUP_INDEX)
    schema = _file_schema(SILVER_DEDUP_INDEX)
    return read_parquet(session, files, schema, run.catalog.storage_options)


def _rejected(decisions: DataFrame, config: DedupConfig) -> pa.Table:
    """The duplicates' rejection rows, collected on the driver (no text: small)."""
    rows = rejections(decisions, config).select(*_REJECTION_COLUMNS).toArrow()
    schema = pa.schema([OPS_REJECTIONS.schema.field(name) for name in _REJECTION_COLUMNS])
    return rows.cast(schema)


def dedup_batch(run: StageRun) -> StageResult:
    """Dedup the pinned silver batch against the pinned index of the other batches on Spark.

    The executors read the pinned files and write the unique documents and the batch's index
    rows straight to the tables' locations; the runner commits those files.
    """
    batch_id = run.batch_id or ""
    config = run.loaded.recipe.dedup
    options = run.catalog.storage_options
    rows_in = run.catalog.count(
        SILVER_DOCUMENTS, run.version(SILVER_DOCUMENTS) or 0, where={"batch_id": batch_id}
    )
    histogram: dict[str, int] = {}
    partition = {"batch_id": batch_id}
    unique = StagedFiles(dict(partition), [])
    index = StagedFiles(dict(partition), [])
    rejected = pa.schema([OPS_REJECTIONS.schema.field(n) for n in _REJECTION_COLUMNS]).empty_table()
    if rows_in:
        documents = _batch_documents(run)
        outcome = deduplicate(documents, _prior_index(run), config)
        kept = outcome.decisions.where(F.col("outcome") == KEPT).select("doc_id")
        unique = _write(
            run, documents.join(kept, "doc_id", "left_semi"), SILVER_UNIQUE_DOCUMENTS, options
        )
        index = _write(run, outcome.index, SILVER_DEDUP_INDEX, options)
        rejected = _rejected(outcome.decisions, config)
        histogram = cluster_size_histogram(outcome.decisions)
    rules = rejected["rule"].to_pylist()
    exact, near = rules.count(EXACT_DUPLICATE), rules.count(NEAR_DUPLICATE)
    return StageResult(
        rows_in=rows_in,
        outputs={SILVER_UNIQUE_DOCUMENTS.key: unique, SILVER_DEDUP_INDEX.key: index},
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


def _write(run: StageRun, rows: DataFrame, spec: TableSpec, options: dict[str, str]) -> StagedFiles:
    """Write `rows` as files of the batch's partition of `spec`, from the executors."""
    target = PartTarget(
        spec.key, run.catalog.uri(spec), _file_schema(spec), {"batch_id": run.batch_id or ""}
    )
    staged = write_parts(rows, [target], options)[spec.key]
    run.forget_on_failure(staged, spec)
    return staged


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
