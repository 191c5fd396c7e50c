"""Ingest: a batch's landing files → `bronze/documents` and `bronze/quarantine`."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from assets.lineage import LANDING, Derived
from assets.runner import Lazy, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.batches import batch_files, file_state, landing_change
from lakehouse.landing import IngestStats, QuarantineSink, read_landing_files
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE

STAGE = "ingest"
BRONZE_DOCUMENTS_KEY = asset_key(BRONZE_DOCUMENTS)
BRONZE_QUARANTINE_KEY = asset_key(BRONZE_QUARANTINE)


def ingest_batch(run: StageRun) -> StageResult:
    """Stream the batch's landing files into bronze rows; bad records to the quarantine."""
    batch_id = run.batch_id or ""
    started = datetime.now(UTC)
    stats = IngestStats()
    quarantine = QuarantineSink(batch_id, run.run_id, started, stats)
    files = []
    for landing_file in batch_files(run.catalog, batch_id):
        # A file edited or removed since registration is never read: its rows would replace
        # the batch's earlier ones and reuse their doc_ids for other text.
        change = landing_change(landing_file)
        if change is not None:
            quarantine.add(landing_file, None, *change)
            continue
        files.append((landing_file, run.loaded.recipe.source(landing_file.source)))
    rows = read_landing_files(files, run.loaded.recipe.ingest, batch_id, started, quarantine)
    return StageResult(
        rows_in=Lazy(lambda: stats.records_read),
        outputs={
            BRONZE_DOCUMENTS.key: pa.RecordBatchReader.from_batches(BRONZE_DOCUMENTS.schema, rows),
            BRONZE_QUARANTINE.key: Lazy(quarantine.rows),
        },
        metadata=Lazy(
            lambda: {
                BRONZE_DOCUMENTS.key: {
                    "files_read": stats.files,
                    "records_read": stats.records_read,
                    "bytes_read": stats.bytes_read,
                },
                BRONZE_QUARANTINE.key: {
                    "quarantined_by_reason": dg.MetadataValue.json(
                        dict(sorted(stats.quarantined.items()))
                    )
                },
            }
        ),
        summary=Lazy(
            lambda: (
                f"batch {batch_id}: {len(files)} files, {stats.records_read} records → "
                f"{stats.rows_written} bronze rows, {stats.rows_quarantined} quarantined"
            )
        ),
        cleanup=[quarantine.close],
    )


INGEST = Stage(
    name=STAGE,
    description="Every readable record of the batch's landing files, text as it landed.",
    group="bronze",
    engine="pyarrow",
    inputs=(),
    outputs=(BRONZE_DOCUMENTS, BRONZE_QUARANTINE),
    operator=ingest_batch,
    rejects=False,
    quarantine=BRONZE_QUARANTINE,
    settings=("sources", "ingest"),
    # The registered files, and what they look like now: an edited or vanished file re-runs.
    fingerprint_of=lambda run: [
        (landing, file_state(landing.uri))
        for landing in batch_files(run.catalog, run.batch_id or "")
    ],
    descriptions={
        BRONZE_DOCUMENTS.key: (
            "Every readable record of the batch's landing files, text as it landed, with "
            "provenance: doc_id, source, domain, license, source_uri, source_record, "
            "source_id, text_sha256."
        ),
        BRONZE_QUARANTINE.key: (
            "Records and files of the batch that could not be ingested (malformed JSON, "
            "invalid UTF-8, missing or non-string text, oversized, unreadable or vanished "
            "files), each with its reason and a preview of the raw bytes."
        ),
    },
    # Which raw fields each bronze column comes from: `dagster/column_lineage` and OpenLineage.
    column_lineage={
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
    },
)

ingest = stage_asset(INGEST)
