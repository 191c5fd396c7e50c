"""Boilerplate lines across documents: lines that too many documents of the lake share.

As CCNet and Dolma do, a line is hashed after a light normalization (lower case, digits as 0,
punctuation removed, whitespace collapsed) and counted once per document that holds it. The
counts of one batch are its rows of `silver/boilerplate_lines`; a line whose count over the
batch and every batch cleaned before it exceeds `clean.boilerplate.max_documents` is removed
from the text. Incremental like the dedup index: earlier batches' counts are read, never
recomputed, and a batch's own rows are replaced when it is cleaned again.

Each document gets the signal `boilerplate_lines_removed`; its text is rewritten without
those lines before language identification and the quality signals measure it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

BOILERPLATE_SIGNAL = "boilerplate_lines_removed"
INDEX_COLUMNS = ("line_hash", "documents")


@dataclass(frozen=True)
class BoilerplateResult:
    """Documents with the boilerplate lines removed, and the batch's line counts (index rows)."""

    documents: DataFrame
    index: DataFrame


def normalized_line(line: Column) -> Column:
    """The form a line is counted in: lower case, digits as 0, no punctuation, single spaces."""
    lowered = F.lower(line)
    digits = F.regexp_replace(lowered, r"\d", "0")
    bare = F.regexp_replace(digits, r"[\p{P}\p{S}]", "")
    return F.trim(F.regexp_replace(bare, r"\s+", " "))


def remove_boilerplate_lines(
    documents: DataFrame,
    prior_index: DataFrame | None,
    max_documents: int | None,
    min_line_chars: int,
) -> BoilerplateResult:
    """Count the batch's lines and drop those shared by more than `max_documents` documents.

    `documents` has `doc_id` and `text`; `prior_index` has the `INDEX_COLUMNS` of the other
    batches (None: there are none). Lines shorter than `min_line_chars` (normalized) are
    neither counted nor removed. With `max_documents` None nothing is removed (the signal is
    0) but the lines are still counted, so that switching the removal on later sees them.
    """
    lines = documents.select(
        "doc_id", F.posexplode(F.split(F.coalesce(F.col("text"), F.lit("")), "\n"))
    ).withColumnRenamed("col", "line")
    key = normalized_line(F.col("line"))
    lines = lines.withColumn("line_hash", F.when(F.length(key) >= min_line_chars, F.xxhash64(key)))
    index = (
        lines.where(F.col("line_hash").isNotNull())
        .select("doc_id", "line_hash")
        .distinct()
        .groupBy("line_hash")
        .agg(F.count("*").cast("long").alias("documents"))
    )
    if max_documents is None:
        return BoilerplateResult(
            documents.withColumn(BOILERPLATE_SIGNAL, F.lit(0).cast("long")), index
        )
    counts = index
    if prior_index is not None:
        counts = (
            index.unionByName(prior_index.select(*INDEX_COLUMNS))
            .groupBy("line_hash")
            .agg(F.sum("documents").alias("documents"))
        )
    frequent = counts.where(F.col("documents") > max_documents).select(
        "line_hash", F.lit(True).alias("boilerplate")
    )
    marked = lines.join(frequent, "line_hash", "left").withColumn(
        "boilerplate", F.coalesce(F.col("boilerplate"), F.lit(False))
    )
    rewritten = marked.groupBy("doc_id").agg(
        F.sort_array(F.collect_list(F.when(~F.col("boilerplate"), F.struct("pos", "line")))).alias(
            "_kept_lines"
        ),
        F.sum(F.col("boilerplate").cast("long")).alias(BOILERPLATE_SIGNAL),
    )
    kept_text = F.array_join(F.transform("_kept_lines", lambda line: line["line"]), "\n")
    removed = F.coalesce(F.col(BOILERPLATE_SIGNAL), F.lit(0).cast("long"))
    result = (
        documents.join(rewritten, "doc_id", "left")
        .withColumn(
            "text",
            F.when(removed > 0, F.regexp_replace(kept_text, r"^\s+|\s+$", "")).otherwise(
                F.col("text")
            ),
        )
        .withColumn(BOILERPLATE_SIGNAL, removed)
        .drop("_kept_lines")
    )
    return BoilerplateResult(result, index)
