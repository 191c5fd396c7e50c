"""Keep/drop decisions from stored signals and the recipe's thresholds.

Rules are checked in a fixed order (normalization, language, Gopher repetition, Gopher quality,
C4, FineWeb — the order FineWeb ran its filters in); the first rule that fires is the
document's rejection `(rule, value, threshold)`, and the names of the other rules that fire go
into its `detail`. Changing a threshold needs no signal to be recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.recipe import CleanConfig

FAMILIES = ("normalize", "language", "gopher_repetition", "gopher_quality", "c4", "fineweb")
REJECTION_TYPE = "struct<rule:string,value:double,threshold:double,detail:string>"


@dataclass(frozen=True)
class Rule:
    """One drop rule: its name, filter family, firing condition, measured value, threshold."""

    name: str
    family: str
    fires: Column
    value: Column
    threshold: float | None


def _above(signal: str, threshold: float | None) -> Column | None:
    return None if threshold is None else F.col(signal) > F.lit(threshold)


def _below(signal: str, threshold: float | None) -> Column | None:
    return None if threshold is None else F.col(signal) < F.lit(threshold)


def rules(config: CleanConfig) -> list[Rule]:
    """Every active rule of the recipe, in decision order."""
    found: list[tuple[str, str, Column | None, Column, float | None]] = []
    size = config.normalize.max_text_bytes
    found.append(
        ("text_too_large", "normalize", _above("text_bytes", size), F.col("text_bytes"), size)
    )
    found.append(
        ("empty_after_normalization", "normalize", F.col("text_chars") == 0, F.lit(0.0), None)
    )
    allowed = list(config.language.allow)
    found.append(
        (
            "language_not_allowed",
            "language",
            ~F.col("lang").isin(allowed),
            F.col("lang_score"),
            None,
        )
    )
    found.append(
        (
            "language_score_too_low",
            "language",
            _below("lang_score", config.language.min_score),
            F.col("lang_score"),
            config.language.min_score,
        )
    )
    repetition = config.gopher_repetition
    if repetition.enabled:
        for name, signal, threshold in (
            ("gopher_dup_para_frac", "gopher_dup_para_frac", repetition.dup_para_frac),
            (
                "gopher_dup_para_char_frac",
                "gopher_dup_para_char_frac",
                repetition.dup_para_char_frac,
            ),
            ("gopher_dup_line_frac", "gopher_dup_line_frac", repetition.dup_line_frac),
            (
                "gopher_dup_line_char_frac",
                "gopher_dup_line_char_frac",
                repetition.dup_line_char_frac,
            ),
            *(
                (f"gopher_top_{n}_gram", f"gopher_top_{n}_gram_char_frac", threshold)
                for n, threshold in sorted(repetition.top_ngram_char_frac.items())
            ),
            *(
                (f"gopher_dup_{n}_gram", f"gopher_dup_{n}_gram_char_frac", threshold)
                for n, threshold in sorted(repetition.dup_ngram_char_frac.items())
            ),
        ):
            found.append(
                (name, "gopher_repetition", _above(signal, threshold), F.col(signal), threshold)
            )
    quality = config.gopher_quality
    if quality.enabled:
        for name, fires, signal, threshold in (
            ("gopher_short_doc", _below, "gopher_word_count", quality.min_doc_words),
            ("gopher_long_doc", _above, "gopher_word_count", quality.max_doc_words),
            (
                "gopher_below_avg_word_length",
                _below,
                "gopher_mean_word_length",
                quality.min_avg_word_length,
            ),
            (
                "gopher_above_avg_word_length",
                _above,
                "gopher_mean_word_length",
                quality.max_avg_word_length,
            ),
            ("gopher_too_many_hashes", _above, "gopher_hash_ratio", quality.max_symbol_word_ratio),
            (
                "gopher_too_many_ellipsis",
                _above,
                "gopher_ellipsis_ratio",
                quality.max_symbol_word_ratio,
            ),
            (
                "gopher_too_many_bullet_lines",
                _above,
                "gopher_bullet_lines_ratio",
                quality.max_bullet_lines_ratio,
            ),
            (
                "gopher_too_many_ellipsis_lines",
                _above,
                "gopher_ellipsis_lines_ratio",
                quality.max_ellipsis_lines_ratio,
            ),
            (
                "gopher_below_alpha_words_ratio",
                _below,
                "gopher_alpha_words_ratio",
                quality.min_alpha_words_ratio,
            ),
            ("gopher_too_few_stop_words", _below, "gopher_stop_words", quality.min_stop_words),
        ):
            found.append(
                (name, "gopher_quality", fires(signal, threshold), F.col(signal), threshold)
            )
    c4 = config.c4
    if c4.enabled:
        if c4.filter_lorem_ipsum:
            found.append(
                (
                    "c4_lorem_ipsum",
                    "c4",
                    F.col("c4_lorem_ipsum_lines") > 0,
                    F.col("c4_lorem_ipsum_lines"),
                    0,
                )
            )
        if c4.filter_curly_bracket:
            found.append(
                (
                    "c4_curly_bracket",
                    "c4",
                    F.col("c4_curly_bracket_lines") > 0,
                    F.col("c4_curly_bracket_lines"),
                    0,
                )
            )
        found.append(
            (
                "c4_too_few_sentences",
                "c4",
                _below("c4_sentences", c4.min_num_sentences),
                F.col("c4_sentences"),
                c4.min_num_sentences,
            )
        )
    fineweb = config.fineweb
    if fineweb.enabled:
        punct = F.col("fineweb_line_punct_ratio")
        punct_fires = punct < F.lit(fineweb.line_punct_thr)
        if fineweb.line_punct_exclude_zero:
            punct_fires = punct_fires & (punct != 0)
        found.extend(
            [
                (
                    "fineweb_no_lines",
                    "fineweb",
                    F.col("fineweb_lines") == 0,
                    F.col("fineweb_lines"),
                    None,
                ),
                ("fineweb_line_punct_ratio", "fineweb", punct_fires, punct, fineweb.line_punct_thr),
                (
                    "fineweb_short_line_ratio",
                    "fineweb",
                    _above("fineweb_short_line_ratio", fineweb.short_line_thr),
                    F.col("fineweb_short_line_ratio"),
                    fineweb.short_line_thr,
                ),
                (
                    "fineweb_char_dup_ratio",
                    "fineweb",
                    _above("fineweb_char_dup_ratio", fineweb.char_duplicates_ratio),
                    F.col("fineweb_char_dup_ratio"),
                    fineweb.char_duplicates_ratio,
                ),
                (
                    "fineweb_list_ratio",
                    "fineweb",
                    _above("fineweb_newline_ratio", fineweb.new_line_ratio),
                    F.col("fineweb_newline_ratio"),
                    fineweb.new_line_ratio,
                ),
            ]
        )
    return [
        Rule(
            name,
            family,
            fires,
            value.cast("double"),
            None if threshold is None else float(threshold),
        )
        for name, family, fires, value, threshold in found
        if fires is not None
    ]


def fired_rules(config: CleanConfig, families: Sequence[str] = FAMILIES) -> Column:
    """An array of (rule, value, threshold) structs of every rule that fires, in rule order."""
    active = [rule for rule in rules(config) if rule.family in families]
    candidates = [
        F.when(
            F.coalesce(rule.fires, F.lit(False)),
            F.struct(
                F.lit(rule.name).alias("rule"),
                rule.value.alias("value"),
                F.lit(rule.threshold).cast("double").alias("threshold"),
            ),
        )
        for rule in active
    ]
    return F.filter(F.array(*candidates), lambda fired: fired.isNotNull())


def first_rejection(fired: Column) -> Column:
    """A struct (rule, value, threshold, detail) of the first fired rule; null when none did.

    `detail` names the other rules that fired, and the detected language for language rules.
    """
    first = F.element_at(fired, 1)
    others = F.transform(F.slice(fired, 2, len(FAMILIES) * 64), lambda other: other["rule"])
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


def any_rule_fires(config: CleanConfig, families: Sequence[str]) -> Column:
    """True where some rule of `families` fires (cheaper than `first_rejection` as a filter)."""
    active = [
        F.coalesce(rule.fires, F.lit(False)) for rule in rules(config) if rule.family in families
    ]
    fires = F.lit(False)
    for flag in active:
        fires = fires | flag
    return fires
