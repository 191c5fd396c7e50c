"""Text normalization: Unicode form, line breaks, control characters, whitespace runs.

Indentation at the start of a line is kept (code and man pages depend on it); runs of spaces
inside a line, trailing whitespace and runs of blank lines are collapsed. Documents that are
empty afterwards are rejected by `spark_jobs.decisions` (rule `empty_after_normalization`).
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.recipe import NormalizeConfig

_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_UNICODE_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING_SPACE = re.compile("[ \t]+$", re.MULTILINE)
_INNER_SPACE_RUN = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_BLANK_LINE_RUN = re.compile("\n{3,}")


def normalize_text(text: str | None, unicode_form: str = "NFC") -> str:
    """One document's text normalized; None becomes the empty string."""
    if not text:
        return ""
    text = unicodedata.normalize(unicode_form, text)  # type: ignore[arg-type]
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _UNICODE_SPACES.sub(" ", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _INNER_SPACE_RUN.sub(" ", text)
    text = _BLANK_LINE_RUN.sub("\n\n", text)
    return text.strip()


def normalize(df: DataFrame, config: NormalizeConfig) -> DataFrame:
    """Replace `text` by its normalized form and add `normalized_chars` (characters after it)."""
    form = config.unicode_form

    @pandas_udf("string")  # type: ignore[call-overload]
    def _normalized(texts: pd.Series) -> pd.Series:
        return pd.Series([normalize_text(text, form) for text in texts])

    # Marked non-deterministic so the planner evaluates it once instead of copying it into
    # every expression that reads the new `text`.
    normalized = _normalized.asNondeterministic()(F.col("text"))
    return df.withColumn("text", normalized).withColumn(
        "normalized_chars", F.length("text").cast("long")
    )
