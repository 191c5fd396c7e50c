"""Near-duplicate candidates from LSH bands, verified on the whole MinHash signature (Spark SQL).

Documents that share any band key are candidates. Within one bucket (band, key) every member
is linked to the bucket's smallest member only — a star, not all pairs — so a bucket of n
near-identical documents yields n − 1 edges instead of n²/2, and the connected components are
the same. Each edge is then kept only if the signatures' estimated Jaccard similarity reaches
the recipe's `jaccard_threshold`, which removes most of the band's chance collisions.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.recipe import DedupConfig


def signature_similarity(first: Column, second: Column, num_hashes: int) -> Column:
    """Estimated Jaccard similarity: the share of positions where two signatures agree."""
    agreeing = F.aggregate(
        F.zip_with(first, second, lambda x, y: F.when(x == y, 1).otherwise(0)),
        F.lit(0),
        lambda total, value: total + value,
    )
    return agreeing / F.lit(float(num_hashes))


def _band_members(signatures: DataFrame) -> DataFrame:
    """One row per (document, band): `label`, `band`, `band_key`."""
    return signatures.select("label", F.posexplode("band_keys").alias("band", "band_key"))


def band_candidates(new: DataFrame, prior: DataFrame) -> DataFrame:
    """(`src`, `dst`) edges between documents sharing a band key, at least one end new.

    `new` and `prior` have `label` (the keeper order: smaller wins) and `band_keys`. Prior
    documents are never compared with each other: only their buckets that a new document falls
    into are read.
    """
    new_members = _band_members(new)
    prior_members = _band_members(prior).join(
        new_members.select("band", "band_key").distinct(), ["band", "band_key"], "left_semi"
    )
    members = new_members.withColumn("is_new", F.lit(True)).unionByName(
        prior_members.withColumn("is_new", F.lit(False))
    )
    bucket = Window.partitionBy("band", "band_key")
    return (
        members.withColumn("head", F.min("label").over(bucket))
        .where((F.col("label") != F.col("head")) & F.col("is_new"))
        .select(F.col("label").alias("src"), F.col("head").alias("dst"))
        .distinct()
    )


def near_duplicate_edges(new: DataFrame, prior: DataFrame, config: DedupConfig) -> DataFrame:
    """Verified candidate edges (`src`, `dst`, `similarity`).

    `new` and `prior` have `label`, `signature` and `band_keys` (rows without a signature are
    ignored).
    """
    new = new.where(F.col("signature").isNotNull())
    prior = prior.where(F.col("signature").isNotNull())
    candidates = band_candidates(new, prior)
    signatures = new.select("label", "signature").unionByName(
        prior.select("label", "signature").join(
            candidates.select(F.col("dst").alias("label")).distinct(), "label", "left_semi"
        )
    )
    source = signatures.select(F.col("label").alias("src"), F.col("signature").alias("a"))
    target = signatures.select(F.col("label").alias("dst"), F.col("signature").alias("b"))
    similarity = signature_similarity(F.col("a"), F.col("b"), config.num_hashes)
    return (
        candidates.join(source, "src")
        .join(target, "dst")
        .select("src", "dst", similarity.alias("similarity"))
        .where(F.col("similarity") >= F.lit(config.jaccard_threshold))
    )
