"""The Spark decisions and the Arrow decisions of `funnel whatif` agree on the same rows."""

import random
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.recipe import DEFAULT_PROFILE, CleanConfig
from lakehouse.rules import RULES, SIGNALS, Setting, active_rules
from lakehouse.whatif import first_rules, rule_fires
from spark_jobs.decisions import PROFILE_COLUMN, document_profile, fired_rules, first_rejection
from tests.spark_cluster import spark  # noqa: F401  (fixture)

CONFIGS = [
    {},
    {"fineweb": {"line_punct_exclude_zero": True}, "c4": {"filter_curly_bracket": False}},
    {"gopher_repetition": {"enabled": False}, "gopher_quality": {"min_doc_words": None}},
    {"language": {"allow": ["en", "de"], "min_score": 0.3}, "c4": {"min_num_sentences": 2}},
    {"redpajama_v2": {"max_all_caps_words_frac": 0.5}},
    {
        "c4": {"max_removed_chars_frac": 0.4},
        "profiles": {
            "code": {"domains": ["code"], "families": ["url", "code"]},
            "reference": {
                "sources": ["manual"],
                "families": ["language", "gopher_quality"],
                "overrides": {"language": {"min_score": 0.3}},
            },
        },
    },
]
# (source, domain) pairs of the rows: each profile of the last config judges some of them.
DOCUMENT_ORIGINS = [("notes", "prose"), ("repo", "code"), ("manual", "reference")]
ORIGIN_SCHEMA = ["source string", "domain string"]


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
        source, domain = rng.choice(DOCUMENT_ORIGINS)
        row: dict[str, Any] = {"doc_id": f"d{index:04d}", "source": source, "domain": domain}
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
    schema = ", ".join(["doc_id string", *ORIGIN_SCHEMA, *(f"{s.name} {s.type}" for s in SIGNALS)])
    fired = fired_rules(config)
    decided = (
        spark.createDataFrame(rows, schema)
        .withColumn(PROFILE_COLUMN, document_profile(config))
        .select(
            "doc_id",
            PROFILE_COLUMN,
            F.transform(fired, lambda rule: rule["rule"]).alias("fired"),
            first_rejection(fired).getField("rule").alias("rule"),
        )
    )
    spark_rows = {row.doc_id: row for row in decided.collect()}
    arrow = pa.Table.from_pylist(
        rows,
        pa.schema(
            [
                ("doc_id", pa.string()),
                ("source", pa.string()),
                ("domain", pa.string()),
                *((s.name, s.arrow_type) for s in SIGNALS),
            ]
        ),
    )
    fires = {
        name: {
            a.rule.name: rule_fires(arrow, a).to_pylist()
            for a in active_rules(config.profile_config(name), config.profile_families(name))
        }
        for name in config.profile_names
    }
    first = first_rules(arrow, config).to_pylist()
    exercised = set()
    for index, row in enumerate(rows):
        profile = config.profile_of(row["source"], row["domain"])
        assert spark_rows[row["doc_id"]][PROFILE_COLUMN] == profile
        arrow_fired = [name for name, flags in fires[profile].items() if flags[index]]
        assert spark_rows[row["doc_id"]].fired == arrow_fired, row["doc_id"]
        assert spark_rows[row["doc_id"]].rule == first[index], row["doc_id"]
        exercised.update(arrow_fired)
    active = {name for rules in fires.values() for name in rules}
    assert len(exercised) >= 0.75 * len(active)  # the rows reach most rules
    if config.profiles:  # the code rules fire only on code rows, and never on the others
        code_rules = {rule.name for rule in RULES if rule.family == "code"}
        assert code_rules & exercised
        assert not code_rules & set(fires[DEFAULT_PROFILE])


def test_spark_rejection_records_value_threshold_and_other_rules(spark: SparkSession) -> None:  # noqa: F811
    row = {signal.name: None for signal in SIGNALS}
    row |= {"lang": "de", "lang_score": 0.99, "gopher_word_count": 10, "normalized_chars": 5}
    schema = ", ".join(f"{s.name} {s.type}" for s in SIGNALS)
    frame = spark.createDataFrame([row], schema)
    (rejection,) = frame.select(first_rejection(fired_rules(CleanConfig())).alias("r")).collect()
    assert rejection.r.rule == "language_not_allowed"
    assert (rejection.r.value, rejection.r.threshold) == (0.99, None)
    assert rejection.r.detail == "lang=de; also: gopher_short_doc"
