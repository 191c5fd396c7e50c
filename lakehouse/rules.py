"""Every signal and every drop rule of the clean stage, each declared once.

A signal is a column the clean stage measures for every document (name, type, unit, meaning).
A rule reads one signal, compares it with a setting of the recipe and, when it fires, drops the
document with `(rule, value, threshold)`. Everything else is derived from these declarations:
the recipe's clean-section fields (`lakehouse.recipe`), the signal columns of the silver tables
(`lakehouse.tables`), the Spark decisions (`spark_jobs.decisions`), the Arrow decisions of
`funnel whatif` (`lakehouse.whatif`), `funnel rules` and the rules table of docs/filters.md
(`python -m lakehouse.rules --markdown`).

Rules are checked in the order of `RULES` (URL, normalization, language, Gopher repetition,
Gopher quality, C4, FineWeb — the order FineWeb ran its filters in, URL filtering first as in
FineWeb's pipeline); the first one that fires is the document's rejection.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

SignalType = Literal["double", "long", "string"]
Step = Literal["bronze", "url", "normalize", "language", "quality"]
SettingKind = Literal["integer", "number", "flag", "codes"]
Comparison = Literal["above", "below", "zero", "not_in"]

_ARROW_TYPES: dict[str, pa.DataType] = {
    "double": pa.float64(),
    "long": pa.int64(),
    "string": pa.string(),
}


@dataclass(frozen=True)
class Signal:
    """A column measured for every document: Spark SQL type, unit, meaning, which step adds it.

    `step` is `bronze` (carried from bronze/documents), `url` (`spark_jobs.url_filters`, from
    the page's URL), `normalize`, `language` or `quality` (`spark_jobs.quality_signals`, one
    tokenization per document).
    """

    name: str
    type: SignalType
    unit: str
    meaning: str
    step: Step = "quality"

    @property
    def arrow_type(self) -> pa.DataType:
        """The signal's Arrow type (the type of its Delta column)."""
        return _ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Setting:
    """A recipe key a rule reads: a threshold, an on/off flag or a list of codes.

    `key` is the dotted recipe path (`clean.<family>.<field>`, or `clean.<family>.<field>.<n>`
    for one entry of a mapping keyed by n). Bounds are inclusive unless `exclusive_minimum`;
    for `codes`, `minimum` is the least number of entries. A nullable threshold set to null
    switches its rule off.
    """

    key: str
    kind: SettingKind
    default: Any
    meaning: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    nullable: bool = True

    @property
    def section(self) -> str:
        """The recipe section under `clean` that holds the key, e.g. `gopher_quality`."""
        return self.key.split(".")[1]

    @property
    def field(self) -> str:
        """The field of that section, e.g. `min_doc_words` (the mapping for an entry key)."""
        return self.key.split(".")[2]

    @property
    def entry(self) -> int | None:
        """The mapping key n of a `clean.<family>.<field>.<n>` setting; None otherwise."""
        parts = self.key.split(".")
        return int(parts[3]) if len(parts) == 4 else None

    @property
    def bounds(self) -> str:
        """The allowed values, as an interval (or `true/false`, or `≥ n codes`)."""
        if self.kind == "flag":
            return "true/false"
        if self.kind == "codes":
            return f"≥ {self.minimum:g} codes" if self.minimum is not None else "codes"
        low = "-∞" if self.minimum is None else f"{self.minimum:g}"
        high = "∞" if self.maximum is None else f"{self.maximum:g}"
        left = "(" if self.exclusive_minimum or self.minimum is None else "["
        right = ")" if self.maximum is None else "]"
        return f"{left}{low}, {high}{right}" + (", null: off" if self.nullable else "")


@dataclass(frozen=True)
class Family:
    """A group of rules with its recipe section `clean.<name>`, and whether it can be disabled.

    A `profile_only` family applies only to documents of a rule profile that names it
    (`clean.profiles`), never under the default profile.
    """

    name: str
    meaning: str
    can_disable: bool = True
    profile_only: bool = False

    @property
    def enabled(self) -> Setting | None:
        """The family's `enabled` flag, or None when the family always runs."""
        if not self.can_disable:
            return None
        return Setting(f"clean.{self.name}.enabled", "flag", True, f"run the {self.name} rules")


