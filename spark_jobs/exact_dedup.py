"""Exact duplicates: documents whose normalized text has the same SHA-256.

Within a content hash the smallest `label` (the keeper order) is kept. Previously kept
documents take part only where a new document has their hash.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def exact_duplicate_keepers(new: DataFrame, prior: DataFrame) -> DataFrame:
    """(`label`, `keeper`) for every new document; `keeper == label` for the one kept.

    `new` and `prior` have `label` and `text_sha256`.
    """
    hashes = new.select("text_sha256").distinct()
    matching_prior = prior.select("label", "text_sha256").join(hashes, "text_sha256", "left_semi")
    keepers = (
        new.select("label", "text_sha256")
        .unionByName(matching_prior)
        .groupBy("text_sha256")
        .agg(F.min("label").alias("keeper"))
    )
    return new.select("label", "text_sha256").join(keepers, "text_sha256").select("label", "keeper")
