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

from lakehouse.recipe import DEFAULT_PROFILE, CleanConfig
from lakehouse.rules import FAMILY_NAMES, RULES, ActiveRule, active_rules

REJECTION_TYPE = "struct<rule:string,value:double,threshold:double,detail:string>"
# The column `document_profile` fills and `fired_rules` and `first_rejection` read.
PROFILE_COLUMN = "rule_profile"


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


def document_profile(config: CleanConfig) -> Column:
    """The rule profile of each document, from its `source` and `domain` columns (a source
    named by a profile wins over a domain, as `CleanConfig.profile_of`)."""
    profile = F.lit(DEFAULT_PROFILE)
    for kind in ("domain", "source"):
        for name, rules in config.profiles.items():
            named = getattr(rules, f"{kind}s")
            if named:
                profile = F.when(F.col(kind).isin(list(named)), F.lit(name)).otherwise(profile)
    return profile


def fired_rules(config: CleanConfig) -> Column:
    """An array of (rule, value, threshold) structs of every rule that fires, in rule order,
    under the rule profile in the `rule_profile` column (`document_profile`)."""
    fired = profile_fired_rules(config, config.profile_families(DEFAULT_PROFILE))
    for name in config.profiles:
        fired = F.when(
            F.col(PROFILE_COLUMN) == name,
            profile_fired_rules(config.profile_config(name), config.profile_families(name)),
        ).otherwise(fired)
    return fired


def profile_fired_rules(config: CleanConfig, families: Sequence[str] = FAMILY_NAMES) -> Column:
    """The fired-rules array of one profile: the rules of `families`, as `config` sets them."""
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


def first_rejection(fired: Column, profile: Column | None = None) -> Column:
    """A struct (rule, value, threshold, detail) of the first fired rule; null when none did.

    `detail` names the rule profile (the `profile` column) when it is not the default, the
    other rules that fired, and the detected language for language rules.
    """
    first = F.element_at(fired, 1)
    others = F.transform(F.slice(fired, 2, len(RULES)), lambda other: other["rule"])
    profile = F.lit(DEFAULT_PROFILE) if profile is None else profile
    detail = F.concat_ws(
        "; ",
        F.when(profile != DEFAULT_PROFILE, F.concat(F.lit("profile="), profile)),
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
