"""The clean stage as a list of named steps over a DataFrame of bronze documents.

    url_signals → normalize → remove_boilerplate_lines → identify_language → quality_signals
    → decide → redact_pii

Every step measures every document (rejected ones too, so that re-thresholding needs no Spark);
only PII redaction is limited to the kept ones. The result has one row per input document: the
silver columns, plus `outcome` and `rejection` (null for kept documents).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.catalog import StagedFiles
from lakehouse.recipe import PII_KINDS, CleanConfig
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    OPS_REJECTIONS,
    SILVER_BOILERPLATE_LINES,
    SILVER_DOCUMENTS,
    SILVER_SIGNALS,
    TableSpec,
)
from lakehouse.url_lists import UrlLists
from spark_jobs.boilerplate import BOILERPLATE_SIGNAL, remove_boilerplate_lines
from spark_jobs.decisions import PROFILE_COLUMN, document_profile, fired_rules, first_rejection
from spark_jobs.lake_io import PartTarget, read_parquet, write_parts
from spark_jobs.language import identify_language
from spark_jobs.normalization import normalize
from spark_jobs.pii import redact_pii
from spark_jobs.quality_signals import SIGNAL_COLUMNS, quality_signals
from spark_jobs.url_filters import URL_SIGNAL_COLUMNS, add_url_signals

PROVENANCE_COLUMNS = (
    "doc_id",
    "batch_id",
    "source",
    "domain",
    "license",
    "source_uri",
    "source_record",
    "source_id",
)
# Silver columns in table order, after the provenance columns.
SILVER_COLUMNS = (
    *PROVENANCE_COLUMNS,
    "text",
    "text_sha256",
    "text_chars",
    "bronze_text_sha256",
    "lang",
    "lang_score",
    *SIGNAL_COLUMNS,
    *(f"pii_{kind}" for kind in PII_KINDS),
)
# Documents per Spark partition: small enough to balance the cores, large enough to keep the
# per-task overhead (Python worker round trips) negligible.
DOCS_PER_PARTITION = 2500
OUTCOME_KEPT = "kept"
OUTCOME_REJECTED = "rejected"
# The write target of the rejected documents' rejection rows (scratch, not a table).
REJECTED = "rejected"


def _c4_rewritten_profiles(config: CleanConfig) -> list[str]:
    """The profiles whose silver text keeps only the lines C4's line rules keep: those that
    run the C4 family, with it enabled. Code keeps every line (its short lines are code)."""
    return [
        name
        for name in config.profile_names
        if "c4" in config.profile_families(name)
        and config.profile_config(name).c4.enabled
        and config.c4.remove_filtered_lines
    ]


def clean_documents(
    bronze: DataFrame, config: CleanConfig, url_lists: UrlLists | None = None
) -> DataFrame:
    """Every bronze row with its silver columns, `outcome` and `rejection` (rule, value, …).

    `clean_batch_documents` with no earlier batches' line counts, without the batch's own.
    """
    return clean_batch_documents(bronze, config, url_lists).documents


@dataclass(frozen=True)
class CleanedBatch:
    """`clean_batch_documents`' result: every document, and the batch's line counts."""

    documents: DataFrame
    line_index: DataFrame


def clean_batch_documents(
    bronze: DataFrame,
    config: CleanConfig,
    url_lists: UrlLists | None = None,
    prior_lines: DataFrame | None = None,
) -> CleanedBatch:
    """Every bronze row with its silver columns, `outcome` and `rejection`; and line counts.

    Every signal is measured for every document, kept or rejected (`signal_rows` selects them);
    only PII redaction is limited to kept documents. Besides the silver columns the result has
    `text_bytes`, `normalized_chars`, the URL signals and `boilerplate_lines_removed`, which
    only silver/signals stores. `url_lists` are the URL rules' lists
    (`lakehouse.url_lists.load_url_lists`); `prior_lines` the `silver/boilerplate_lines` rows
    of the batches cleaned before (None: none).
    """
    # Bronze written before web sources existed has no url column: its documents have none.
    url = F.col("url") if "url" in bronze.columns else F.lit(None).cast("string")
    df = bronze.select(
        *PROVENANCE_COLUMNS,
        "text",
        F.col("text_sha256").alias("bronze_text_sha256"),
        F.col("text_bytes").cast("long").alias("text_bytes"),
        url.alias("url"),
    )
    df = add_url_signals(df, url_lists or UrlLists()).drop("url")
    boilerplate = config.boilerplate
    lines = remove_boilerplate_lines(
        normalize(df, config.normalize),
        prior_lines,
        boilerplate.max_documents if boilerplate.enabled else None,
        boilerplate.min_line_chars,
    )
    df = lines.documents.withColumn("normalized_chars", F.length("text").cast("long"))
    df = quality_signals(identify_language(df), config)
    df = df.withColumn(PROFILE_COLUMN, document_profile(config))
    rewritten = _c4_rewritten_profiles(config)
    if rewritten:
        df = df.withColumn(
            "text",
            F.when(
                F.col(PROFILE_COLUMN).isin(rewritten), F.coalesce(F.col("c4_text"), F.col("text"))
            ).otherwise(F.col("text")),
        )
    df = df.withColumn("_fired", fired_rules(config))
    df = df.withColumn("rejection", first_rejection(F.col("_fired"), F.col(PROFILE_COLUMN))).drop(
        "_fired"
    )
    df = redact_pii(df, config.pii, measure=F.col("rejection").isNull())
    kept = F.col("rejection").isNull()
    cleaned = df.select(
        *PROVENANCE_COLUMNS,
        # Rejected documents keep no text: their rejection row is all that is written of them.
        F.when(kept, F.col("text")).alias("text"),
        F.when(kept, F.sha2(F.col("text"), 256)).alias("text_sha256"),
        F.when(kept, F.length("text").cast("long"))
        .otherwise(F.col("normalized_chars"))
        .alias("text_chars"),
        *SILVER_COLUMNS[len(PROVENANCE_COLUMNS) + 3 :],
        "text_bytes",
        "normalized_chars",
        *URL_SIGNAL_COLUMNS,
        BOILERPLATE_SIGNAL,
        F.when(kept, F.lit(OUTCOME_KEPT)).otherwise(F.lit(OUTCOME_REJECTED)).alias("outcome"),
        "rejection",
    )
    return CleanedBatch(cleaned, lines.index)


def signal_rows(cleaned: DataFrame) -> DataFrame:
    """The silver/signals rows of `clean_documents`' result: every document's signals and rule."""
    return cleaned.select(
        *(
            F.col("rejection.rule").alias(name) if name == "rule" else F.col(name)
            for name in SILVER_SIGNALS.schema.names
        )
    )


def partitions_for(rows: int) -> int:
    """Spark partitions for a batch of `rows` documents: about DOCS_PER_PARTITION each, ≥ 2."""
    return max(2, -(-rows // DOCS_PER_PARTITION))


def read_bronze_files(
    spark: SparkSession,
    files: list[str],
    batch_id: str,
    partitions: int = 2,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """The bronze Parquet files of one batch, spread evenly over `partitions` partitions.

    The executors read the files themselves (local paths or object-store URIs, with the lake's
    storage options). A batch is often one or two large files, which would be read as one or
    two partitions and so leave cores idle; an even round-robin spread costs one small shuffle.
    Delta keeps the partition column out of the files, so `batch_id` is added back.
    """
    if not files:
        raise ValueError(f"batch {batch_id!r} has no bronze files to clean")
    schema = pa.schema([field for field in BRONZE_DOCUMENTS.schema if field.name != "batch_id"])
    bronze = read_parquet(spark, files, schema, storage_options)
    return bronze.withColumn("batch_id", F.lit(batch_id)).repartition(partitions)


def _file_schema(spec: TableSpec) -> pa.Schema:
    """A table's columns as its data files hold them: without the partition columns."""
    return pa.schema([field for field in spec.schema if field.name not in spec.partition_by])


