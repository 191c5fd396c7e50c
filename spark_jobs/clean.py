"""The clean stage as a list of named steps over a DataFrame of bronze documents.

    normalize → identify_language → quality_signals → decide → redact_pii

Each step only measures rows that no earlier rule rejected. The result has one row per input
document: the silver columns, plus `rejection` (null for kept documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.recipe import PII_KINDS, CleanConfig
from spark_jobs.decisions import any_rule_fires, fired_rules, first_rejection
from spark_jobs.language import identify_language
from spark_jobs.normalization import normalize
from spark_jobs.pii import redact_pii
from spark_jobs.quality_signals import SIGNAL_COLUMNS, quality_signals

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


def clean_documents(bronze: DataFrame, config: CleanConfig) -> DataFrame:
    """Every bronze row with its silver columns, `outcome` and `rejection` (rule, value, …)."""
    df = bronze.select(
        *PROVENANCE_COLUMNS,
        "text",
        F.col("text_sha256").alias("bronze_text_sha256"),
        F.col("text_bytes").cast("long").alias("text_bytes"),
    )
    size_ok = F.col("text_bytes") <= F.lit(config.normalize.max_text_bytes)
    df = normalize(df, config.normalize, measure=size_ok)
    df = identify_language(df, measure=~any_rule_fires(config, ["normalize"]))
    df = quality_signals(df, config, measure=~any_rule_fires(config, ["normalize", "language"]))
    if config.c4.enabled and config.c4.remove_filtered_lines:
        df = df.withColumn("text", F.coalesce(F.col("c4_text"), F.col("text")))
    df = df.withColumn("_fired", fired_rules(config))
    df = df.withColumn("rejection", first_rejection(F.col("_fired"))).drop("_fired")
    df = redact_pii(df, config.pii, measure=F.col("rejection").isNull())
    kept = F.col("rejection").isNull()
    return df.select(
        *PROVENANCE_COLUMNS,
        # Rejected documents keep no text: their rejection row is all that is written of them.
        F.when(kept, F.col("text")).alias("text"),
        F.when(kept, F.sha2(F.col("text"), 256)).alias("text_sha256"),
        F.when(kept, F.length("text").cast("long"))
        .otherwise(F.col("normalized_chars"))
        .alias("text_chars"),
        *SILVER_COLUMNS[len(PROVENANCE_COLUMNS) + 3 :],
        F.when(kept, F.lit(OUTCOME_KEPT)).otherwise(F.lit(OUTCOME_REJECTED)).alias("outcome"),
        "rejection",
    )


@dataclass(frozen=True)
class CleanOutput:
    """Where a clean run left its Parquet files: kept documents and rejected ones."""

    folder: Path

    @property
    def kept(self) -> Path:
        """Parquet folder of the kept documents (silver columns)."""
        return self.folder / f"outcome={OUTCOME_KEPT}"

    @property
    def rejected(self) -> Path:
        """Parquet folder of the rejected documents (provenance, signals, rejection)."""
        return self.folder / f"outcome={OUTCOME_REJECTED}"


def partitions_for(rows: int) -> int:
    """Spark partitions for a batch of `rows` documents: about DOCS_PER_PARTITION each, ≥ 2."""
    return max(2, -(-rows // DOCS_PER_PARTITION))


def read_bronze_files(
    spark: SparkSession, files: list[str], batch_id: str, partitions: int = 2
) -> DataFrame:
    """The bronze Parquet files of one batch, spread evenly over `partitions` partitions.

    A batch is often one or two large files, which Spark would read as one or two partitions and
    so leave cores idle; an even round-robin spread costs one small shuffle. Delta keeps the
    partition column out of the files, so `batch_id` is added back.
    """
    if not files:
        raise ValueError(f"batch {batch_id!r} has no bronze files to clean")
    bronze = spark.read.parquet(*files).withColumn("batch_id", F.lit(batch_id))
    return bronze.repartition(partitions)


def write_clean_output(cleaned: DataFrame, folder: Path) -> CleanOutput:
    """Write `clean_documents`' result once, split by outcome, as Parquet under `folder`."""
    cleaned.write.mode("overwrite").partitionBy("outcome").parquet(str(folder))
    return CleanOutput(folder)
