"""Dedup: a batch's `silver/documents` → `silver/unique_documents`, duplicates to `ops/rejections`.

The batch is compared with itself and with every document kept before (`silver/dedup_index`),
so dedup is global across batches; the batch's own earlier index rows are replaced, so a re-run
gives the same result.
"""

import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from assets.clean import SILVER_DOCUMENTS_KEY
from assets.lineage import Derived, with_lineage
from assets.partitions import batches
from assets.resources import LakehouseResource, SparkResource
from assets.tables import asset_key, table_metadata
from lakehouse.catalog import Catalog
from lakehouse.ledger import conserved_outcome, record_outcome
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

STAGE = "dedup"
SILVER_UNIQUE_DOCUMENTS_KEY = asset_key(SILVER_UNIQUE_DOCUMENTS)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]
_INDEX_DDL = (
    "doc_id string, ingested_at timestamp, text_sha256 string, signature array<int>, "
    "band_keys array<bigint>"
)


class DedupInputError(RuntimeError):
    """A table the dedup stage reads is missing."""


def table_files(catalog: Catalog, spec: TableSpec, version: int, batch: str, op: str) -> list[str]:
    """Parquet files of a pinned table version whose `batch_id` is (`=`) or is not (`!=`) batch."""
    table = DeltaTable(
        catalog.uri(spec), version=version, storage_options=catalog.storage_options or None
    )
    return table.file_uris(partition_filters=[("batch_id", op, batch)])


def _batch_documents(
    session: SparkSession, catalog: Catalog, silver: int, bronze: int, batch_id: str
) -> DataFrame:
    """The batch's silver documents with `ingested_at` from their bronze rows."""
    documents = session.read.parquet(*table_files(catalog, SILVER_DOCUMENTS, silver, batch_id, "="))
    ingested = session.read.parquet(
        *table_files(catalog, BRONZE_DOCUMENTS, bronze, batch_id, "=")
    ).select("doc_id", "ingested_at")
    return documents.withColumn("batch_id", F.lit(batch_id)).join(ingested, "doc_id", "left")


def _prior_index(
    session: SparkSession, catalog: Catalog, version: int | None, batch_id: str
) -> DataFrame:
    """Index rows of every other batch (the batch's own rows are about to be replaced)."""
    files = (
        table_files(catalog, SILVER_DEDUP_INDEX, version, batch_id, "!=")
        if version is not None
        else []
    )
    if files:
        return session.read.parquet(*files)
    return session.createDataFrame([], _INDEX_DDL)


def _parquet_rows(folder: Path, spec: TableSpec) -> pa.RecordBatchReader:
    """A streaming reader of the Parquet files Spark wrote to `folder`, in the table's columns."""
    if not folder.exists():
        return pa.RecordBatchReader.from_batches(spec.schema, iter(()))
    return ds.dataset(str(folder), format="parquet").scanner(columns=spec.schema.names).to_reader()


# Unique documents are silver documents, unchanged: every column comes straight through.
COLUMN_LINEAGE = {
    SILVER_UNIQUE_DOCUMENTS.key: {
        name: [Derived(SILVER_DOCUMENTS.key, name, "kept after exact and near-duplicate removal")]
        for name in ("doc_id", "text", "text_sha256", "lang", "source_uri")
    },
}