# The rejection struct's fields as top-level columns (what the Parquet writers select).
_REJECTION_FIELDS = {name: f"rejection_{name}" for name in ("rule", "value", "threshold", "detail")}
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        *(OPS_REJECTIONS.schema.field(name) for name in _REJECTION_FIELDS),
        pa.field("lang", pa.string()),
    ]
)


def clean_targets(
    catalog_uri: Callable[[TableSpec], str], batch_id: str, rejected_location: str
) -> list[PartTarget]:
    """Where `write_clean_output` writes: the kept documents to silver/documents, every
    document's signals to silver/signals (both this batch's partition), and the rejected
    documents' rejection rows to `rejected_location` (scratch the stage reads back)."""
    partition = {"batch_id": batch_id}
    return [
        PartTarget(
            SILVER_DOCUMENTS.key,
            catalog_uri(SILVER_DOCUMENTS),
            _file_schema(SILVER_DOCUMENTS),
            partition,
            where="is_kept",
        ),
        PartTarget(
            SILVER_SIGNALS.key,
            catalog_uri(SILVER_SIGNALS),
            _file_schema(SILVER_SIGNALS),
            partition,
            columns={"rule": _REJECTION_FIELDS["rule"]},
        ),
        PartTarget(
            REJECTED,
            rejected_location,
            REJECTED_SCHEMA,
            where="is_rejected",
            columns=dict(_REJECTION_FIELDS),
        ),
    ]


def write_clean_output(
    cleaned: DataFrame, targets: list[PartTarget], storage_options: Mapping[str, str] | None
) -> dict[str, StagedFiles]:
    """Write `clean_documents`' result once, from the executors: kept documents and every
    document's signals as files of their tables, rejections to scratch (see `clean_targets`)."""
    flat = cleaned.select(
        "*",
        (F.col("outcome") == OUTCOME_KEPT).alias("is_kept"),
        (F.col("outcome") == OUTCOME_REJECTED).alias("is_rejected"),
        *(F.col(f"rejection.{name}").alias(column) for name, column in _REJECTION_FIELDS.items()),
    )
    return write_parts(flat, targets, storage_options)


def read_prior_lines(
    spark: SparkSession, files: list[str], storage_options: Mapping[str, str] | None
) -> DataFrame | None:
    """The `silver/boilerplate_lines` rows of the batches cleaned before (None: there are none),
    read by the executors from the table's files."""
    if not files:
        return None
    return read_parquet(spark, files, _file_schema(SILVER_BOILERPLATE_LINES), storage_options)


def write_line_index(
    line_index: DataFrame,
    catalog_uri: Callable[[TableSpec], str],
    batch_id: str,
    storage_options: Mapping[str, str] | None,
) -> StagedFiles:
    """Write the batch's line counts as files of `silver/boilerplate_lines` (its partition)."""
    target = PartTarget(
        SILVER_BOILERPLATE_LINES.key,
        catalog_uri(SILVER_BOILERPLATE_LINES),
        _file_schema(SILVER_BOILERPLATE_LINES),
        {"batch_id": batch_id},
    )
    return write_parts(line_index, [target], storage_options)[SILVER_BOILERPLATE_LINES.key]
