"""The sample's `manpages_<lang>` sources: Debian's manual pages rendered by mandoc."""

from __future__ import annotations

import gzip
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sample_sources.common import MIN_WORDS, Doc, pkg_files, split_blocks, words

CREDIT_HEADINGS = {"ÜBERSETZUNG", "TRADUCTION", "TRADUCCIÓN"}


def render_man(path: Path) -> str | None:
    """Render one man page to plain UTF-8 text with mandoc; ``None`` for stubs or failures."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    head = raw[:400].decode("utf-8", "replace")
    if any(line.startswith(".so ") for line in head.splitlines()[:5]) and len(raw) < 400:
        return None
    proc = subprocess.run(
        ["mandoc", "-T", "utf8", "-O", "width=78"],
        input=raw,
        capture_output=True,
        check=False,
    )
    text = proc.stdout.decode("utf-8", "replace")
    text = re.sub(r".\x08", "", text)
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text or None


def man_sections(text: str) -> list[str]:
    """Split rendered man-page text at top-level section headings (unindented lines)."""
    lines = text.split("\n")
    sections: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        if i > 0 and line and not line[0].isspace() and i < len(lines) - 1:
            sections.append([])
        sections[-1].append(line)
    # the last unindented line is the page footer: keep it attached to the last section.
    # Translator-credit sections of translated pages (names and e-mail addresses) are dropped.
    return [
        "\n".join(s).strip("\n")
        for s in sections
        if any(x.strip() for x in s) and s[0].strip() not in CREDIT_HEADINGS
    ]


def collect_manpages(source: str, lang: str, pkgs: list[str]) -> list[Doc]:
    """Render every man page of ``pkgs`` and cut long pages at section boundaries."""
    paths = [p for p in pkg_files(*pkgs) if "/man/" in str(p) and p.name.endswith(".gz")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        rendered = list(pool.map(render_man, paths))
    docs: list[Doc] = []
    for path, text in zip(paths, rendered, strict=True):
        if not text:
            continue
        name = path.name[: -len(".gz")]
        for part, chunk in enumerate(split_blocks(man_sections(text), "\n\n", max_words=1500)):
            if words(chunk) < MIN_WORDS:
                continue
            key = f"{name}#{part}" if part else name
            docs.append(Doc(source, "reference", lang, key, chunk, title=name))
    return docs
