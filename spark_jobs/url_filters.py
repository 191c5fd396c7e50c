"""The URL rules' signals in Spark: one Arrow-vectorized pass over the `url` column.

What each signal means is declared in `lakehouse.rules`; how a URL is judged against the lists
is `lakehouse.url_lists.url_signals`. A document without a URL (every non-web source) gets null
signals, and a null signal never fires a rule.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.rules import signals_of
from lakehouse.url_lists import UrlLists, url_signals

URL_SIGNAL_COLUMNS: tuple[str, ...] = tuple(signal.name for signal in signals_of("url"))


def add_url_signals(df: DataFrame, lists: UrlLists) -> DataFrame:
    """`df` with one column per URL signal, measured from its `url` column."""
    schema = ", ".join(f"{name} long" for name in URL_SIGNAL_COLUMNS)

    @pandas_udf(schema)  # type: ignore[call-overload]
    def _signals(urls: pd.Series) -> pd.DataFrame:
        rows = [url_signals(url, lists) for url in urls]
        return pd.DataFrame(
            {
                name: pd.array([row[name] for row in rows], dtype="Int64")
                for name in URL_SIGNAL_COLUMNS
            }
        )

    return (
        df.withColumn("_url_signals", _signals(F.col("url")))
        .select("*", *(F.col(f"_url_signals.{name}").alias(name) for name in URL_SIGNAL_COLUMNS))
        .drop("_url_signals")
    )
