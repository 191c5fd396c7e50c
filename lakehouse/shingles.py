"""Words and word n-gram shingles: the one definition near-duplicate detection uses everywhere
(the MinHash operator in spark_jobs, SemDeDup's lexical confirmation in gpu_jobs, the tests and
benchmarks that check them).
"""

from __future__ import annotations

import re

# Runs of Unicode letters and digits; the vectorized MinHash path implements the same rule.
WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The lower-cased words of one text (runs of Unicode letters and digits)."""
    return WORD.findall(text.lower())


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    """The set of word n-gram shingles of one text; a text shorter than `size` words is one
    shingle of all its words."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < size:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
