"""The dedup stage as named steps over one batch of silver documents and the index of kept ones.

    minhash_signatures → exact_duplicates → near_duplicate_edges → connected_components → keepers

The text is read once: its content hash and MinHash signature are computed in one pass, and
everything after works on those. Global and incremental: the batch is compared with itself and
with every document kept before (the index: content hash, signature and band keys of each kept
document), so a document is hashed once, ever. Every duplicate points at one kept document:

- The keeper order is: previously kept documents first (an earlier batch's output never
  changes), then the recipe's `dedup.keeper` policy — `earliest`: earliest `ingested_at`, then
  source file and record index (the order the documents landed in); `longest`: most
  characters first, then as `earliest` — and last `doc_id`. It is encoded in a sortable
  string `label` that ends with the `doc_id`, so every "which one wins" question
  is a `min`.
- A document whose text equals a kept document's is an `exact_duplicate` (similarity 1.0).
- Otherwise, a document whose cluster of verified near-duplicate edges (or whose identical
  twin's cluster) holds a smaller label is a `near_duplicate` of the cluster's smallest member,
  with the estimated Jaccard similarity of their signatures.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.recipe import DedupConfig
from lakehouse.tables import SILVER_DEDUP_INDEX
from spark_jobs.connected_components import connected_components
from spark_jobs.exact_dedup import exact_duplicate_keepers
from spark_jobs.minhash import minhash_signatures
from spark_jobs.near_dedup import near_duplicate_edges, signature_similarity

KEPT = "kept"
EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
# The columns of silver/dedup_index that the operator writes (the batch id is the partition).
INDEX_COLUMNS = tuple(name for name in SILVER_DEDUP_INDEX.schema.names if name != "batch_id")
_MICROS_DIGITS = 20
_COUNT_DIGITS = 18
_DOC_ID_START = "\u0002"  # precedes the doc_id, the label's last part
# Ends the variable-length source URI inside a label; sorts before every character of a URI,
# so a URI sorts before any longer URI it is a prefix of.
_URI_END = "\u0001"


def _optional(name: str, columns: list[str], default: Column) -> Column:
    return F.col(name) if name in columns else default


def keeper_label(prior: bool, policy: str = "earliest", columns: list[str] | None = None) -> Column:
    """Sortable keeper key, smaller is kept: `0|1` (prior first) + policy key + `doc_id`.

    The policy key is the zero-padded ingest time in µs, source URI and record index for
    `earliest`, preceded by the zero-padded complement of the character count for `longest`.
    `columns` names the available columns; a missing one sorts last.
    """
    columns = columns if columns is not None else []
    micros = F.coalesce(
        F.lpad(F.unix_micros("ingested_at").cast("string"), _MICROS_DIGITS, "0"),
        F.lit("9" * _MICROS_DIGITS),
    )
    uri = F.coalesce(_optional("source_uri", columns, F.lit(None).cast("string")), F.lit(""))
    record = F.lpad(
        F.coalesce(_optional("source_record", columns, F.lit(None).cast("long")), F.lit(0)).cast(
            "string"
        ),
        _COUNT_DIGITS,
        "0",
    )
    parts = [F.lit("0" if prior else "1")]
    if policy == "longest":
        chars = _optional("text_chars", columns, F.length("text")) if not prior else F.lit(0)
        parts.append(
            F.lpad((F.lit(10**_COUNT_DIGITS - 1) - chars).cast("string"), _COUNT_DIGITS, "0")
        )
    parts += [micros, uri, F.lit(_URI_END), record, F.lit(_DOC_ID_START), F.col("doc_id")]
    return F.concat(*parts)


def _doc_id(label: str) -> Column:
    return F.substring_index(F.col(label), _DOC_ID_START, -1)


def _is_new(label: str) -> Column:
    return F.col(label).startswith("1")


@dataclass(frozen=True)
class DedupOutcome:
    """The stage's result for one batch (`decisions` is checkpointed: reading it is cheap).

    `decisions`: one row per input document — `doc_id`, `outcome` (kept, exact_duplicate,
    near_duplicate), `duplicate_of` (the kept document; null when kept), `similarity`
    (estimated Jaccard with it; 1.0 for exact duplicates).
    `index`: the batch's kept documents as index rows (`INDEX_COLUMNS`); `signature` and
    `band_keys` are null for a document without words.
    """

    decisions: DataFrame
    index: DataFrame


def deduplicate(documents: DataFrame, prior_index: DataFrame, config: DedupConfig) -> DedupOutcome:
    """Exact and near-duplicate decisions for `documents` against themselves and `prior_index`.

    `documents` has `doc_id`, `ingested_at` and `text` (normalized); `prior_index` has the
    `INDEX_COLUMNS` of documents kept by other batches.
    """
    # The only pass over the text: content hash (JVM) and signature (NumPy) side by side.
    signed = minhash_signatures(
        documents.select(
            keeper_label(prior=False, policy=config.keeper, columns=documents.columns).alias(
                "label"
            ),
            "doc_id",
            "ingested_at",
            F.sha2(F.col("text"), 256).alias("text_sha256"),
            "text",
        ),
        config,
        keys=("label", "doc_id", "ingested_at", "text_sha256"),
    ).localCheckpoint(eager=True)
    prior = prior_index.select(
        "text_sha256",
        "signature",
        "band_keys",
        keeper_label(prior=True, policy=config.keeper).alias("label"),
    )
    exact = exact_duplicate_keepers(signed, prior).localCheckpoint(eager=True)
    signatures = signed.join(
        exact.where(F.col("label") == F.col("keeper")), "label", "left_semi"
    ).select("label", "signature", "band_keys")
    edges = near_duplicate_edges(signatures, prior, config)
    components = connected_components(edges, max_rounds=config.max_component_rounds)

    # A new exact keeper that fell into a near-duplicate cluster passes its cluster's keeper on
    # to its identical twins; a prior exact keeper is kept whatever its cluster.
    clusters = components.where(_is_new("node")).select(F.col("node").alias("keeper"), "component")
    final = exact.join(clusters, "keeper", "left").select(
        "label", "keeper", F.coalesce("component", "keeper").alias("final")
    )
    known = signatures.select("label", "signature").unionByName(
        prior.select("label", "signature").join(
            final.select(F.col("final").alias("label")).distinct(), "label", "left_semi"
        )
    )
    twin = known.select(F.col("label").alias("keeper"), F.col("signature").alias("a"))
    kept = known.select(F.col("label").alias("final"), F.col("signature").alias("b"))
    outcome = (
        F.when(F.col("final") == F.col("label"), F.lit(KEPT))
        .when(F.col("final") == F.col("keeper"), F.lit(EXACT_DUPLICATE))
        .otherwise(F.lit(NEAR_DUPLICATE))
    )
    similarity = (
        F.when(F.col("final") == F.col("label"), F.lit(None).cast("double"))
        .when(F.col("final") == F.col("keeper"), F.lit(1.0))
        .otherwise(signature_similarity(F.col("a"), F.col("b"), config.num_hashes))
    )
    decisions = (
        final.join(twin, "keeper", "left")
        .join(kept, "final", "left")
        .select(
            "label",
            _doc_id("label").alias("doc_id"),
            outcome.alias("outcome"),
            F.when(F.col("final") != F.col("label"), _doc_id("final")).alias("duplicate_of"),
            similarity.alias("similarity"),
        )
        .localCheckpoint(eager=True)
    )
    index = signed.join(
        decisions.where(F.col("outcome") == KEPT).select("label"), "label", "left_semi"
    ).select(*INDEX_COLUMNS)
    return DedupOutcome(decisions.drop("label"), index)


def rejections(decisions: DataFrame, config: DedupConfig) -> DataFrame:
    """Rows for `ops/rejections`: `doc_id`, `rule`, `value`, `threshold`, `detail` (JSON)."""
    threshold = F.when(F.col("outcome") == EXACT_DUPLICATE, F.lit(1.0)).otherwise(
        F.lit(float(config.jaccard_threshold))
    )
    return decisions.where(F.col("outcome") != KEPT).select(
        "doc_id",
        F.col("outcome").alias("rule"),
        F.col("similarity").alias("value"),
        threshold.alias("threshold"),
        F.to_json(F.struct("duplicate_of", F.lit(config.keeper).alias("keeper_policy"))).alias(
            "detail"
        ),
    )


def cluster_sizes(decisions: DataFrame) -> DataFrame:
    """(`size`, `clusters`): how many of this batch's duplicate clusters have each size.

    A cluster is a kept document and the batch's documents that point at it.
    """
    return (
        decisions.where(F.col("outcome") != KEPT)
        .groupBy("duplicate_of")
        .agg((F.count("*") + 1).alias("size"))
        .groupBy("size")
        .agg(F.count("*").alias("clusters"))
        .orderBy("size")
    )


def cluster_size_histogram(decisions: DataFrame) -> dict[str, int]:
    """Duplicate clusters per size range, power-of-two bins: {"2": n, "3-4": n, "5-8": n, …}."""
    upper = F.pow(F.lit(2), F.ceil(F.log2(F.col("size")))).cast("long")
    bins = (
        cluster_sizes(decisions)
        .groupBy(upper.alias("upper"))
        .agg(F.sum("clusters").alias("clusters"))
        .orderBy("upper")
        .collect()
    )
    return {
        (str(row.upper) if row.upper == 2 else f"{row.upper // 2 + 1}-{row.upper}"): int(
            row.clusters
        )
        for row in bins
    }
