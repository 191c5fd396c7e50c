"""Lexicon-based harmful-content signals: how much of a document is profanity or sexual terms.

The lexicon is the word list the `better-profanity` package ships (profanity, slurs, sexual
terms; about 900 entries, some of them phrases), read from the installed package: nothing is
downloaded. A document's signal is the share of its words (lower-cased runs of letters and
digits, as `lakehouse.shingles.words` cuts them) that are lexicon words; a lexicon phrase found
in the word sequence counts each of its words.

Precision limits: a word list has no context. It flags quotations, reporting, medical and
biological texts, song lyrics and names that contain a listed word, and misses obfuscations it
does not list, other languages, and harm expressed in ordinary words. Use the signal to rank
and review, and set a drop threshold only after reading what it flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lakehouse.shingles import words

LEXICON_PACKAGE = "better_profanity"
LEXICON_FILE = "profanity_wordlist.txt"


@dataclass(frozen=True)
class Lexicon:
    """Single-word entries, and multi-word entries as word tuples."""

    words: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]


@lru_cache(maxsize=1)
def profanity_lexicon() -> Lexicon:
    """The better-profanity word list, cut into words the way documents are."""
    text = resources.files(LEXICON_PACKAGE).joinpath(LEXICON_FILE).read_text(encoding="utf-8")
    entries = [tuple(words(line)) for line in text.splitlines() if line.strip()]
    single = frozenset(entry[0] for entry in entries if len(entry) == 1)
    phrases = tuple(sorted({entry for entry in entries if len(entry) > 1}))
    return Lexicon(single, phrases)


def profanity_word_ratio(text: str, lexicon: Lexicon | None = None) -> float | None:
    """Share of the text's words that are lexicon words or part of a lexicon phrase, 0-1;
    None for a text without words."""
    lexicon = lexicon or profanity_lexicon()
    tokens = words(text)
    if not tokens:
        return None
    flagged = [token in lexicon.words for token in tokens]
    if lexicon.phrases:
        present = set(tokens)
        for phrase in lexicon.phrases:
            if not present.issuperset(phrase):
                continue
            size = len(phrase)
            for start in range(len(tokens) - size + 1):
                if tuple(tokens[start : start + size]) == phrase:
                    flagged[start : start + size] = [True] * size
    return sum(flagged) / len(tokens)
