"""Clean: a batch's `bronze/documents` → `silver/documents`, every drop to `ops/rejections`."""

import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable

from assets.ingest import BRONZE_DOCUMENTS_KEY
from assets.lineage import Derived, with_lineage
from assets.partitions import batches
from assets.resources import LakehouseResource, SparkResource
from assets.tables import asset_key, table_metadata
from lakehouse.catalog import Catalog
from lakehouse.ledger import LostRowsError, conserved_outcome, record_outcome
from lakehouse.review import blocklist
from lakehouse.tables import BRONZE_DOCUMENTS, OPS_REJECTIONS, REVIEW_BLOCKLIST, SILVER_DOCUMENTS
from spark_jobs.blocklist import apply_blocklist
from spark_jobs.clean import (
    CleanOutput,
    clean_documents,
    partitions_for,
    read_bronze_files,
    write_clean_output,
)

STAGE = "clean"
SILVER_DOCUMENTS_KEY = asset_key(SILVER_DOCUMENTS)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]


def bronze_batch_files(catalog: Catalog, version: int, batch_id: str) -> list[str]:
    """Parquet files of one batch in a pinned version of `bronze/documents`."""
    table = DeltaTable(
        catalog.uri(BRONZE_DOCUMENTS),
        version=version,
        storage_options=catalog.storage_options or None,
    )
    return table.file_uris(partition_filters=[("batch_id", "=", batch_id)])


def _kept_rows(output: CleanOutput) -> pa.RecordBatchReader:
    if not output.kept.exists():
        return pa.RecordBatchReader.from_batches(SILVER_DOCUMENTS.schema, iter(()))
    dataset = ds.dataset(str(output.kept), format="parquet")
    return dataset.scanner(columns=SILVER_DOCUMENTS.schema.names).to_reader()


def _rejections(output: CleanOutput) -> pa.Table:
    if not output.rejected.exists():
        fields = [OPS_REJECTIONS.schema.field(name) for name in _REJECTION_COLUMNS]
        return pa.schema([*fields, pa.field("lang", pa.string())]).empty_table()
    return ds.dataset(str(output.rejected), format="parquet").to_table(
        columns={
            "doc_id": ds.field("doc_id"),
            "rule": ds.field("rejection", "rule"),
            "value": ds.field("rejection", "value"),
            "threshold": ds.field("rejection", "threshold"),
            "detail": ds.field("rejection", "detail"),
            "lang": ds.field("lang"),
        }
    )


# Which bronze columns each silver column comes from: `dagster/column_lineage` and OpenLineage.
COLUMN_LINEAGE = {
    SILVER_DOCUMENTS.key: {
        "doc_id": [Derived(BRONZE_DOCUMENTS.key, "doc_id", "kept documents")],
        "source_uri": [Derived(BRONZE_DOCUMENTS.key, "source_uri", "provenance carried")],
        "text": [
            Derived(
                BRONZE_DOCUMENTS.key,
                "text",
                "Unicode NFC, control characters and whitespace normalized, C4 line rules, "
                "PII redacted",
                "TRANSFORMATION",
            )
        ],
        "text_sha256": [
            Derived(BRONZE_DOCUMENTS.key, "text", "sha256 of the cleaned text", "TRANSFORMATION")
        ],
        "bronze_text_sha256": [
            Derived(BRONZE_DOCUMENTS.key, "text_sha256", "hash of the text as it landed")
        ],
        "lang": [
            Derived(BRONZE_DOCUMENTS.key, "text", "fastText lid.176 language", "TRANSFORMATION")
        ],
    },
}


@dg.asset(
    key=SILVER_DOCUMENTS_KEY,
    deps=[BRONZE_DOCUMENTS_KEY],
    partitions_def=batches,
    group_name="silver",
    kinds={"spark", "delta"},
    owners=["team:data-engineering"],
    tags={"stage": STAGE},
    code_version="1",
    description=(
        "The batch's bronze documents normalized (NFC, control characters, whitespace), "
        "language-identified (fastText lid.176), filtered by the Gopher quality, Gopher "
        "repetition, C4 and FineWeb rules with the recipe's thresholds, and PII-redacted. "
        "Every signal is a column; every dropped document is a row of ops/rejections."
    ),
)
@with_lineage(STAGE, COLUMN_LINEAGE)
def clean(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, spark: SparkResource
) -> dg.MaterializeResult:
    """Run the clean operators on Spark over the pinned bronze batch; commit with delta-rs."""
    batch_id = context.partition_key
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    bronze_version = catalog.version(BRONZE_DOCUMENTS)
    if bronze_version is None:
        raise LostRowsError(f"bronze/documents does not exist; ingest batch {batch_id} first")
    inputs = {BRONZE_DOCUMENTS.key: bronze_version}
    # Reviewers' blocked terms, URLs and sources (a recipe overlay), pinned like any input.
    blocklist_version = catalog.version(REVIEW_BLOCKLIST)
    if blocklist_version is not None:
        inputs[REVIEW_BLOCKLIST.key] = blocklist_version
    blocked = blocklist(catalog, blocklist_version) if blocklist_version is not None else []
    commit = lakehouse.commit_info(context.run_id, STAGE, loaded, inputs)
    rows_in = catalog.count(BRONZE_DOCUMENTS, bronze_version, where={"batch_id": batch_id})
    session = spark.session(loaded)
    scratch = Path(tempfile.mkdtemp(prefix=f"funnel-clean-{batch_id}-"))
    try:
        files = bronze_batch_files(catalog, bronze_version, batch_id)
        if files:
            bronze = read_bronze_files(session, files, batch_id, partitions_for(rows_in))
            output = write_clean_output(
                apply_blocklist(clean_documents(bronze, loaded.recipe.clean), blocked),
                scratch / "out",
            )
        else:
            output = CleanOutput(scratch / "out")
        rejections = _rejections(output)
        silver_version = catalog.write(
            SILVER_DOCUMENTS,
            _kept_rows(output),
            commit,
            replace={"batch_id": batch_id},
        )
        outcome = conserved_outcome(
            catalog,
            STAGE,
            batch_id,
            rows_in,
            SILVER_DOCUMENTS,
            silver_version,
            rejections.select(_REJECTION_COLUMNS),
        )
        rows_out = outcome.rows_out
        rejections_version = record_outcome(catalog, outcome, commit)
        languages = Counter(rejections["lang"].to_pylist())
        if rows_out:
            kept_langs = catalog.read(
                SILVER_DOCUMENTS, silver_version, where={"batch_id": batch_id}, columns=["lang"]
            )
            languages.update(kept_langs["lang"].to_pylist())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    by_rule = dict(sorted(Counter(rejections["rule"].to_pylist()).items()))
    context.log.info(
        f"batch {batch_id}: {rows_in} bronze rows → {rows_out} silver, "
        f"{rejections.num_rows} rejected on {spark.resolved_master(loaded)}"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            catalog,
            SILVER_DOCUMENTS,
            silver_version,
            rows_out,
            batch_id=batch_id,
            rows_in=rows_in,
            rows_out=rows_out,
            rows_rejected=rejections.num_rows,
            rejections_by_rule=dg.MetadataValue.json(by_rule),
            language_distribution=dg.MetadataValue.json(
                {str(lang or "none"): n for lang, n in sorted(languages.items(), key=str)}
            ),
            bronze_version=bronze_version,
            rejections_version=rejections_version,
            spark_master=spark.resolved_master(loaded),
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round(time.perf_counter() - started, 3),
        )
    )
