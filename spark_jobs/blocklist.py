"""The reviewers' blocklist, applied by the clean stage after its own rules.

Entries come from `review/blocklist` (a recipe overlay written on the review page): a `term`
blocks documents whose cleaned text contains it (case-insensitive), a `url` blocks documents from
a landing file under that URL prefix or whose text contains the URL, a `source` blocks a recipe
source. A document the clean rules kept but an entry matches is rejected with rule `blocklist`;
its `detail` names the first matching entry (kind, value, who added it and when), so every such
drop is traceable to a person's decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

BLOCKLIST_RULE = "blocklist"
_REJECTED = "rejected"


def _matches(entry: Mapping[str, Any]) -> Column:
    """Where one blocklist entry matches a document."""
    kind, value = entry["kind"], str(entry["value"])
    if kind == "term":
        return F.instr(F.lower(F.col("text")), value.lower()) > 0
    if kind == "url":
        return F.col("source_uri").startswith(value) | (F.instr(F.col("text"), value) > 0)
    if kind == "source":
        return F.col("source") == F.lit(value)
    raise ValueError(f"blocklist entry of unknown kind {kind!r}: expected term, url or source")


def entry_detail(entry: Mapping[str, Any]) -> str:
    """The rejection detail of a blocklist entry: kind, value, who added it and when."""
    added_at = entry.get("added_at")
    return json.dumps(
        {
            "kind": entry["kind"],
            "value": entry["value"],
            "added_by": entry.get("added_by"),
            "added_at": added_at.isoformat() if hasattr(added_at, "isoformat") else added_at,
        },
        sort_keys=True,
    )


def apply_blocklist(cleaned: DataFrame, entries: Sequence[Mapping[str, Any]]) -> DataFrame:
    """`clean_documents`' result with kept documents that an entry matches rejected.

    Columns are unchanged; a newly rejected document loses its text, as every rejected one does.
    """
    if not entries:
        return cleaned
    detail = F.coalesce(*[F.when(_matches(entry), F.lit(entry_detail(entry))) for entry in entries])
    blocked = F.col("rejection").isNull() & detail.isNotNull()
    rejection = F.struct(
        F.lit(BLOCKLIST_RULE).alias("rule"),
        F.lit(None).cast("double").alias("value"),
        F.lit(None).cast("double").alias("threshold"),
        F.col("_block_detail").alias("detail"),
    )
    columns = cleaned.columns
    marked = cleaned.withColumn("_blocked", blocked).withColumn("_block_detail", detail)
    replaced = {
        "text": F.when(F.col("_blocked"), F.lit(None)).otherwise(F.col("text")),
        "text_sha256": F.when(F.col("_blocked"), F.lit(None)).otherwise(F.col("text_sha256")),
        "outcome": F.when(F.col("_blocked"), F.lit(_REJECTED)).otherwise(F.col("outcome")),
        "rejection": F.when(F.col("_blocked"), rejection).otherwise(F.col("rejection")),
    }
    return marked.select(
        *[replaced[name].alias(name) if name in replaced else F.col(name) for name in columns]
    )