@dg.asset(
    key=SILVER_UNIQUE_DOCUMENTS_KEY,
    deps=[SILVER_DOCUMENTS_KEY],
    partitions_def=batches,
    group_name="silver",
    kinds={"spark", "delta"},
    owners=["team:data-engineering"],
    tags={"stage": STAGE},
    code_version="1",
    description=(
        "The batch's silver documents without exact duplicates (same normalized text) and "
        "near duplicates (MinHash-LSH on word 5-gram shingles, verified on the estimated "
        "Jaccard similarity), compared with each other and with every document kept before. "
        "One keeper per cluster; every removed document is a row of ops/rejections with its "
        "keeper in `duplicate_of`."
    ),
)
@with_lineage(STAGE, COLUMN_LINEAGE)
def dedup(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, spark: SparkResource
) -> dg.MaterializeResult:
    """Dedup the pinned silver batch against the pinned index on Spark; commit with delta-rs."""
    batch_id = context.partition_key
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    config = loaded.recipe.dedup
    silver_version = catalog.version(SILVER_DOCUMENTS)
    bronze_version = catalog.version(BRONZE_DOCUMENTS)
    if silver_version is None or bronze_version is None:
        raise DedupInputError(
            f"silver/documents or bronze/documents does not exist; clean batch {batch_id} first"
        )
    index_version = catalog.version(SILVER_DEDUP_INDEX)
    inputs = {SILVER_DOCUMENTS.key: silver_version, BRONZE_DOCUMENTS.key: bronze_version}
    if index_version is not None:
        inputs[SILVER_DEDUP_INDEX.key] = index_version
    commit = lakehouse.commit_info(context.run_id, STAGE, loaded, inputs)
    rows_in = catalog.count(SILVER_DOCUMENTS, silver_version, where={"batch_id": batch_id})
    histogram: dict[str, int] = {}
    scratch = Path(tempfile.mkdtemp(prefix=f"funnel-dedup-{batch_id}-"))
    try:
        if rows_in:
            session = spark.session(loaded)
            documents = _batch_documents(session, catalog, silver_version, bronze_version, batch_id)
            outcome = deduplicate(
                documents, _prior_index(session, catalog, index_version, batch_id), config
            )
            kept = outcome.decisions.where(F.col("outcome") == KEPT).select("doc_id")
            documents.join(kept, "doc_id", "left_semi").write.parquet(str(scratch / "kept"))
            outcome.index.withColumn("batch_id", F.lit(batch_id)).write.parquet(
                str(scratch / "index")
            )
            rejections(outcome.decisions, config).write.parquet(str(scratch / "rejected"))
            histogram = cluster_size_histogram(outcome.decisions)
        rejected = (
            ds.dataset(str(scratch / "rejected"), format="parquet").to_table()
            if (scratch / "rejected").exists()
            else pa.schema(
                [OPS_REJECTIONS.schema.field(n) for n in _REJECTION_COLUMNS]
            ).empty_table()
        )
        unique_version = catalog.write(
            SILVER_UNIQUE_DOCUMENTS,
            _parquet_rows(scratch / "kept", SILVER_UNIQUE_DOCUMENTS),
            commit,
            replace={"batch_id": batch_id},
        )
        outcome = conserved_outcome(
            catalog,
            STAGE,
            batch_id,
            rows_in,
            SILVER_UNIQUE_DOCUMENTS,
            unique_version,
            rejected.select(_REJECTION_COLUMNS),
        )
        rows_out = outcome.rows_out
        index_written = catalog.write(
            SILVER_DEDUP_INDEX,
            _parquet_rows(scratch / "index", SILVER_DEDUP_INDEX),
            commit,
            replace={"batch_id": batch_id},
        )
        rejections_version = record_outcome(catalog, outcome, commit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rules = rejected["rule"].to_pylist()
    exact, near = rules.count(EXACT_DUPLICATE), rules.count(NEAR_DUPLICATE)
    context.log.info(
        f"batch {batch_id}: {rows_in} silver rows → {rows_out} unique, {exact} exact and "
        f"{near} near duplicates removed"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            catalog,
            SILVER_UNIQUE_DOCUMENTS,
            unique_version,
            rows_out,
            batch_id=batch_id,
            rows_in=rows_in,
            rows_out=rows_out,
            exact_duplicates=exact,
            near_duplicates=near,
            cluster_sizes=dg.MetadataValue.json(histogram),
            silver_version=silver_version,
            index_version=index_written,
            index_rows_total=catalog.row_count(SILVER_DEDUP_INDEX, index_written),
            rejections_version=rejections_version,
            signature=f"{config.bands} bands × {config.rows_per_band} rows, "
            f"{config.shingle_size}-word shingles, seed {config.seed}",
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round(time.perf_counter() - started, 3),
        )
    )
