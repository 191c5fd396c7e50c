"""The Spark decisions and the Arrow decisions of `funnel whatif` agree on the same rows."""

import random
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.recipe import CleanConfig
from lakehouse.rules import RULES, SIGNALS, Setting, active_rules
from lakehouse.whatif import first_rules, rule_fires
from spark_jobs.decisions import fired_rules, first_rejection
from tests.spark_cluster import spark  # noqa: F401  (fixture)

CONFIGS = [
    {},
    {"fineweb": {"line_punct_exclude_zero": True}, "c4": {"filter_curly_bracket": False}},
    {"gopher_repetition": {"enabled": False}, "gopher_quality": {"min_doc_words": None}},
    {"language": {"allow": ["en", "de"], "min_score": 0.3}, "c4": {"min_num_sentences": 2}},
    {"redpajama_v2": {"max_all_caps_words_frac": 0.5}},
]


def _limits() -> dict[str, float]:
    """Per signal, the largest default threshold a rule compares it with (1 when none)."""
    limits: dict[str, float] = {}
    for rule in RULES:
        threshold = rule.threshold
        value = threshold.default if isinstance(threshold, Setting) else threshold
        if isinstance(value, int | float):
            limits[rule.signal] = max(limits.get(rule.signal, 0.0), float(value))
    return limits


def random_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Rows of every signal around the thresholds, with exact zeros, thresholds and nulls."""
    rng = random.Random(seed)
    limits = _limits()
    rows = []
    for index in range(count):
        row: dict[str, Any] = {"doc_id": f"d{index:04d}"}
        for signal in SIGNALS:
            limit = limits.get(signal.name, 1.0)
            draw = rng.random()
            if signal.type == "string":
                value: Any = rng.choice(["en", "en", "en", "de", "und", None])
            elif draw < 0.08:
                value = None
            elif draw < 0.16:
                value = 0
            elif draw < 0.24:
                value = limit
            else:
                value = rng.uniform(0, 2 * limit) if limit else rng.uniform(0, 2)
            if value is not None and signal.type == "long":
                value = round(value)
            elif value is not None and signal.type == "double":
                value = float(value)
            row[signal.name] = value
        rows.append(row)
    return rows


@pytest.mark.parametrize("settings", CONFIGS)
def test_spark_and_arrow_decisions_agree(spark: SparkSession, settings: dict) -> None:  # noqa: F811
    config = CleanConfig.model_validate(settings)
    rows = random_rows(400)
    schema = ", ".join(["doc_id string", *(f"{s.name} {s.type}" for s in SIGNALS)])
    fired = fired_rules(config)
    decided = spark.createDataFrame(rows, schema).select(
        "doc_id",
        F.transform(fired, lambda rule: rule["rule"]).alias("fired"),
        first_rejection(fired).getField("rule").alias("rule"),
    )
    spark_rows = {row.doc_id: row for row in decided.collect()}
    arrow = pa.Table.from_pylist(
        rows, pa.schema([("doc_id", pa.string()), *((s.name, s.arrow_type) for s in SIGNALS)])
    )
    active = active_rules(config)
    fires = {a.rule.name: rule_fires(arrow, a).to_pylist() for a in active}
    first = first_rules(arrow, config).to_pylist()
    for index, doc_id in enumerate(arrow["doc_id"].to_pylist()):
        arrow_fired = [name for name, flags in fires.items() if flags[index]]
        assert spark_rows[doc_id].fired == arrow_fired, doc_id
        assert spark_rows[doc_id].rule == first[index], doc_id
    exercised = [name for name, flags in fires.items() if any(flags)]
    assert len(exercised) >= 0.75 * len(active)  # the rows reach most rules


def test_spark_rejection_records_value_threshold_and_other_rules(spark: SparkSession) -> None:  # noqa: F811
    row = {signal.name: None for signal in SIGNALS}
    row |= {"lang": "de", "lang_score": 0.99, "gopher_word_count": 10, "normalized_chars": 5}
    schema = ", ".join(f"{s.name} {s.type}" for s in SIGNALS)
    frame = spark.createDataFrame([row], schema)
    (rejection,) = frame.select(first_rejection(fired_rules(CleanConfig())).alias("r")).collect()
    assert rejection.r.rule == "language_not_allowed"
    assert (rejection.r.value, rejection.r.threshold) == (0.99, None)
    assert rejection.r.detail == "lang=de; also: gopher_short_doc"
