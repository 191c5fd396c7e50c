"""Clean: a batch's `bronze/documents` → `silver/documents`, every drop to `ops/rejections`."""

from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.catalog import StagedFiles
from lakehouse.review import blocklist
from lakehouse.storage import arrow_filesystem
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    REVIEW_BLOCKLIST,
    SILVER_BOILERPLATE_LINES,
    SILVER_DOCUMENTS,
    SILVER_SIGNALS,
)
from lakehouse.url_lists import UrlLists, load_url_lists
from spark_jobs.blocklist import apply_blocklist
from spark_jobs.clean import (
    REJECTED,
    REJECTED_SCHEMA,
    clean_batch_documents,
    clean_targets,
    partitions_for,
    read_bronze_files,
    read_prior_lines,
    write_clean_output,
    write_line_index,
)
from spark_jobs.lake_io import read_column

STAGE = "clean"
SILVER_DOCUMENTS_KEY = asset_key(SILVER_DOCUMENTS)
SILVER_SIGNALS_KEY = asset_key(SILVER_SIGNALS)
SILVER_BOILERPLATE_LINES_KEY = asset_key(SILVER_BOILERPLATE_LINES)
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]


def _rejections(staged: StagedFiles, location: str, run: StageRun) -> pa.Table:
    """The rejection rows the executors wrote to scratch, read back on the driver."""
    if not staged.files:
        return REJECTED_SCHEMA.empty_table()
    filesystem, root = arrow_filesystem(location, run.catalog.storage_options)
    paths = [f"{root.rstrip('/')}/{written.path}" for written in staged.files]
    rows = ds.dataset(paths, schema=REJECTED_SCHEMA, format="parquet", filesystem=filesystem)
    return rows.to_table()


def _languages(run: StageRun, kept: StagedFiles, rejections: pa.Table) -> dict[str, int]:
    """Documents per detected language, kept and rejected (kept ones from the committed files'
    `lang` column alone)."""
    languages = Counter(rejections["lang"].to_pylist())
    options = run.catalog.storage_options
    languages.update(read_column(kept, run.catalog.uri(SILVER_DOCUMENTS), "lang", options))
    return {str(lang or "none"): n for lang, n in sorted(languages.items(), key=str)}


def _url_lists(run: StageRun) -> UrlLists:
    """The URL rules' lists the recipe names, read relative to the recipe's folder."""
    return load_url_lists(run.loaded.recipe.clean.url, run.loaded.path.parent)


def clean_batch(run: StageRun) -> StageResult:
    """Run the clean operators on Spark over the pinned bronze batch.

    The executors read the batch's bronze files and write the silver files straight to the
    tables' locations; the runner commits those files (no copy through the driver).
    """
    batch_id = run.batch_id or ""
    spark = run.resources["spark"]
    files = run.batch_files(BRONZE_DOCUMENTS)
    rows_in = run.catalog.count(
        BRONZE_DOCUMENTS, run.version(BRONZE_DOCUMENTS) or 0, where={"batch_id": batch_id}
    )
    blocklist_version = run.version(REVIEW_BLOCKLIST)
    blocked = blocklist(run.catalog, blocklist_version) if blocklist_version is not None else []
    rejected_location = f"{run.lake_scratch()}/rejected"
    partition = {"batch_id": batch_id}
    staged = {
        SILVER_DOCUMENTS.key: StagedFiles(dict(partition), []),
        SILVER_SIGNALS.key: StagedFiles(dict(partition), []),
        REJECTED: StagedFiles({}, []),
    }
    lines = StagedFiles(dict(partition), [])
    options = run.catalog.storage_options
    if files:
        session = spark.session(run.loaded)
        bronze = read_bronze_files(session, files, batch_id, partitions_for(rows_in), options)
        prior = read_prior_lines(session, run.other_batch_files(SILVER_BOILERPLATE_LINES), options)
        batch = clean_batch_documents(bronze, run.loaded.recipe.clean, _url_lists(run), prior)
        cleaned = apply_blocklist(batch.documents, blocked)
        targets = clean_targets(run.catalog.uri, batch_id, rejected_location)
        staged = write_clean_output(cleaned, targets, options)
        run.forget_on_failure(staged[SILVER_DOCUMENTS.key], SILVER_DOCUMENTS)
        run.forget_on_failure(staged[SILVER_SIGNALS.key], SILVER_SIGNALS)
        lines = write_line_index(batch.line_index, run.catalog.uri, batch_id, options)
        run.forget_on_failure(lines, SILVER_BOILERPLATE_LINES)
    rejections = _rejections(staged[REJECTED], rejected_location, run)
    by_rule = dict(sorted(Counter(rejections["rule"].to_pylist()).items()))
    master = spark.resolved_master(run.loaded)
    kept = staged[SILVER_DOCUMENTS.key]
    return StageResult(
        rows_in=rows_in,
        outputs={
            SILVER_DOCUMENTS.key: kept,
            SILVER_SIGNALS.key: staged[SILVER_SIGNALS.key],
            SILVER_BOILERPLATE_LINES.key: lines,
        },
        rejections=rejections.select(_REJECTION_COLUMNS),
        metadata={
            SILVER_DOCUMENTS.key: {
                "rejections_by_rule": dg.MetadataValue.json(by_rule),
                "language_distribution": dg.MetadataValue.json(_languages(run, kept, rejections)),
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