@dataclass(frozen=True)
class Rule:
    """One drop rule: the signal it reads, how it compares, and the recipe settings it obeys.

    Comparisons: `above` (signal > threshold), `below` (signal < threshold), `zero` (signal
    = 0, no threshold), `not_in` (signal not in a list of codes). `threshold` is a Setting, a
    fixed number, or None (`zero`). `value` names the column reported as the rejection's
    value when it is not the signal. `toggle` is a flag that switches the rule on;
    `exempt_zero` a flag under which a signal of exactly 0 never fires. A null signal never
    fires.
    """

    name: str
    family: str
    signal: str
    comparison: Comparison
    meaning: str
    threshold: Setting | float | None = None
    value: str | None = None
    toggle: Setting | None = None
    exempt_zero: Setting | None = None

    @property
    def value_column(self) -> str:
        """The column whose value a rejection by this rule records."""
        return self.value or self.signal

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The recipe settings this rule reads (threshold, toggle, zero exemption)."""
        found = (self.threshold, self.toggle, self.exempt_zero)
        return tuple(setting for setting in found if isinstance(setting, Setting))


def _fraction(key: str, default: float, unit: str, meaning: str, nullable: bool = True) -> Setting:
    return Setting(key, "number", default, meaning, unit, 0, 1, nullable=nullable)


# ---------------------------------------------------------------------------------------------
# Signals, in table order.

TOP_NGRAM_SIZES = (2, 3, 4)
DUPLICATE_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)

SIGNALS: tuple[Signal, ...] = (
    Signal("text_bytes", "long", "bytes", "UTF-8 length of the text as it landed", "bronze"),
    Signal("url_malformed", "long", "0/1", "1 when the URL has no scheme or no valid host", "url"),
    Signal("url_not_http", "long", "0/1", "1 when the URL's scheme is not http or https", "url"),
    Signal(
        "url_blocked_domain",
        "long",
        "0/1",
        "1 when the URL's host or a parent domain is on the block list",
        "url",
    ),
    Signal(
        "url_domain_not_allowed",
        "long",
        "0/1",
        "1 when an allow list is set and neither the host nor a parent domain is on it",
        "url",
    ),
    Signal("url_banned_words", "long", "words", "banned words among the URL's words", "url"),
    Signal(
        "normalized_chars",
        "long",
        "characters",
        "characters after normalization and boilerplate line removal",
        "normalize",
    ),
    Signal(
        "boilerplate_lines_removed",
        "long",
        "lines",
        "lines removed because more than clean.boilerplate.max_documents documents hold them",
        "normalize",
    ),
    Signal("lang", "string", "ISO 639 code", "top language of fastText lid.176", "language"),
    Signal("lang_score", "double", "probability", "confidence of lang, 0-1", "language"),
    Signal("gopher_dup_para_frac", "double", "fraction of paragraphs", "paragraphs seen before"),
    Signal(
        "gopher_dup_para_char_frac",
        "double",
        "fraction of characters",
        "characters in paragraphs seen before",
    ),
    Signal("gopher_dup_line_frac", "double", "fraction of lines", "lines seen before"),
    Signal(
        "gopher_dup_line_char_frac",
        "double",
        "fraction of characters",
        "characters in lines seen before",
    ),
    *(
        Signal(
            f"gopher_top_{n}_gram_char_frac",
            "double",
            "fraction of characters",
            f"characters covered by the most frequent word {n}-gram",
        )
        for n in TOP_NGRAM_SIZES
    ),
    *(
        Signal(
            f"gopher_dup_{n}_gram_char_frac",
            "double",
            "fraction of characters",
            f"characters in repeated word {n}-grams",
        )
        for n in DUPLICATE_NGRAM_SIZES
    ),
    Signal("gopher_word_count", "long", "words", "words that are not only symbols"),
    Signal("gopher_mean_word_length", "double", "characters", "mean length of those words"),
    Signal("gopher_hash_ratio", "double", "per word", "'#' characters per word token"),
    Signal("gopher_ellipsis_ratio", "double", "per word", "ellipses ('...', '…') per word token"),
    Signal(
        "gopher_bullet_lines_ratio", "double", "fraction of lines", "lines starting with '•'/'-'"
    ),
    Signal(
        "gopher_ellipsis_lines_ratio", "double", "fraction of lines", "lines ending in an ellipsis"
    ),
    Signal("gopher_alpha_words_ratio", "double", "fraction of words", "word tokens with a letter"),
    Signal(
        "gopher_stop_words",
        "long",
        "words",
        "distinct stop words of the document's language present (Gopher's English eight: the, "
        "be, to, of, and, that, have, with, unless clean.languages sets a list)",
    ),
    Signal("c4_lorem_ipsum_lines", "long", "lines", "kept lines containing 'lorem ipsum'"),
    Signal("c4_curly_bracket_lines", "long", "lines", "kept lines containing '{'"),
    Signal("c4_sentences", "long", "sentences", "sentences in the lines C4 keeps"),
    Signal("c4_lines_removed", "long", "lines", "lines removed by C4's line rules"),
    Signal(
        "c4_removed_chars_frac",
        "double",
        "fraction of characters",
        "characters of the lines C4's line rules removed (script, cookie and short lines)",
    ),
    Signal("fineweb_lines", "long", "lines", "non-blank lines of C4's output"),
    Signal(
        "fineweb_line_punct_ratio",
        "double",
        "fraction of lines",
        "lines ending in terminal punctuation",
    ),
    Signal(
        "fineweb_short_line_ratio",
        "double",
        "fraction of lines",
        "lines of at most clean.fineweb.short_line_length characters",
    ),
    Signal(
        "fineweb_char_dup_ratio",
        "double",
        "fraction of characters",
        "characters in duplicated lines (newlines not counted)",
    ),
    Signal("fineweb_newline_ratio", "double", "per word", "newlines per word"),
    Signal(
        "rps_doc_frac_all_caps_words",
        "double",
        "fraction of words",
        "whitespace-separated words that are all upper case (RedPajama-v2's signal)",
    ),
    Signal(
        "harmful_profanity_word_ratio",
        "double",
        "fraction of words",
        "words (letters and digits) in the profanity/NSFW lexicon of the better-profanity "
        "package; a lexicon phrase counts each of its words",
    ),
    Signal("code_max_line_length", "long", "characters", "longest line"),
    Signal("code_mean_line_length", "double", "characters", "mean length of the lines"),
    Signal("code_alnum_frac", "double", "fraction of characters", "letters and digits (The Stack)"),
    Signal(
        "code_autogenerated",
        "long",
        "0/1",
        "1 when one of the first 5 lines says the file is generated (StarCoder's markers)",
    ),
)

# ---------------------------------------------------------------------------------------------
# Families and rules, in decision order.

FAMILIES: tuple[Family, ...] = (
    Family(
        "url",
        "URL rules (documents without a URL pass): malformed or non-HTTP(S) URLs, domain "
        "block and allow lists, banned words in the URL; lists are files named here.",
    ),
    Family(
        "normalize",
        "Text normalization of the clean stage (the first step; later signals see its output).",
        can_disable=False,
    ),
    Family(
        "boilerplate",
        "Boilerplate lines across documents (CCNet, Dolma): a line more documents of the lake "
        "hold than max_documents is removed from the text; null max_documents: none removed.",
    ),
    Family(
        "language",
        "Language identification (fastText lid.176, bundled) and which languages are kept.",
        can_disable=False,
    ),
    Family(
        "gopher_repetition",
        "Gopher repetition rules (Rae et al. 2021, table A1); null disables one rule.",
    ),
    Family("gopher_quality", "Gopher quality rules (Rae et al. 2021); null disables one rule."),
    Family(
        "c4", "C4 rules (Raffel et al. 2020) as FineWeb ran them: no terminal-punctuation rule."
    ),
    Family("fineweb", "FineWeb's own quality rules (Penedo et al. 2024)."),
    Family("redpajama_v2", "Rules on RedPajama-v2's quality signals (Weber et al. 2024)."),
    Family(
        "harmful_content",
        "Lexicon-based harmful-content signals (profanity, sexual terms); off until a recipe "
        "sets a threshold.",
    ),
    Family(
        "code",
        "Source-code rules as The Stack and StarCoder filtered files (Kocetkov et al. 2022, Li et "
        "al. 2023); only for documents of a rule profile that names this family.",
        profile_only=True,
    ),
)

_SYMBOL_RATIO = Setting(
    "clean.gopher_quality.max_symbol_word_ratio",
    "number",
    0.1,
    "most '#' or ellipses per word",
    "per word",
    0,
)
_TOP_NGRAM_DEFAULTS = {2: 0.2, 3: 0.18, 4: 0.16}
_DUP_NGRAM_DEFAULTS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _repetition(name: str, signal: str, default: float, unit: str, meaning: str) -> Rule:
    key = f"clean.gopher_repetition.{name.removeprefix('gopher_')}"
    setting = _fraction(key, default, unit, f"most {meaning}")
    return Rule(name, "gopher_repetition", signal, "above", f"too many {meaning}", setting)


def _gopher(name: str, signal: str, comparison: Comparison, setting: Setting, meaning: str) -> Rule:
    return Rule(name, "gopher_quality", signal, comparison, meaning, setting)


def _c4_toggle(name: str, signal: str, meaning: str) -> Rule:
    flag = Setting(f"clean.c4.filter_{name}", "flag", True, f"drop documents with {meaning}")
    return Rule(f"c4_{name}", "c4", signal, "above", f"a kept line has {meaning}", 0.0, None, flag)


def _url_rule(name: str, signal: str, meaning: str) -> Rule:
    return Rule(name, "url", signal, "above", meaning, 0.0)


RULES: tuple[Rule, ...] = (
    _url_rule("url_malformed", "url_malformed", "the URL is malformed (no scheme or valid host)"),
    _url_rule("url_not_http", "url_not_http", "the URL is not http or https"),
    _url_rule("url_blocked_domain", "url_blocked_domain", "the URL's domain is on the block list"),
    _url_rule(
        "url_domain_not_allowed",
        "url_domain_not_allowed",
        "the URL's domain is not on the allow list",
    ),
    Rule(
        "url_banned_word",
        "url",
        "url_banned_words",
        "above",
        "the URL holds banned words",
        Setting(
            "clean.url.max_banned_words",
            "integer",
            0,
            "most banned words a URL may hold",
            "words",
            0,
        ),
    ),
    Rule(
        "text_too_large",
        "normalize",
        "text_bytes",
        "above",
        "the text as it landed is too large to clean",
        Setting(
            "clean.normalize.max_text_bytes",
            "integer",
            1_000_000,
            "UTF-8 bytes of text above which a document is rejected",
            "bytes",
            0,
            exclusive_minimum=True,
            nullable=False,
        ),
    ),
    Rule(
        "empty_after_normalization",
        "normalize",
        "normalized_chars",
        "zero",
        "nothing is left after normalization",
    ),
    Rule(
        "language_not_allowed",
        "language",
        "lang",
        "not_in",
        "the detected language is not one of the kept ones",
        Setting(
            "clean.language.allow",
            "codes",
            ("en",),
            "ISO 639-1 codes of the languages kept",
            "ISO 639 codes",
            1,
            nullable=False,
        ),
        value="lang_score",
    ),
    Rule(
        "language_score_too_low",
        "language",
        "lang_score",
        "below",
        "the language identifier is not confident enough",
        _fraction(
            "clean.language.min_score",
            0.65,
            "probability",
            "lowest confidence of the top language kept",
            nullable=False,
        ),
    ),
    _repetition(
        "gopher_dup_para_frac",
        "gopher_dup_para_frac",
        0.3,
        "fraction of paragraphs",
        "repeated paragraphs",
    ),
    _repetition(
        "gopher_dup_para_char_frac",
        "gopher_dup_para_char_frac",
        0.2,
        "fraction of characters",
        "characters in repeated paragraphs",
    ),
    _repetition(
        "gopher_dup_line_frac", "gopher_dup_line_frac", 0.3, "fraction of lines", "repeated lines"
    ),
    _repetition(
        "gopher_dup_line_char_frac",
        "gopher_dup_line_char_frac",
        0.2,
        "fraction of characters",
        "characters in repeated lines",
    ),
    *(
        Rule(
            f"gopher_top_{n}_gram",
            "gopher_repetition",
            f"gopher_top_{n}_gram_char_frac",
            "above",
            f"the most frequent word {n}-gram covers too many characters",
            _fraction(
                f"clean.gopher_repetition.top_ngram_char_frac.{n}",
                default,
                "fraction of characters",
                "most frequent n-gram's share of characters, per n; above it, dropped",
            ),
        )
        for n, default in _TOP_NGRAM_DEFAULTS.items()
    ),
    *(
        Rule(
            f"gopher_dup_{n}_gram",
            "gopher_repetition",
            f"gopher_dup_{n}_gram_char_frac",
            "above",
            f"too many characters in repeated word {n}-grams",
            _fraction(
                f"clean.gopher_repetition.dup_ngram_char_frac.{n}",
                default,
                "fraction of characters",
                "characters in repeated n-grams, per n; above it, dropped",
            ),
        )
        for n, default in _DUP_NGRAM_DEFAULTS.items()
    ),
    _gopher(
        "gopher_short_doc",
        "gopher_word_count",
        "below",
        Setting("clean.gopher_quality.min_doc_words", "integer", 50, "fewest words", "words", 0),
        "too few words",
    ),
    _gopher(
        "gopher_long_doc",
        "gopher_word_count",
        "above",
        Setting("clean.gopher_quality.max_doc_words", "integer", 100_000, "most words", "words", 0),
        "too many words",
    ),
    _gopher(
        "gopher_below_avg_word_length",
        "gopher_mean_word_length",
        "below",
        Setting(
            "clean.gopher_quality.min_avg_word_length",
            "number",
            3,
            "shortest mean word length",
            "characters",
            0,
        ),
        "words too short on average",
    ),
    _gopher(
        "gopher_above_avg_word_length",
        "gopher_mean_word_length",
        "above",
        Setting(
            "clean.gopher_quality.max_avg_word_length",
            "number",
            10,
            "longest mean word length",
            "characters",
            0,
        ),
        "words too long on average",
    ),
    _gopher("gopher_too_many_hashes", "gopher_hash_ratio", "above", _SYMBOL_RATIO, "too many '#'"),
    _gopher(
        "gopher_too_many_ellipsis",
        "gopher_ellipsis_ratio",
        "above",
        _SYMBOL_RATIO,
        "too many ellipses",
    ),
    _gopher(
        "gopher_too_many_bullet_lines",
        "gopher_bullet_lines_ratio",
        "above",
        _fraction(
            "clean.gopher_quality.max_bullet_lines_ratio",
            0.9,
            "fraction of lines",
            "most lines starting with a bullet",
        ),
        "mostly bullet lines",
    ),
    _gopher(
        "gopher_too_many_ellipsis_lines",
        "gopher_ellipsis_lines_ratio",
        "above",
        _fraction(
            "clean.gopher_quality.max_ellipsis_lines_ratio",
            0.3,
            "fraction of lines",
            "most lines ending in an ellipsis",
        ),
        "too many lines ending in an ellipsis",
    ),
    _gopher(
        "gopher_below_alpha_words_ratio",
        "gopher_alpha_words_ratio",
        "below",
        _fraction(
            "clean.gopher_quality.min_alpha_words_ratio",
            0.8,
            "fraction of words",
            "fewest word tokens with a letter",
        ),
        "too few words with a letter",
    ),
    _gopher(
        "gopher_too_few_stop_words",
        "gopher_stop_words",
        "below",
        Setting(
            "clean.gopher_quality.min_stop_words", "integer", 2, "fewest stop words", "words", 0
        ),
        "too few stop words of the document's language",
    ),
    _c4_toggle("lorem_ipsum", "c4_lorem_ipsum_lines", "'lorem ipsum'"),
    _c4_toggle("curly_bracket", "c4_curly_bracket_lines", "a curly bracket '{'"),
    Rule(
        "c4_too_few_sentences",
        "c4",
        "c4_sentences",
        "below",
        "too few sentences in the lines C4 keeps",
        Setting("clean.c4.min_num_sentences", "integer", 5, "fewest sentences", "sentences", 0),
    ),
    Rule("fineweb_no_lines", "fineweb", "fineweb_lines", "zero", "no non-blank line is left"),
    Rule(
        "fineweb_line_punct_ratio",
        "fineweb",
        "fineweb_line_punct_ratio",
        "below",
        "too few lines end in terminal punctuation",
        _fraction(
            "clean.fineweb.line_punct_thr",
            0.12,
            "fraction of lines",
            "fewest lines ending in terminal punctuation",
            nullable=False,
        ),
        exempt_zero=Setting(
            "clean.fineweb.line_punct_exclude_zero",
            "flag",
            False,
            "a document with no line ending in punctuation is not dropped by this rule",
        ),
    ),
    Rule(
        "fineweb_short_line_ratio",
        "fineweb",
        "fineweb_short_line_ratio",
        "above",
        "too many short lines",
        _fraction(
            "clean.fineweb.short_line_thr",
            0.67,
            "fraction of lines",
            "most short lines",
            nullable=False,
        ),
    ),
    Rule(
        "fineweb_char_dup_ratio",
        "fineweb",
        "fineweb_char_dup_ratio",
        "above",
        "too many characters in duplicated lines",
        _fraction(
            "clean.fineweb.char_duplicates_ratio",
            0.01,
            "fraction of characters",
            "most characters in duplicated lines",
            nullable=False,
        ),
    ),
    Rule(
        "fineweb_list_ratio",
        "fineweb",
        "fineweb_newline_ratio",
        "above",
        "list-like: too many newlines per word",
        Setting(
            "clean.fineweb.new_line_ratio",
            "number",
            0.3,
            "most newlines per word",
            "per word",
            0,
            nullable=False,
        ),
    ),
    # RedPajama-v2 (Weber et al. 2024, `rps_doc_frac_all_caps_words`) publishes the signal but no
    # threshold, so the rule is off (null) until a recipe sets one.
    Rule(
        "redpajama_all_caps_words",
        "redpajama_v2",
        "rps_doc_frac_all_caps_words",
        "above",
        "shouting or boilerplate: too many all-caps words (RedPajama-v2 quality signal)",
        _fraction(
            "clean.redpajama_v2.max_all_caps_words_frac",
            None,
            "fraction of words",
            "most words in all caps; null: off (RedPajama-v2 gives no threshold)",
        ),
    ),
    # A word list cannot tell a slur from a quotation, a medical text or a name (see
    # docs/filters.md), so the rule is off (null) until a recipe sets a threshold.
    Rule(
        "harmful_profanity",
        "harmful_content",
        "harmful_profanity_word_ratio",
        "above",
        "profanity or sexual content: too many words from the profanity/NSFW lexicon",
        _fraction(
            "clean.harmful_content.max_profanity_word_ratio",
            None,
            "fraction of words",
            "most words from the profanity lexicon; null: off (a lexicon is imprecise)",
        ),
    ),
    # Rules added later come last, so that earlier lakes' first-fired rules stay the same.
    Rule(
        "c4_mostly_removed_lines",
        "c4",
        "c4_removed_chars_frac",
        "above",
        "C4's line rules removed most of the page: what is left is filler between script, "
        "cookie and menu lines",
        # Not one of C4's or FineWeb's own rules, so off (null) unless a recipe sets it.
        _fraction(
            "clean.c4.max_removed_chars_frac",
            None,
            "fraction of characters",
            "most characters C4's line rules may remove; null: off",
        ),
    ),
    Rule(
        "code_long_line",
        "code",
        "code_max_line_length",
        "above",
        "a line is too long: minified or data, not source (The Stack)",
        Setting("clean.code.max_line_length", "integer", 1000, "longest line", "characters", 0),
    ),
    Rule(
        "code_long_mean_line",
        "code",
        "code_mean_line_length",
        "above",
        "lines too long on average (The Stack)",
        Setting(
            "clean.code.max_mean_line_length", "number", 100, "longest mean line", "characters", 0
        ),
    ),
    Rule(
        "code_low_alnum",
        "code",
        "code_alnum_frac",
        "below",
        "too few letters and digits: encoded data or symbols (The Stack)",
        _fraction(
            "clean.code.min_alnum_frac",
            0.25,
            "fraction of characters",
            "fewest letters and digits",
        ),
    ),
    Rule(
        "code_autogenerated",
        "code",
        "code_autogenerated",
        "above",
        "the file says it is generated (StarCoder)",
        0.0,
        toggle=Setting(
            "clean.code.filter_autogenerated", "flag", True, "drop files marked as generated"
        ),
    ),
)

# The language of a document without text.
UNDETERMINED_LANGUAGE = "und"
# Every language fastText's lid.176 (the bundled identifier) can answer with; a test checks the
# list against the model's labels.
_LID176_CODES = (
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce "
    "ceb ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl "
    "gn gom gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko "
    "krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl "
    "my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru "
    "rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug "
    "uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh"
)
LID176_LANGUAGES: tuple[str, ...] = tuple(_LID176_CODES.split())


# ---------------------------------------------------------------------------------------------
# Derived views of the declarations.

SIGNALS_BY_NAME: dict[str, Signal] = {signal.name: signal for signal in SIGNALS}
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)


def signals_of(*steps: Step) -> tuple[Signal, ...]:
    """The declared signals that the given clean steps add, in table order."""
    return tuple(signal for signal in SIGNALS if signal.step in steps)


def settings() -> dict[str, Setting]:
    """Every recipe setting the rules read, by key (family flags first within a section).

    Raises ValueError when two declarations of one key disagree.
    """
    found: dict[str, Setting] = {}
    flags = [family.enabled for family in FAMILIES if family.enabled is not None]
    for setting in [*flags, *(setting for rule in RULES for setting in rule.settings)]:
        if found.setdefault(setting.key, setting) != setting:
            raise ValueError(f"recipe key {setting.key} is declared twice, differently")
    return found


def section_settings(section: str) -> list[Setting]:
    """The settings under `clean.<section>`, in declaration order."""
    return [setting for setting in settings().values() if setting.section == section]


def setting_value(clean: Any, key: str) -> Any:
    """The value of a `clean.…` key in a clean config (None for an absent mapping entry)."""
    value = clean
    for part in key.split(".")[1:]:
        if isinstance(value, Mapping):
            value = value.get(int(part) if part.isdigit() else part)
        else:
            value = getattr(value, part)
        if value is None:
            return None
    return value


# ---------------------------------------------------------------------------------------------
# Per-language settings: `clean.languages.<code>` overrides these rule settings (and the word
# splitting and stop words the signals are measured with) for documents of that language.
# A setting a language leaves out is the family's; null switches a nullable rule off for it.

LANGUAGE_SETTING_KEYS: tuple[str, ...] = (
    "clean.language.min_score",
    "clean.gopher_quality.min_doc_words",
    "clean.gopher_quality.max_doc_words",
    "clean.gopher_quality.min_avg_word_length",
    "clean.gopher_quality.max_avg_word_length",
    "clean.gopher_quality.min_alpha_words_ratio",
    "clean.gopher_quality.min_stop_words",
    "clean.c4.min_num_sentences",
)
# Gopher's stop words (Rae et al. 2021): the default list of `clean.gopher_quality.stop_words`.
GOPHER_STOP_WORDS: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")


def language_settings() -> list[Setting]:
    """The rule settings a `clean.languages.<code>` entry may override, in declaration order."""
    found = settings()
    return [found[key] for key in LANGUAGE_SETTING_KEYS]


def language_overrides(clean: Any, key: str) -> dict[str, Any]:
    """{language: value} of every `clean.languages` entry that sets rule setting `key`.

    Only keys of LANGUAGE_SETTING_KEYS can be overridden; a non-nullable setting set to null
    is the family's value (left out here).
    """
    if key not in LANGUAGE_SETTING_KEYS:
        return {}
    setting = settings()[key]
    found: dict[str, Any] = {}
    for code, profile in (getattr(clean, "languages", None) or {}).items():
        if setting.field not in profile.model_fields_set:
            continue
        value = getattr(profile, setting.field)
        if value is None and not setting.nullable:
            continue
        found[code] = value
    return found


def language_rows(clean: Any) -> list[dict[str, Any]]:
    """One row per `clean.languages` entry: its word splitting, stop words and every rule
    setting it resolves to (its own, else the family's), for `funnel rules` and the docs."""
    rows = []
    for code, profile in sorted((getattr(clean, "languages", None) or {}).items()):
        row: dict[str, Any] = {
            "lang": code,
            "tokenizer": profile.tokenizer or clean.tokenizer,
            "stop_words": list(profile.stop_words or clean.gopher_quality.stop_words),
        }
        for setting in language_settings():
            overrides = language_overrides(clean, setting.key)
            row[setting.field] = overrides.get(code, setting_value(clean, setting.key))
        rows.append(row)
    return rows


def languages_markdown(clean: Any) -> str:
    """The per-language table of docs/filters.md: each language's settings as a recipe sets them.

    A cell in bold is the language's own value; the others are the family's.
    """
    fields = [setting.field for setting in language_settings()]
    columns = ["lang", "words", "stop words", *fields]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in language_rows(clean):
        profile = clean.languages[row["lang"]]
        cells = [f"`{row['lang']}`", row["tokenizer"], " ".join(row["stop_words"])]
        for field in fields:
            cell = _markdown_cell(row[field]) if row[field] is not None else "off"
            cells.append(f"**{cell}**" if field in profile.model_fields_set else cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ActiveRule:
    """A rule as one recipe sets it: its threshold (a number or codes) and zero exemption."""

    rule: Rule
    threshold: float | tuple[str, ...] | None
    exempt_zero: bool
    # (language, threshold) where `clean.languages.<lang>` sets this rule's threshold; None
    # switches the rule off for that language.
    by_language: tuple[tuple[str, Any], ...] = ()

    @property
    def reported_threshold(self) -> float | None:
        """The threshold a rejection records: the number, or None for codes and `zero`."""
        return float(self.threshold) if isinstance(self.threshold, int | float) else None

    def threshold_for(self, lang: str | None) -> float | tuple[str, ...] | None:
        """The threshold for a document of language `lang` (its override, else the default)."""
        return dict(self.by_language).get(lang, self.threshold) if lang else self.threshold


def active_rules(clean: Any, families: Sequence[str] = FAMILY_NAMES) -> list[ActiveRule]:
    """The rules a clean config switches on, in decision order, with their thresholds.

    A rule is off when its family is disabled, its toggle is false, or its threshold setting
    is null (or absent from its mapping).
    """
    enabled = {
        family.name: family.enabled is None or bool(setting_value(clean, family.enabled.key))
        for family in FAMILIES
    }
    active = []
    for rule in RULES:
        if rule.family not in families or not enabled[rule.family]:
            continue
        if rule.toggle is not None and not setting_value(clean, rule.toggle.key):
            continue
        threshold: Any = rule.threshold
        by_language: tuple[tuple[str, Any], ...] = ()
        if isinstance(threshold, Setting):
            by_language = tuple(language_overrides(clean, threshold.key).items())
            threshold = setting_value(clean, threshold.key)
            # Off by default, the rule still runs for a language that sets a threshold.
            if threshold is None and all(value is None for _, value in by_language):
                continue
            if isinstance(threshold, list | tuple):
                threshold = tuple(threshold)
        exempt = rule.exempt_zero is not None and bool(setting_value(clean, rule.exempt_zero.key))
        active.append(ActiveRule(rule, threshold, exempt, by_language))
    return active


def rule_rows() -> list[dict[str, Any]]:
    """One row per rule (decision order): name, family, signal, threshold key, default, …."""
    rows = []
    for rule in RULES:
        setting = rule.threshold if isinstance(rule.threshold, Setting) else None
        default: Any = rule.threshold if setting is None else setting.default
        signal = SIGNALS_BY_NAME[rule.signal]
        rows.append(
            {
                "rule": rule.name,
                "family": rule.family,
                "signal": rule.signal,
                "fires_when": fires_when(rule),
                "threshold_key": setting.key if setting else None,
                "default": list(default) if isinstance(default, tuple) else default,
                "bounds": setting.bounds if setting else None,
                "unit": setting.unit if setting and setting.unit else signal.unit,
                "toggle": rule.toggle.key if rule.toggle else None,
                "meaning": rule.meaning,
            }
        )
    return rows


def fires_when(rule: Rule) -> str:
    """The firing condition in words, e.g. `gopher_word_count < min_doc_words`."""
    threshold = rule.threshold
    limit = threshold.key.rsplit(".", 1)[-1] if isinstance(threshold, Setting) else threshold
    if isinstance(threshold, Setting) and threshold.entry is not None:
        limit = f"{threshold.field}[{threshold.entry}]"
    condition = {
        "above": f"{rule.signal} > {limit}",
        "below": f"{rule.signal} < {limit}",
        "zero": f"{rule.signal} = 0",
        "not_in": f"{rule.signal} not in {limit}",
    }[rule.comparison]
    if rule.exempt_zero is not None:
        condition += f" and ≠ 0 when {rule.exempt_zero.field}"
    if rule.toggle is not None:
        condition += f", when {rule.toggle.field}"
    return condition


def _markdown_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def rules_markdown() -> str:
    """The rules table of docs/filters.md, in decision order, generated from the declarations."""
    columns = ["family", "rule", "fires when", "setting", "default", "bounds", "unit", "meaning"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rule_rows():
        key = row["threshold_key"] or row["toggle"]
        cells = [
            row["family"],
            f"`{row['rule']}`",
            f"`{row['fires_when']}`",
            f"`{key}`" if key else "—",
            _markdown_cell(row["default"]),
            _markdown_cell(row["bounds"]),
            _markdown_cell(row["unit"]),
            _markdown_cell(row["meaning"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lakehouse.rules --markdown [--languages]`: print a table of docs/filters.md."""
    parser = argparse.ArgumentParser(prog="python -m lakehouse.rules", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="the docs/filters.md table")
    parser.add_argument(
        "--languages",
        metavar="RECIPE",
        nargs="?",
        const="recipes/default.yaml",
        help="with --markdown: the per-language table of a recipe (default recipes/default.yaml)",
    )
    args = parser.parse_args(argv)
    if args.markdown and args.languages:
        # Imported here: the recipe schema is itself derived from this module.
        from lakehouse.recipe import RecipeError, load_recipe

        try:
            clean = load_recipe(args.languages).recipe.clean
        except RecipeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        sys.stdout.write(languages_markdown(clean))
        return 0
    if args.markdown:
        sys.stdout.write(rules_markdown())
        return 0
    for row in rule_rows():
        print(f"{row['rule']:34} {row['fires_when']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
