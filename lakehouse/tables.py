"""Every table of the lakehouse: its name, schema, partitioning and purpose.

This module is the one home of table names. A table `layer/name` lives at `<root>/layer/name`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from lakehouse.rules import SIGNALS, SIGNALS_BY_NAME, Signal, signals_of

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
            # Web provenance: null for sources that are not web pages (JSON lines, Parquet).
            _field("url", pa.string(), nullable=True, doc="the page's URL (WARC-Target-URI)"),
            _field("fetched_at", TIMESTAMP, nullable=True, doc="when the crawler fetched it"),
            _field("content_type", pa.string(), nullable=True, doc="HTTP Content-Type of the page"),
            _field("warc_record_id", pa.string(), nullable=True, doc="WARC-Record-ID"),
            _field(
                "source_offset",
                pa.int64(),
                nullable=True,
                doc="byte offset of the record's gzip member in a WARC file",
            ),
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
            _field(
                "file_sha256",
                pa.string(),
                nullable=True,
                doc="sha256 of the file's bytes at registration: ingest refuses a changed file",
            ),
            _field("registered_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="Which landing files make up each ingestion batch, with their size and content "
    "hash when registered.",
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
            _field(
                "table_versions",
                pa.string(),
                nullable=True,
                doc="JSON object: every table the stage wrote for the batch → its version",
            ),
            _field("run_id", pa.string()),
            _field("recorded_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="Row counts per stage and batch: rows_in = out + rejected + quarantined. A "
    "stage's outcome for a batch is visible from its ledger row on: readers take each table "
    "version from here, so a stage stopped between its commits is never seen half done.",
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


OPS_PLANS = TableSpec(
    layer="ops",
    name="plans",
    schema=pa.schema(
        [
            _field("plan_id", pa.string(), doc="stable id of the request on one recipe"),
            _field("request", pa.string(), doc="the request in plain language"),
            _field("status", pa.string(), doc="proposed, clarify, rejected, approved or applied"),
            _field("patches", pa.string(), doc="JSON list of {path, old, new, source, reason}"),
            _field("questions", pa.string(), doc="JSON list of what a clarify asks"),
            _field("reason", pa.string(), doc="why a plan was rejected or needs clarifying"),
            _field("recipe_path", pa.string(), doc="the recipe the plan changes"),
            _field("recipe_sha256", pa.string(), doc="sha256 of that recipe file"),
            _field("by", pa.string(), doc="who set this status (the planner, or a person)"),
            _field("at", TIMESTAMP, doc="when the status was set"),
            _field("parent_plan_id", pa.string(), True, doc="the clarify this plan answers"),
            _field("applied_recipe", pa.string(), True, doc="recipe file written when applied"),
        ]
    ),
    partition_by=(),
    description="Recipe changes planned from plain-language requests: one row per status "
    "change (proposed, approved, rejected, applied), so who approved what and when is kept.",
)


def _signal_field(signal: Signal) -> pa.Field:
    return _field(signal.name, signal.arrow_type, True, f"{signal.meaning} ({signal.unit})")


def _silver_signal_fields() -> list[pa.Field]:
    """Filter signals of the clean stage, one column each (declared in lakehouse.rules)."""
    return [_signal_field(signal) for signal in signals_of("quality")]


SILVER_DOCUMENTS = TableSpec(
    layer="silver",
    name="documents",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="as in bronze/documents"),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("source", pa.string()),
            _field("domain", pa.string()),
            _field("license", pa.string()),
            _field("source_uri", pa.string()),
            _field("source_record", pa.int64()),
            _field("source_id", pa.string(), nullable=True),
            _field("text", pa.large_string(), doc="normalized, line-filtered, PII-redacted"),
            _field("text_sha256", pa.string(), doc="sha256 of this text (UTF-8)"),
            _field("text_chars", pa.int64(), doc="characters of this text"),
            _field("bronze_text_sha256", pa.string(), doc="sha256 of the text as it landed"),
            _field("lang", pa.string(), doc="ISO 639 code from fastText lid.176"),
            _field("lang_score", pa.float64(), doc="confidence of lang, 0-1"),
            *_silver_signal_fields(),
            *(
                _field(f"pii_{kind}", pa.int32(), doc=f"{kind} spans redacted")
                for kind in ("email", "phone", "ipv4", "ipv6", "credit_card")
            ),
        ]
    ),
    partition_by=("batch_id",),
    description="Documents kept by the clean stage, with every filter signal and PII counts.",
)


# Signals that silver/signals lists next to the provenance columns; every other one follows.
_LEADING_SIGNALS = ("lang", "lang_score", "text_bytes")

SILVER_SIGNALS = TableSpec(
    layer="silver",
    name="signals",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="as in bronze/documents"),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("source", pa.string()),
            _field("domain", pa.string()),
            *(_signal_field(SIGNALS_BY_NAME[name]) for name in _LEADING_SIGNALS),
            _field(
                "text_chars",
                pa.int64(),
                doc="characters of the silver text (kept) or of the normalized text (rejected)",
            ),
            *(_signal_field(signal) for signal in SIGNALS if signal.name not in _LEADING_SIGNALS),
            _field(
                "rule",
                pa.string(),
                nullable=True,
                doc="the first rule that fired (ops/rejections' rule); null when kept",
            ),
        ]
    ),
    partition_by=("batch_id",),
    description="Every signal of every document that reached the clean stage, kept or "
    "rejected, and the rule that dropped it: what `funnel whatif` re-thresholds without Spark.",
)


SILVER_BOILERPLATE_LINES = TableSpec(
    layer="silver",
    name="boilerplate_lines",
    schema=pa.schema(
        [
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("line_hash", pa.int64(), doc="xxhash64 of the normalized line"),
            _field("documents", pa.int64(), doc="documents of the batch that hold the line"),
        ]
    ),
    partition_by=("batch_id",),
    description="How many documents of each batch hold each line (hashed after normalization): "
    "what later batches count boilerplate lines against, without re-reading earlier text.",
)


SILVER_UNIQUE_DOCUMENTS = TableSpec(
    layer="silver",
    name="unique_documents",
    schema=SILVER_DOCUMENTS.schema,
    partition_by=("batch_id",),
    description="Silver documents left after exact and MinHash-LSH near-duplicate removal, "
    "global across batches.",
)

SILVER_DEDUP_INDEX = TableSpec(
    layer="silver",
    name="dedup_index",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="a document kept by the dedup stage"),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("ingested_at", TIMESTAMP, doc="when the document was ingested"),
            _field("text_sha256", pa.string(), doc="sha256 of the normalized text (UTF-8)"),
            _field(
                "signature",
                pa.list_(pa.field("element", pa.int32(), nullable=False)),
                nullable=True,
                doc="MinHash values (bands × rows, uint32 stored as int32); null without words",
            ),
            _field(
                "band_keys",
                pa.list_(pa.field("element", pa.int64(), nullable=False)),
                nullable=True,
                doc="one 64-bit key per LSH band; null without words",
            ),
        ]
    ),
    partition_by=("batch_id",),
    description="Content hash, MinHash signature and LSH band keys of every kept document: "
    "what later batches are deduplicated against, without recomputing signatures.",
)

SILVER_DECONTAMINATED_DOCUMENTS = TableSpec(
    layer="silver",
    name="decontaminated_documents",
    schema=SILVER_DOCUMENTS.schema,
    partition_by=("batch_id",),
    description="Unique documents that share no word n-gram (13 by default) with an item of "
    "the recipe's evaluation sets.",
)

SILVER_BENCHMARK_NGRAMS = TableSpec(
    layer="silver",
    name="benchmark_ngrams",
    schema=pa.schema(
        [
            _field("set_name", pa.string(), doc="evaluation set, as the recipe names it"),
            _field(
                "set_version",
                pa.string(),
                doc="sha256 of the set's file, n-gram size and fields read (16 hex chars)",
            ),
            _field("item_id", pa.string(), doc="the evaluation item's id"),
            _field("ngram", pa.int64(), doc="64-bit hash of one word n-gram of the item"),
        ]
    ),
    partition_by=(),
    description="The word n-grams of every evaluation set version the decontaminate stage has "
    "seen: built once per set version, reused by every later batch.",
)


GOLD_SCORED_DOCUMENTS = TableSpec(
    layer="gold",
    name="scored_documents",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="as in bronze/documents"),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field("source", pa.string()),
            _field("source_domain", pa.string(), doc="domain label of the source in the recipe"),
            _field("license", pa.string()),
            _field("source_uri", pa.string()),
            _field("source_record", pa.int64()),
            _field("text", pa.large_string(), doc="as in silver/unique_documents"),
            _field("text_sha256", pa.string()),
            _field("text_chars", pa.int64()),
            _field("lang", pa.string()),
            _field("ingested_at", TIMESTAMP, doc="when the document was ingested"),
            _field("quality_score", pa.float64(), doc="quality classifier, 0 (junk) to 1"),
            _field("domain", pa.string(), doc="domain classifier's label"),
            _field("domain_prob", pa.float64(), doc="probability of that label, 0-1"),
            _field("encoder_tokens", pa.int32(), doc="encoder tokens scored (after truncation)"),
            _field("semantic_cluster", pa.int32(), doc="k-means cluster of the embedding"),
            _field(
                "quality_model_version",
                pa.string(),
                doc="version of the quality head that scored the row (sha256 prefix)",
            ),
            _field(
                "domain_model_version",
                pa.string(),
                doc="version of the domain head that labelled the row (sha256 prefix)",
            ),
        ]
    ),
    partition_by=("batch_id",),
    description="Documents left after semantic dedup, with model quality score and domain label.",
)

GOLD_EMBEDDINGS = TableSpec(
    layer="gold",
    name="embeddings",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="a document of silver/unique_documents"),
            _field("batch_id", pa.string(), doc="ingestion batch (Dagster partition)"),
            _field(
                "embedding",
                pa.binary(),
                doc="mean-pooled, L2-normalized all-MiniLM-L6-v2 embedding: 384 little-endian "
                "float16 values (Delta has no half-precision type)",
            ),
            _field("text_sha256", pa.string(), doc="sha256 of the text that was embedded"),
            _field("encoder_tokens", pa.int32(), doc="encoder tokens embedded (after truncation)"),
            _field("encoder", pa.string(), doc="model@package version/max tokens/precision used"),
        ]
    ),
    partition_by=("batch_id",),
    description="Sentence embedding of every document the score stage saw, keyed by doc_id.",
)


GOLD_RELEASE_CANDIDATE = TableSpec(
    layer="gold",
    name="release_candidate",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="as in bronze/documents"),
            _field("batch_id", pa.string(), doc="ingestion batch the document came in"),
            _field("source", pa.string()),
            _field("source_domain", pa.string(), doc="domain label of the source in the recipe"),
            _field("license", pa.string()),
            _field("source_uri", pa.string()),
            _field("source_record", pa.int64()),
            _field("text", pa.large_string(), doc="as in gold/scored_documents"),
            _field("text_sha256", pa.string()),
            _field("lang", pa.string()),
            _field("quality_score", pa.float64(), doc="quality classifier, 0 (junk) to 1"),
            _field("domain", pa.string(), doc="domain classifier's label: the mixture's domain"),
            _field("domain_prob", pa.float64()),
            _field(
                "domain_quality_rank",
                pa.float64(),
                doc="share of the domain's scored documents ranked above this one, 0-1",
            ),
            _field("tokens", pa.int64(), doc="tokens of text by the recipe's tokenizer"),
            _field(
                "weight",
                pa.float64(),
                doc="per-sample weight: 1, or above 1 to up-weight an under-represented domain",
            ),
        ]
    ),
    partition_by=(),
    description="The documents selected for the next release, with token counts and per-sample "
    "weights that give the recipe's domain mixture. Rebuilt whole from a pinned "
    "gold/scored_documents; a release pins one version of it.",
)

REVIEW_QUEUE = TableSpec(
    layer="review",
    name="queue",
    schema=pa.schema(
        [
            _field("position", pa.int64(), doc="order in which the page shows the queue, from 0"),
            _field("doc_id", pa.string(), doc="a document of gold/release_candidate"),
            _field("candidate_version", pa.int64(), doc="gold/release_candidate version sampled"),
            _field("domain", pa.string()),
            _field("quality_score", pa.float64()),
            _field("quality_bucket", pa.string(), doc="quality-score bucket, e.g. [0.5, 0.75)"),
            _field(
                "reason",
                pa.string(),
                doc="stratified (domain × quality bucket) or near:<threshold name>",
            ),
            _field("queued_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="The stratified sample of the release candidate that people review before a "
    "release: every domain × quality bucket, plus the documents nearest each selection threshold.",
)

REVIEW_DECISIONS = TableSpec(
    layer="review",
    name="decisions",
    schema=pa.schema(
        [
            _field("doc_id", pa.string(), doc="a document of review/queue"),
            _field("queue_version", pa.int64(), doc="review/queue version the reviewer saw"),
            _field("reviewer", pa.string(), doc="who decided"),
            _field("decided_at", TIMESTAMP),
            _field("decision", pa.string(), doc="approve, reject or flag"),
            _field("reason", pa.string(), nullable=True, doc="why rejected (or flagged)"),
            _field("note", pa.string(), nullable=True, doc="free-text note"),
        ]
    ),
    partition_by=(),
    description="Every review decision, appended and never overwritten; the latest decision "
    "on a document is the one the release gate counts.",
)

REVIEW_BLOCKLIST = TableSpec(
    layer="review",
    name="blocklist",
    schema=pa.schema(
        [
            _field("kind", pa.string(), doc="term, url or source"),
            _field("value", pa.string(), doc="blocked term, URL (or URL prefix), or source name"),
            _field("added_by", pa.string(), doc="reviewer who added it"),
            _field("added_at", TIMESTAMP),
            _field("note", pa.string(), nullable=True, doc="why"),
        ]
    ),
    partition_by=(),
    description="Recipe overlay written from the review page: terms, URLs and sources the next "
    "clean run rejects (rule blocklist), each with who added it and when.",
)

GOLD_RELEASES = TableSpec(
    layer="gold",
    name="releases",
    schema=pa.schema(
        [
            _field("name", pa.string(), doc="release name, unique"),
            _field("published_at", TIMESTAMP),
            _field("run_id", pa.string(), doc="Dagster run that published it"),
            _field("recipe_sha256", pa.string()),
            _field("code_version", pa.string()),
            _field("candidate_version", pa.int64(), doc="gold/release_candidate version released"),
            _field(
                "pinned_tables",
                pa.string(),
                doc="JSON: every upstream table → the Delta version the release rests on",
            ),
            _field("documents", pa.int64()),
            _field("tokens", pa.int64(), doc="tokens of the released documents"),
            _field("weighted_tokens", pa.float64(), doc="tokens × weight, summed"),
            _field(
                "domains",
                pa.string(),
                doc="JSON: per domain documents, tokens, weighted tokens, target, achieved share",
            ),
            _field("review", pa.string(), doc="JSON: the review summary the gate passed on"),
            _field("manifest_sha256", pa.string(), doc="sha256 of the manifest's canonical JSON"),
        ]
    ),
    partition_by=(),
    description="One immutable manifest per published release, appended, never rewritten.",
)

SERVING_CONSUMPTION = TableSpec(
    layer="serving",
    name="consumption",
    schema=pa.schema(
        [
            _field("run_name", pa.string(), doc="training run that consumed the sample"),
            _field("release", pa.string(), doc="release the sample was read from"),
            _field("step", pa.int64(), doc="training step (optimizer update) it was consumed in"),
            _field("doc_id", pa.string(), doc="a document of the release"),
            _field("domain", pa.string()),
            _field("kept", pa.bool_(), doc="false when a selection strategy discarded it"),
            _field("weight", pa.float64(), doc="loss weight it was trained with (0 if discarded)"),
            _field("domain_weights", pa.string(), doc="JSON: sampling weight per domain in force"),
            _field("strategy_state", pa.string(), doc="JSON: the strategy's state after the step"),
            _field("consumed_at", TIMESTAMP),
        ]
    ),
    partition_by=(),
    description="What training consumed, sample by sample: step, weight, the mixture in force and "
    "the strategy's state, appended in batches, so a run can be replayed and a document traced "
    "into training.",
)


TABLES: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (
        BRONZE_DOCUMENTS,
        BRONZE_QUARANTINE,
        SILVER_DOCUMENTS,
        SILVER_SIGNALS,
        SILVER_BOILERPLATE_LINES,
        SILVER_UNIQUE_DOCUMENTS,
        SILVER_DEDUP_INDEX,
        SILVER_DECONTAMINATED_DOCUMENTS,
        SILVER_BENCHMARK_NGRAMS,
        GOLD_SCORED_DOCUMENTS,
        GOLD_EMBEDDINGS,
        GOLD_RELEASE_CANDIDATE,
        GOLD_RELEASES,
        SERVING_CONSUMPTION,
        REVIEW_QUEUE,
        REVIEW_DECISIONS,
        REVIEW_BLOCKLIST,
        OPS_BATCHES,
        OPS_LEDGER,
        OPS_REJECTIONS,
        OPS_PLANS,
    )
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


_SPARK_TYPES = {
    pa.string(): "string",
    pa.large_string(): "string",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    TIMESTAMP: "timestamp",
    pa.binary(): "binary",
}


def _spark_type(type_: pa.DataType) -> str:
    if pa.types.is_list(type_):
        return f"array<{_spark_type(type_.value_type)}>"
    try:
        return _SPARK_TYPES[type_]
    except KeyError:
        raise TypeError(f"no Spark SQL type for Arrow type {type_}") from None


def spark_ddl(spec: TableSpec, exclude: tuple[str, ...] = ()) -> str:
    """The table's schema as a Spark SQL DDL string (`doc_id string, …`), derived from the
    Arrow schema so the two never disagree; `exclude` drops columns (e.g. the partition)."""
    return ", ".join(
        f"{field.name} {_spark_type(field.type)}"
        for field in spec.schema
        if field.name not in exclude
    )
