"""Shared pieces of the sample builder: paths, sizes, the document model, word helpers."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1] / "sample"
LANDING = ROOT / "landing"
GROUND_TRUTH = ROOT / "ground_truth.jsonl.gz"
MIN_WORDS = 80
MAX_WORDS = 3000

#: Per-source caps on the number of clean documents kept (keeps the sample under 20 MB).
CAPS: dict[str, int] = {
    "manpages_en": 3600,
    "manpages_de": 2200,
    "manpages_fr": 1500,
    "manpages_es": 1100,
    "fortunes_en": 2300,
    "fortunes_de": 2000,
    "fortunes_es": 900,
    "stdlib_python": 2400,
    "licenses": 900,
}
SOURCE_DOMAIN: dict[str, str] = {
    "manpages_en": "reference",
    "manpages_de": "reference",
    "manpages_fr": "reference",
    "manpages_es": "reference",
    "fortunes_en": "prose",
    "fortunes_de": "prose",
    "fortunes_es": "prose",
    "stdlib_python": "code",
    "licenses": "legal",
    "web_crawl": "web",
}
WORD_RE = re.compile(r"\w+")


@dataclass
class Span:
    """A labelled character span inside a document's text."""

    kind: str
    start: int
    end: int
    value: str
    planted: bool = True

    def to_json(self) -> dict[str, Any]:
        """Return the ground-truth representation of the span."""
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "planted": self.planted,
        }


@dataclass
class Doc:
    """One landing document plus its ground-truth labels."""

    source: str
    domain: str
    lang: str
    key: str
    text: str
    title: str | None = None
    url: str | None = None
    junk: str | None = None
    exact_of: Doc | None = None
    near_of: Doc | None = None
    pii: list[Span] = field(default_factory=list)
    not_pii: list[Span] = field(default_factory=list)
    doc_id: str = ""
    file: str = ""
    record: int = -1


def words(text: str) -> int:
    """Return the whitespace word count of ``text``."""
    return len(text.split())


def shingles(text: str, n: int = 5) -> set[str]:
    r"""Return the set of lower-cased word ``n``-gram shingles (tokens are ``\w+`` runs)."""
    toks = WORD_RE.findall(text.lower())
    if len(toks) < n:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Return the Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def pkg_version(pkg: str) -> str:
    """Return the installed Debian version of ``pkg``."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def pkg_files(*pkgs: str) -> list[Path]:
    """Return the sorted regular (non-symlink) files installed by the Debian packages."""
    out = subprocess.run(["dpkg", "-L", *pkgs], capture_output=True, text=True, check=True)
    files = {Path(line) for line in out.stdout.splitlines() if line.strip()}
    return sorted(p for p in files if p.is_file() and not p.is_symlink())


def explode(block: str, max_words: int) -> list[str]:
    """Cut an oversized block at blank lines, then at line breaks, into pieces <= ``max_words``.

    A single line longer than ``max_words`` is kept whole.
    """
    if words(block) <= max_words:
        return [block]
    for sep in ("\n\n", "\n"):
        parts = [p for p in block.split(sep) if p.strip()]
        if len(parts) > 1:
            out: list[str] = []
            cur: list[str] = []
            n = 0
            for part in parts:
                w = words(part)
                if cur and n + w > max_words:
                    out.append(sep.join(cur))
                    cur, n = [], 0
                cur.append(part)
                n += w
            out.append(sep.join(cur))
            return [x for o in out for x in explode(o, max_words)]
    return [block]


def split_blocks(blocks: list[str], sep: str, max_words: int = MAX_WORDS) -> list[str]:
    """Greedily join ``blocks`` into chunks of at most ``max_words`` words each.

    Oversized blocks are first cut with :func:`explode`; a trailing chunk shorter than
    ``MIN_WORDS`` is merged into the previous chunk.
    """
    blocks = [piece for b in blocks for piece in explode(b, max_words)]
    chunks: list[list[str]] = []
    cur: list[str] = []
    n = 0
    for b in blocks:
        w = words(b)
        if cur and n + w > max_words:
            chunks.append(cur)
            cur, n = [], 0
        cur.append(b)
        n += w
    if cur:
        if chunks and n < MIN_WORDS:
            chunks[-1].extend(cur)
        else:
            chunks.append(cur)
    return [sep.join(c) for c in chunks]
