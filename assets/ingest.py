"""Ingest: a batch's landing files → `bronze/documents` and `bronze/quarantine`."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from assets.lineage import LANDING, Derived, with_lineage
from assets.partitions import batches
from assets.resources import LakehouseResource
from assets.tables import asset_key, table_metadata
from lakehouse.batches import batch_files
from lakehouse.landing import IngestStats, QuarantineSink, read_landing_files
from lakehouse.ledger import LedgerEntry, record_stage
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE

STAGE = "ingest"
GROUP = "bronze"
OWNERS = ["team:data-engineering"]

BRONZE_DOCUMENTS_KEY = asset_key(BRONZE_DOCUMENTS)
BRONZE_QUARANTINE_KEY = asset_key(BRONZE_QUARANTINE)

# Which raw fields each bronze column comes from: `dagster/column_lineage` and OpenLineage.
COLUMN_LINEAGE = {
    BRONZE_DOCUMENTS.key: {
        "text": [Derived(LANDING, "text_field", "text exactly as it landed")],
        "source_id": [Derived(LANDING, "id_field", "the record's own id, as a string")],
        "text_sha256": [
            Derived(LANDING, "text_field", "sha256 of the UTF-8 text", "TRANSFORMATION")
        ],
        "text_bytes": [
            Derived(LANDING, "text_field", "UTF-8 length of the text, bytes", "TRANSFORMATION")
        ],
    },
}


@dg.multi_asset(
    name="ingest",
    specs=[
        dg.AssetSpec(
            BRONZE_DOCUMENTS_KEY,
            description=(
                "Every readable record of the batch's landing files, text as it landed, with "
                "provenance: doc_id, source, domain, license, source_uri, source_record, "
                "source_id, text_sha256."
            ),
            group_name=GROUP,
            kinds={"delta", "pyarrow"},
            owners=OWNERS,
            tags={"stage": STAGE},
        ),
        dg.AssetSpec(
            BRONZE_QUARANTINE_KEY,
            description=(
                "Records and files of the batch that could not be ingested (malformed JSON, "
                "invalid UTF-8, missing or non-string text, oversized, unreadable or vanished "
                "files), each with its reason and a preview of the raw bytes."
            ),
            group_name=GROUP,
            kinds={"delta", "pyarrow"},
            owners=OWNERS,
            tags={"stage": STAGE},
        ),
    ],
    partitions_def=batches,
    code_version="1",
)
@with_lineage(STAGE, COLUMN_LINEAGE)
def ingest(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Read the batch's files in bounded blocks; write bronze rows and quarantine atomically."""
    batch_id = context.partition_key
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    commit = lakehouse.commit_info(context.run_id, STAGE, loaded)
    files = [
        (landing_file, loaded.recipe.source(landing_file.source))
        for landing_file in batch_files(catalog, batch_id)
    ]
    started = datetime.now(UTC)
    stats = IngestStats()
    quarantine = QuarantineSink(batch_id, context.run_id, started, stats)
    try:
        rows = read_landing_files(files, loaded.recipe.ingest, batch_id, started, quarantine)
        documents_version = catalog.write(
            BRONZE_DOCUMENTS,
            pa.RecordBatchReader.from_batches(BRONZE_DOCUMENTS.schema, rows),
            commit,
            replace={"batch_id": batch_id},
        )
        quarantine_version = catalog.write(
            BRONZE_QUARANTINE, quarantine.rows(), commit, replace={"batch_id": batch_id}
        )
    finally:
        quarantine.close()
    context.log.info(
        f"batch {batch_id}: {len(files)} files, {stats.records_read} records → "
        f"{stats.rows_written} bronze rows, {stats.rows_quarantined} quarantined"
    )
    record_stage(
        catalog,
        LedgerEntry(
            stage=STAGE,
            batch_id=batch_id,
            rows_in=stats.records_read,
            rows_out=stats.rows_written,
            rows_rejected=0,
            rows_quarantined=stats.rows_quarantined,
            output_table=BRONZE_DOCUMENTS.key,
            output_version=documents_version,
            run_id=context.run_id,
            quarantine_table=BRONZE_QUARANTINE.key,
            quarantine_version=quarantine_version,
        ),
        commit,
    )
    quarantine_reasons = dict(sorted(stats.quarantined.items()))
    yield dg.MaterializeResult(
        asset_key=BRONZE_DOCUMENTS_KEY,
        metadata=table_metadata(
            catalog,
            BRONZE_DOCUMENTS,
            documents_version,
            stats.rows_written,
            batch_id=batch_id,
            files_read=stats.files,
            records_read=stats.records_read,
            rows_quarantined=stats.rows_quarantined,
            bytes_read=stats.bytes_read,
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round((datetime.now(UTC) - started).total_seconds(), 3),
        ),
    )
    yield dg.MaterializeResult(
        asset_key=BRONZE_QUARANTINE_KEY,
        metadata=table_metadata(
            catalog,
            BRONZE_QUARANTINE,
            quarantine_version,
            stats.rows_quarantined,
            batch_id=batch_id,
            quarantined_by_reason=dg.MetadataValue.json(quarantine_reasons),
        ),
    )
