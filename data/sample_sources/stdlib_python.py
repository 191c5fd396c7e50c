"""The sample's `stdlib_python` source: CPython's standard library, cut at top-level statements."""

from __future__ import annotations

import ast
import re
from itertools import pairwise
from pathlib import Path

from sample_sources.common import MIN_WORDS, Doc, split_blocks, words


def collect_stdlib(stdlib: Path) -> list[Doc]:
    """Cut standard-library modules into documents at top-level statement boundaries."""
    skip = re.compile(r"(^|/)(test|tests|idle_test|site-packages|__pycache__)(/|$)")
    docs: list[Doc] = []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib).as_posix()
        if skip.search(rel):
            continue
        try:
            src = path.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines = src.split("\n")
        starts = [0]
        for node in tree.body[1:]:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            starts.append(first - 1)
        starts.append(len(lines))
        blocks = ["\n".join(lines[a:b]).strip("\n") for a, b in pairwise(starts)]
        blocks = [b for b in blocks if b.strip()]
        for part, chunk in enumerate(split_blocks(blocks, "\n\n\n", max_words=900)):
            if words(chunk) >= MIN_WORDS:
                key = f"{rel}#{part}" if part else rel
                docs.append(Doc("stdlib_python", "code", "en", key, chunk + "\n", title=rel))
    return docs
