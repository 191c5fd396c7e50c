"""Clean: a batch's `bronze/documents` → `silver/documents`, every drop to `ops/rejections`."""

from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
from pyspark.sql import functions as F

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.review import blocklist
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    OPS_REJECTIONS,
    REVIEW_BLOCKLIST,
    SILVER_BOILERPLATE_LINES,
    SILVER_DOCUMENTS,
    SILVER_SIGNALS,
)
from lakehouse.url_lists import UrlLists, load_url_lists
from spark_jobs.blocklist import apply_blocklist
from spark_jobs.clean import (
    CleanOutput,
    clean_batch_documents,
    partitions_for,
    read_bronze_files,
    write_clean_output,
)

STAGE = "clean"
SILVER_DOCUMENTS_KEY = asset_key(SILVER_DOCUMENTS)
SILVER_SIGNALS_KEY = asset_key(SILVER_SIGNALS)
SILVER_BOILERPLATE_LINES_KEY = asset_key(SILVER_BOILERPLATE_LINES)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]


def _kept_rows(output: CleanOutput) -> pa.RecordBatchReader:
    if not output.kept.exists():
        return pa.RecordBatchReader.from_batches(SILVER_DOCUMENTS.schema, iter(()))
    dataset = ds.dataset(str(output.kept), format="parquet")
    return dataset.scanner(columns=SILVER_DOCUMENTS.schema.names).to_reader()


def _signal_rows(output: CleanOutput) -> pa.RecordBatchReader:
    """Every document's signals and first fired rule, from the one Spark pass both outcomes
    were written by (the signals are not computed twice)."""
    if not output.folder.exists():
        return pa.RecordBatchReader.from_batches(SILVER_SIGNALS.schema, iter(()))
    columns = {name: ds.field(name) for name in SILVER_SIGNALS.schema.names if name != "rule"}
    columns["rule"] = ds.field("rejection", "rule")
    dataset = ds.dataset(str(output.folder), format="parquet", partitioning="hive")
    return dataset.scanner(columns=columns).to_reader()


def _line_rows(folder: Path) -> pa.RecordBatchReader:
    """The batch's line counts as Spark wrote them (none when the batch had no files)."""
    spec = SILVER_BOILERPLATE_LINES
    if not folder.exists():
        return pa.RecordBatchReader.from_batches(spec.schema, iter(()))
    return ds.dataset(str(folder), format="parquet").scanner(columns=spec.schema.names).to_reader()


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


def _languages(output: CleanOutput, rejections: pa.Table) -> dict[str, int]:
    """Documents per detected language, kept and rejected."""
    languages = Counter(rejections["lang"].to_pylist())
    if output.kept.exists():
        kept = ds.dataset(str(output.kept), format="parquet").to_table(columns=["lang"])
        languages.update(kept["lang"].to_pylist())
    return {str(lang or "none"): n for lang, n in sorted(languages.items(), key=str)}


def _url_lists(run: StageRun) -> UrlLists:
    """The URL rules' lists the recipe names, read relative to the recipe's folder."""
    return load_url_lists(run.loaded.recipe.clean.url, run.loaded.path.parent)


def clean_batch(run: StageRun) -> StageResult:
    """Run the clean operators on Spark over the pinned bronze batch."""
    batch_id = run.batch_id or ""
    scratch = run.scratch()
    spark = run.resources["spark"]
    files = run.batch_files(BRONZE_DOCUMENTS)
    rows_in = run.catalog.count(
        BRONZE_DOCUMENTS, run.version(BRONZE_DOCUMENTS) or 0, where={"batch_id": batch_id}
    )
    blocklist_version = run.version(REVIEW_BLOCKLIST)
    blocked = blocklist(run.catalog, blocklist_version) if blocklist_version is not None else []
    output = CleanOutput(scratch / "out")
    lines = scratch / "boilerplate_lines"
    if files:
        session = spark.session(run.loaded)
        bronze = read_bronze_files(session, files, batch_id, partitions_for(rows_in))
        prior = run.other_batch_files(SILVER_BOILERPLATE_LINES)
        batch = clean_batch_documents(
            bronze,
            run.loaded.recipe.clean,
            _url_lists(run),
            session.read.parquet(*prior) if prior else None,
        )
        output = write_clean_output(apply_blocklist(batch.documents, blocked), scratch / "out")
        batch.line_index.withColumn("batch_id", F.lit(batch_id)).write.parquet(str(lines))
    rejections = _rejections(output)
    by_rule = dict(sorted(Counter(rejections["rule"].to_pylist()).items()))
    master = spark.resolved_master(run.loaded)
    return StageResult(
        rows_in=rows_in,
        outputs={
            SILVER_DOCUMENTS.key: _kept_rows(output),
            SILVER_SIGNALS.key: _signal_rows(output),
            SILVER_BOILERPLATE_LINES.key: _line_rows(lines),
        },
        rejections=rejections.select(_REJECTION_COLUMNS),
        metadata={
            SILVER_DOCUMENTS.key: {
                "rejections_by_rule": dg.MetadataValue.json(by_rule),
                "language_distribution": dg.MetadataValue.json(_languages(output, rejections)),
                "spark_master": master,
            }
        },
        summary=f"batch {batch_id}: {rows_in} bronze rows → "
        f"{rows_in - rejections.num_rows} silver, {rejections.num_rows} rejected on {master}",
    )


CLEAN = Stage(
    name=STAGE,
    description=(
        "The batch's bronze documents checked by their URL, normalized (NFC, control "
        "characters, whitespace), stripped of boilerplate lines shared across documents, "
        "language-identified (fastText lid.176), filtered by the Gopher quality, Gopher "
        "repetition, C4 and FineWeb rules with the recipe's thresholds, and PII-redacted. "
        "Every signal is a column; every dropped document is a row of ops/rejections."
    ),
    group="silver",
    engine="spark",
    inputs=(
        Input(BRONZE_DOCUMENTS, "ingest"),
        Input(REVIEW_BLOCKLIST, None, required=False),
        Input(SILVER_BOILERPLATE_LINES, STAGE, required=False),
    ),
    outputs=(SILVER_DOCUMENTS, SILVER_SIGNALS, SILVER_BOILERPLATE_LINES),
    operator=clean_batch,
    resources=("lakehouse", "spark"),
    settings=("clean",),
    # The URL rules' list files: an edited list re-runs the stage like a changed threshold.
    fingerprint_of=lambda run: _url_lists(run).fingerprint(),
    # Boilerplate lines are counted against every batch cleaned before: two batches cleaned
    # at once would each miss the other's lines.
    one_batch_at_a_time=True,
    descriptions={
        SILVER_SIGNALS.key: SILVER_SIGNALS.description,
        SILVER_BOILERPLATE_LINES.key: SILVER_BOILERPLATE_LINES.description,
    },
    # Which bronze columns each silver column comes from: `dagster/column_lineage` and OpenLineage.
    column_lineage={
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
                Derived(
                    BRONZE_DOCUMENTS.key, "text", "sha256 of the cleaned text", "TRANSFORMATION"
                )
            ],
            "bronze_text_sha256": [
                Derived(BRONZE_DOCUMENTS.key, "text_sha256", "hash of the text as it landed")
            ],
            "lang": [
                Derived(BRONZE_DOCUMENTS.key, "text", "fastText lid.176 language", "TRANSFORMATION")
            ],
        },
    },
)

clean = stage_asset(CLEAN)
