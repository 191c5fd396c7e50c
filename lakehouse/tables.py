"""Every table of the lakehouse: its name, schema, partitioning and purpose.

This module is the one home of table names. A table `layer/name` lives at `<root>/layer/name`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class TableSpec:
    """A Delta table the funnel writes."""

    layer: str
    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...]
    description: str

    @property
    def key(self) -> str:
        """`layer/name`, the table's name everywhere (catalog, CLI, lineage)."""
        return f"{self.layer}/{self.name}"

    @property
    def sql_name(self) -> str:
        """`layer.name`, the table's name in DuckDB SQL."""
        return f"{self.layer}.{self.name}"


def _field(name: str, type_: pa.DataType, nullable: bool = False, doc: str = "") -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc} if doc else None)


BRONZE_DOCUMENTS = TableSpec(
    layer="bronze",
    name="documents",
    schema=pa.schema(
        [
            _field(
                "doc_id", pa.string(), doc="sha256 of (source_uri, source_record), 32 hex chars"
            ),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("source", pa.string(), doc="recipe source name"),
            _field("domain", pa.string(), doc="domain label of the source"),
            _field("license", pa.string(), doc="license of the source's text"),
            _field("source_uri", pa.string(), doc="landing file the record came from"),
            _field("source_record", pa.int64(), doc="0-based line or row index in that file"),
            _field("source_id", pa.string(), nullable=True, doc="the record's own id field"),
            _field("text", pa.large_string(), doc="text exactly as it landed"),
            _field("text_sha256", pa.string(), doc="sha256 of the UTF-8 text"),
            _field("text_bytes", pa.int64(), doc="UTF-8 length of text, bytes"),
            _field("ingested_at", TIMESTAMP, doc="start of the ingest run"),
        ]
    ),
    partition_by=("batch_id",),
    description="Every readable record of every landing file, with its provenance.",
)

BRONZE_QUARANTINE = TableSpec(
    layer="bronze",
    name="quarantine",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), nullable=True, doc="null when a whole file failed"),
            _field("batch_id", pa.string()),
            _field("source", pa.string()),
            _field("source_uri", pa.string()),
            _field("source_record", pa.int64(), nullable=True, doc="null when a whole file failed"),
            _field("reason", pa.string(), doc="machine-readable reason, e.g. malformed_json"),
            _field("detail", pa.string(), doc="human-readable explanation"),
            _field("raw_preview", pa.string(), nullable=True, doc="first bytes of the record"),
            _field("raw_bytes", pa.int64(), nullable=True, doc="size of the raw record, bytes"),
            _field("run_id", pa.string()),
            _field("quarantined_at", TIMESTAMP),
        ]
    ),
    partition_by=("batch_id",),
    description="Records and files that could not be ingested, each with its reason.",
)

OPS_BATCHES = TableSpec(
    layer="ops",
    name="batches",
    schema=pa.schema(
        [
            _field("batch_id", pa.string()),
            _field("source", pa.string()),
            _field("file_uri", pa.string()),
            _field("file_bytes", pa.int64(), nullable=True),
            _field("registered_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="Which landing files make up each ingestion batch.",
)

OPS_LEDGER = TableSpec(
    layer="ops",
    name="ledger",
    schema=pa.schema(
        [
            _field("stage", pa.string()),
            _field("batch_id", pa.string()),
            _field("rows_in", pa.int64()),
            _field("rows_out", pa.int64()),
            _field("rows_rejected", pa.int64()),
            _field("rows_quarantined", pa.int64()),
            _field("output_table", pa.string()),
            _field("output_version", pa.int64()),
            _field("quarantine_table", pa.string(), nullable=True),
            _field("quarantine_version", pa.int64(), nullable=True),
            _field("rejections_version", pa.int64(), nullable=True),
            _field("run_id", pa.string()),
            _field("recorded_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="Row counts per stage and batch: rows_in = out + rejected + quarantined.",
)

OPS_REJECTIONS = TableSpec(
    layer="ops",
    name="rejections",
    schema=pa.schema(
        [
            _field("doc_id", pa.string()),
            _field("batch_id", pa.string()),
            _field("stage", pa.string()),
            _field("rule", pa.string()),
            _field("value", pa.float64(), nullable=True),
            _field("threshold", pa.float64(), nullable=True),
            _field("detail", pa.string(), nullable=True, doc="e.g. duplicate_of"),
            _field("run_id", pa.string()),
        ]
    ),
    partition_by=("stage",),
    description="Every document a stage dropped, with the rule, value and threshold.",
)

TABLES: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (BRONZE_DOCUMENTS, BRONZE_QUARANTINE, OPS_BATCHES, OPS_LEDGER, OPS_REJECTIONS)
}


class UnknownTableError(KeyError):
    """A table name that the catalog does not define."""

    def __str__(self) -> str:
        return str(self.args[0])


def table_spec(key: str) -> TableSpec:
    """The spec of table `layer/name` (also accepts `layer.name`)."""
    normalized = key.replace(".", "/")
    try:
        return TABLES[normalized]
    except KeyError:
        known = ", ".join(sorted(TABLES))
        raise UnknownTableError(f"unknown table {key!r}; known tables: {known}") from None
