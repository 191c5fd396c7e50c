"""Keep/drop decisions in Spark SQL, from stored signals and the recipe's thresholds.

The rules are the declarations of `lakehouse.rules`, evaluated by one generic loop: the first
rule that fires is the document's rejection `(rule, value, threshold)`, and the names of the
other rules that fire go into its `detail`. Changing a threshold needs no signal to be
recomputed; `lakehouse.whatif` evaluates the same declarations on Arrow tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.recipe import CleanConfig
from lakehouse.rules import FAMILY_NAMES, RULES, ActiveRule, active_rules

REJECTION_TYPE = "struct<rule:string,value:double,threshold:double,detail:string>"


def threshold_column(active: ActiveRule) -> Column:
    """A numeric rule's threshold for each row: its language's (`clean.languages`) or the
    default; null where the rule is off for that language."""
    column = F.lit(active.threshold).cast("double")
    for lang, value in active.by_language:
        column = F.when(F.col("lang") == lang, F.lit(value).cast("double")).otherwise(column)
    return column


def rule_fires(active: ActiveRule) -> Column:
    """Where one rule, as the recipe sets it, fires; never null (a null signal fires nothing)."""
    rule, threshold = active.rule, active.threshold
    signal = F.col(rule.signal)
    if rule.comparison == "zero":
        fires = signal == 0
    elif rule.comparison == "not_in":
        fires = ~signal.isin(list(threshold or ()))
    elif rule.comparison == "above":
        fires = signal > threshold_column(active)
    else:
        fires = signal < threshold_column(active)
    if active.exempt_zero:
        fires = fires & (signal != 0)
    return F.coalesce(fires, F.lit(False))


def fired_rules(config: CleanConfig, families: Sequence[str] = FAMILY_NAMES) -> Column:
    """An array of (rule, value, threshold) structs of every rule that fires, in rule order."""
    candidates = [
        F.when(
            rule_fires(active),
            F.struct(
                F.lit(active.rule.name).alias("rule"),
                F.col(active.rule.value_column).cast("double").alias("value"),
                (
                    threshold_column(active)
                    if active.by_language
                    else F.lit(active.reported_threshold).cast("double")
                ).alias("threshold"),
            ),
        )
        for active in active_rules(config, families)
    ]
    return F.filter(F.array(*candidates), lambda fired: fired.isNotNull())


def first_rejection(fired: Column) -> Column:
    """A struct (rule, value, threshold, detail) of the first fired rule; null when none did.

    `detail` names the other rules that fired, and the detected language for language rules.
    """
    first = F.element_at(fired, 1)
    others = F.transform(F.slice(fired, 2, len(RULES)), lambda other: other["rule"])
    detail = F.concat_ws(
        "; ",
        F.when(first["rule"].startswith("language_"), F.concat(F.lit("lang="), F.col("lang"))),
        F.when(F.size(others) > 0, F.concat(F.lit("also: "), F.array_join(others, ", "))),
    )
    return F.when(
        F.size(fired) > 0,
        F.struct(
            first["rule"].alias("rule"),
            first["value"].alias("value"),
            first["threshold"].alias("threshold"),
            F.when(detail != "", detail).alias("detail"),
        ),
    ).cast(REJECTION_TYPE)
