"""Signals of the published heuristic quality filters, computed from one tokenization.

Gopher quality and Gopher repetition (Rae et al. 2021, table A1), C4 (Raffel et al. 2020) and
FineWeb (Penedo et al. 2024), each as DataTrove computes them, so that thresholds taken from
the recipe reproduce DataTrove's keep/drop decisions. These functions only measure; the
decisions are taken in `spark_jobs.decisions` from the recipe's thresholds.

All fractions are of characters of the (normalized) document unless the name says otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.recipe import C4RulesConfig, CleanConfig
from lakehouse.rules import (
    DUPLICATE_NGRAM_SIZES,
    GOPHER_STOP_WORDS,
    TOP_NGRAM_SIZES,
    signals_of,
)
from spark_jobs.harmful_content import profanity_word_ratio
from spark_jobs.tokens import (
    PUNCTUATION_CHARS,
    TERMINAL_PUNCTUATION_TUPLE,
    TokenizerName,
    character_tokens,
    sentence_count,
    spacy_style_tokens,
    tokenize,
)

STOP_WORDS = frozenset(GOPHER_STOP_WORDS)
POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile("\n+")


def _duplicates(elements: Sequence[str]) -> tuple[int, int]:
    """(repeated elements, characters in repeats): an element counts from its second time."""
    seen: set[str] = set()
    repeated = characters = 0
    for element in elements:
        if element in seen:
            repeated += 1
            characters += len(element)
        else:
            seen.add(element)
    return repeated, characters


def _ngram_ids(token_ids: list[int], n: int) -> list[tuple[int, ...]]:
    return list(zip(*(token_ids[offset:] for offset in range(n)), strict=False))


def _top_ngram_chars(token_ids: list[int], lengths: list[int], n: int, separator: int = 1) -> int:
    """Characters covered by the most frequent n-gram (joined by `separator` characters, a
    space; none between character tokens) times its count.

    Ties go to the n-gram seen first, as `Counter.most_common` breaks them.
    """
    grams = _ngram_ids(token_ids, n)
    if not grams:
        return 0
    counts = Counter(grams)
    best = max(counts.values())
    gram = next(gram for gram, count in counts.items() if count == best)
    start = grams.index(gram)
    return (sum(lengths[start : start + n]) + (n - 1) * separator) * best


def _duplicated_ngram_chars(token_ids: list[int], lengths: list[int], n: int) -> int:
    """Characters in repeated n-grams, skipping past each repeat (Gopher's definition)."""
    grams = _ngram_ids(token_ids, n)
    if len(set(grams)) == len(grams):
        return 0
    seen: set[tuple[int, ...]] = set()
    repeated = 0
    index = 0
    while index < len(grams):
        gram = grams[index]
        if gram in seen:
            repeated += sum(lengths[index : index + n])
            index += n
        else:
            seen.add(gram)
            index += 1
    return repeated


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def gopher_repetition_signals(
    text: str, words: list[str], separator: int = 1
) -> dict[str, float | None]:
    """Duplicate line/paragraph fractions and top/duplicated n-gram character fractions.

    `separator`: characters between two words of an n-gram (0 for character tokens, which the
    text does not separate by spaces).
    """
    size = len(text)
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    para_repeats, para_chars = _duplicates(paragraphs)
    lines = _LINE_BREAKS.split(text)
    line_repeats, line_chars = _duplicates(lines)
    vocabulary: dict[str, int] = {}
    token_ids = [vocabulary.setdefault(word, len(vocabulary)) for word in words]
    lengths = [len(word) for word in words]
    signals: dict[str, float | None] = {
        "gopher_dup_para_frac": _ratio(para_repeats, len(paragraphs)),
        "gopher_dup_para_char_frac": _ratio(para_chars, size),
        "gopher_dup_line_frac": _ratio(line_repeats, len(lines)),
        "gopher_dup_line_char_frac": _ratio(line_chars, size),
    }
    for n in TOP_NGRAM_SIZES:
        signals[f"gopher_top_{n}_gram_char_frac"] = _ratio(
            _top_ngram_chars(token_ids, lengths, n, separator), size
        )
    repeats = True
    for n in DUPLICATE_NGRAM_SIZES:
        # No repeated n-gram means no repeated longer one either.
        repeated = _duplicated_ngram_chars(token_ids, lengths, n) if repeats else 0
        repeats = repeated > 0
        signals[f"gopher_dup_{n}_gram_char_frac"] = _ratio(repeated, size)
    return signals


@lru_cache(maxsize=1 << 18)
def _token_traits(token: str) -> tuple[bool, bool]:
    """(has a character that is not punctuation, has a letter) of one token."""
    return (
        any(char not in PUNCTUATION_CHARS for char in token),
        any(char.isalpha() for char in token),
    )


def gopher_quality_signals(
    text: str, words: list[str], stop_words: frozenset[str] = STOP_WORDS
) -> dict[str, float | None]:
    """Word count, mean word length, symbol ratios, bullet/ellipsis lines, alpha words, stops.

    Words made only of punctuation are left out of the count and the mean length, as in
    DataTrove; the symbol and alphabetic ratios divide by all tokens.
    """
    n_words = len(words)
    traits = [_token_traits(word) for word in words]
    content_lengths = [
        len(word) for word, (content, _) in zip(words, traits, strict=True) if content
    ]
    lines = text.splitlines()
    bullets = sum(line.lstrip().startswith("•") or line.lstrip().startswith("-") for line in lines)
    ellipsis_ends = sum(
        line.rstrip().endswith("...") or line.rstrip().endswith("…") for line in lines
    )
    alpha_words = sum(alpha for _, alpha in traits)
    return {
        "gopher_word_count": len(content_lengths),
        "gopher_mean_word_length": _ratio(sum(content_lengths), len(content_lengths)),
        "gopher_hash_ratio": _ratio(text.count("#"), n_words),
        "gopher_ellipsis_ratio": _ratio(text.count("...") + text.count("…"), n_words),
        "gopher_bullet_lines_ratio": _ratio(bullets, len(lines)),
        "gopher_ellipsis_lines_ratio": _ratio(ellipsis_ends, len(lines)),
        "gopher_alpha_words_ratio": _ratio(alpha_words, n_words),
        "gopher_stop_words": len(stop_words.intersection(words)),
    }


@dataclass
class C4Outcome:
    """What the C4 rules found in a document, and the text of the lines they keep."""

    lorem_ipsum_lines: int
    curly_bracket_lines: int
    sentences: int
    lines_removed: int
    kept_text: str
    kept_words: list[str]
    # Characters (stripped lines, newlines not counted) of every line, and of those removed.
    line_chars: int = 0
    removed_chars: int = 0

    @property
    def removed_chars_frac(self) -> float | None:
        """The share of the lines' characters that the line rules removed."""
        return _ratio(self.removed_chars, self.line_chars)


def c4_lines(
    text: str,
    config: C4RulesConfig,
    tokenizer: TokenizerName,
    min_words_per_line: int | None = None,
) -> C4Outcome:
    """Apply C4's line rules; count the document-level hits (lorem ipsum, `{`) and sentences.

    A line is removed when one of its words is longer than `max_word_length`, when it has fewer
    than `min_words_per_line` words, mentions javascript, or holds a cookie/terms-of-use phrase
    (and, when enabled, when it lacks terminal punctuation). Citation marks such as `[1]` are
    cut from kept lines. Sentences are counted on kept lines only, as C4 does. With the
    `characters` tokenizer a line's words are its character tokens (a line without spaces is
    one whitespace chunk), and `min_words_per_line` replaces the config's when given.
    """
    fewest_words = config.min_words_per_line if min_words_per_line is None else min_words_per_line
    lorem = curly = sentences = 0
    kept: list[str] = []
    kept_words: list[str] = []
    removed_lines: list[str] = []
    line_chars = 0
    for raw_line in text.splitlines():
        line = raw_line.strip()
        line_chars += len(line)
        chunks = character_tokens(line) if tokenizer == "characters" else line.split()
        if any(len(chunk) > config.max_word_length for chunk in chunks):
            removed_lines.append(line)
            continue
        cited = CITATION.sub("", line) if config.remove_citations else line
        if config.filter_no_terminal_punct and (
            not cited.endswith((".", "?", "!", '"', "'")) or cited.endswith("...")
        ):
            removed_lines.append(line)
            continue
        if len(chunks) < fewest_words:
            removed_lines.append(line)
            continue
        lowered = cited.lower()
        if "lorem ipsum" in lowered:
            lorem += 1
        if config.filter_javascript and "javascript" in lowered:
            removed_lines.append(line)
            continue
        if "{" in cited:
            curly += 1
        if config.filter_policy and any(phrase in lowered for phrase in POLICY_PHRASES):
            removed_lines.append(line)
            continue
        # Sentences are counted on spaCy-style tokens, or on character tokens where a line's
        # sentence marks (。！？) sit between characters, not before a space.
        characters = tokenizer == "characters"
        line_tokens = character_tokens(cited) if characters else spacy_style_tokens(cited)
        sentences += sentence_count(line_tokens)
        kept.append(cited)
        kept_words.extend(line_tokens if tokenizer != "whitespace" else cited.split())
    kept_text = "\n".join(kept).strip()
    removed_chars = sum(map(len, removed_lines))
    return C4Outcome(
        lorem,
        curly,
        sentences,
        len(removed_lines),
        kept_text,
        kept_words,
        line_chars,
        removed_chars,
    )


# StarCoder's markers of a generated file, looked for in its first lines (Li et al. 2023).
AUTOGENERATED_MARKERS = (
    "auto-generated",
    "autogenerated",
    "automatically generated",
    "generated automatically",
    "this file is generated",
    "generated by",
    "do not edit",
)
AUTOGENERATED_HEAD_LINES = 5


def code_signals(text: str) -> dict[str, float | None]:
    """The Stack's and StarCoder's file signals: line lengths, alphanumeric share, generated."""
    lines = text.split("\n")
    lengths = [len(line) for line in lines]
    head = "\n".join(lines[:AUTOGENERATED_HEAD_LINES]).lower()
    return {
        "code_max_line_length": max(lengths),
        "code_mean_line_length": _ratio(sum(lengths), len(lengths)),
        "code_alnum_frac": _ratio(sum(char.isalnum() for char in text), len(text)),
        "code_autogenerated": int(any(marker in head for marker in AUTOGENERATED_MARKERS)),
    }


def fineweb_signals(
    text: str, words: list[str], short_line_length: int = 30
) -> dict[str, float | None]:
    """Line-punctuation ratio, short-line ratio, duplicated-line characters, newline ratio."""
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return {
            "fineweb_lines": 0,
            "fineweb_line_punct_ratio": None,
            "fineweb_short_line_ratio": None,
            "fineweb_char_dup_ratio": None,
            "fineweb_newline_ratio": None,
        }
    return {
        "fineweb_lines": len(lines),
        "fineweb_line_punct_ratio": sum(line.endswith(TERMINAL_PUNCTUATION_TUPLE) for line in lines)
        / len(lines),
        "fineweb_short_line_ratio": sum(len(line) <= short_line_length for line in lines)
        / len(lines),
        "fineweb_char_dup_ratio": _ratio(_duplicates(lines)[1], len(text) - text.count("\n")),
        "fineweb_newline_ratio": _ratio(text.count("\n"), len(words)),
    }


def redpajama_signals(text: str) -> dict[str, float | None]:
    """RedPajama-v2's share of whitespace-separated words that are all upper case."""
    words = text.split()
    return {"rps_doc_frac_all_caps_words": _ratio(sum(map(str.isupper, words)), len(words))}


def harmful_content_signals(text: str) -> dict[str, float | None]:
    """The share of a document's words that belong to the profanity/NSFW lexicon."""
    return {"harmful_profanity_word_ratio": profanity_word_ratio(text)}


@dataclass(frozen=True)
class LanguageMeasures:
    """How one language's documents are measured: word splitting, stop words, C4 line words."""

    tokenizer: TokenizerName
    stop_words: frozenset[str]
    min_words_per_line: int


def language_measures(config: CleanConfig, lang: str | None) -> LanguageMeasures:
    """The measures of `clean.languages.<lang>`, the families' where it sets none."""
    profile = config.languages.get(lang) if lang else None
    tokenizer = (profile.tokenizer if profile else None) or config.tokenizer
    stop_words = (profile.stop_words if profile else None) or config.gopher_quality.stop_words
    fewest = profile.min_words_per_line if profile else None
    return LanguageMeasures(
        tokenizer,
        frozenset(stop_words),
        config.c4.min_words_per_line if fewest is None else fewest,
    )


def document_signals(
    text: str, config: CleanConfig, lang: str | None = None
) -> tuple[dict[str, float | None], str]:
    """Every quality signal of one normalized document, and its text after C4's line rules.

    The document is tokenized once, by its language's word splitting (`lang`, from language
    identification; None: the families' settings); Gopher signals use those words, C4 and
    FineWeb the words of the lines C4 keeps (FineWeb's filter runs on C4's output, as in
    FineWeb's pipeline).
    """
    measures = language_measures(config, lang)
    words = tokenize(text, measures.tokenizer)
    separator = 0 if measures.tokenizer == "characters" else 1
    signals = gopher_repetition_signals(text, words, separator)
    signals.update(gopher_quality_signals(text, words, measures.stop_words))
    outcome = c4_lines(text, config.c4, measures.tokenizer, measures.min_words_per_line)
    signals.update(
        {
            "c4_lorem_ipsum_lines": outcome.lorem_ipsum_lines,
            "c4_curly_bracket_lines": outcome.curly_bracket_lines,
            "c4_sentences": outcome.sentences,
            "c4_lines_removed": outcome.lines_removed,
            "c4_removed_chars_frac": outcome.removed_chars_frac,
        }
    )
    signals.update(
        fineweb_signals(outcome.kept_text, outcome.kept_words, config.fineweb.short_line_length)
    )
    signals.update(redpajama_signals(text))
    signals.update(harmful_content_signals(text))
    signals.update(code_signals(text))
    return signals, outcome.kept_text


# Every signal column this step adds, with its Spark SQL type, in table order.
SIGNAL_COLUMNS: dict[str, str] = {signal.name: signal.type for signal in signals_of("quality")}


def quality_signals(df: DataFrame, config: CleanConfig) -> DataFrame:
    """Add every signal column and `c4_text` (the text after C4's line rules).

    One Arrow-vectorized pass: each document is tokenized once and the words are shared by all
    filter families. An empty text gets null signals. Each document is measured by its `lang`
    column's settings (`clean.languages`); without a `lang` column, by the families'.
    """
    language = F.col("lang") if "lang" in df.columns else F.lit(None).cast("string")
    schema = ", ".join(
        [f"{name} {kind}" for name, kind in SIGNAL_COLUMNS.items()] + ["c4_text string"]
    )

    @pandas_udf(schema)  # type: ignore[call-overload]
    def _signals(texts: pd.Series, langs: pd.Series) -> pd.DataFrame:
        rows: list[dict[str, Any]] = []
        for text, lang in zip(texts, langs, strict=True):
            if not text:
                rows.append({})
                continue
            signals, kept_text = document_signals(text, config, lang)
            rows.append(signals | {"c4_text": kept_text})
        # Explicit nullable dtypes: a batch of empty texts must still convert to Arrow
        # as typed nulls, not as a float column of NaN.
        frame = {
            name: pd.array(
                [row.get(name) for row in rows], dtype="Int64" if kind == "long" else "Float64"
            )
            for name, kind in SIGNAL_COLUMNS.items()
        }
        frame["c4_text"] = pd.Series([row.get("c4_text") for row in rows], dtype=object)
        return pd.DataFrame(frame)

    return (
        df.withColumn("_signals", _signals.asNondeterministic()(F.col("text"), language))
        .select(
            "*", *(F.col(f"_signals.{name}").alias(name) for name in [*SIGNAL_COLUMNS, "c4_text"])
        )
        .drop("_signals")
    )
