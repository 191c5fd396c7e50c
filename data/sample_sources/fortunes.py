"""The sample's `fortunes_<lang>` sources: Debian's fortune-cookie files."""

from __future__ import annotations

import random
import re
from pathlib import Path

from sample_sources.common import MIN_WORDS, Doc, pkg_files, words

FORTUNE_EXCLUDE = {"ascii-art", "asciiart", "ethnic", "translate-me", "varios.fortunes-pre"}


def read_fortunes(path: Path) -> list[str]:
    """Return the cookies of one strfile-format fortune file."""
    text = path.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    entries = re.split(r"^%\s*$", text, flags=re.MULTILINE)
    out = []
    for e in entries:
        e = "\n".join(line.rstrip() for line in e.strip("\n").split("\n")).strip()
        if e:
            out.append(e)
    return out


def collect_fortunes(source: str, lang: str, pkgs: list[str], rng: random.Random) -> list[Doc]:
    """Group consecutive cookies of each collection into pages of roughly 90-350 words."""
    docs: list[Doc] = []
    for path in pkg_files(*pkgs):
        if "/games/fortunes" not in str(path) or path.suffix in {".dat", ".u8"}:
            continue
        if "/off/" in str(path) or path.name in FORTUNE_EXCLUDE or path.name.endswith("-pre"):
            continue
        collection = path.name.removesuffix(".fortunes")
        cookies = read_fortunes(path)
        page: list[str] = []
        target = rng.randint(90, 350)
        pages: list[list[str]] = []
        for c in cookies:
            page.append(c)
            if sum(words(x) for x in page) >= target:
                pages.append(page)
                page, target = [], rng.randint(90, 350)
        if page:
            if pages and sum(words(x) for x in page) < MIN_WORDS:
                pages[-1].extend(page)
            else:
                pages.append(page)
        for i, pg in enumerate(pages):
            text = "\n\n".join(pg)
            if words(text) >= MIN_WORDS:
                docs.append(Doc(source, "prose", lang, f"{collection}/{i:04d}", text, collection))
    return docs
