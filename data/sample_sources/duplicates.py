"""Natural near-duplicate removal across the clean sources, and planted near duplicates."""

from __future__ import annotations

import heapq
import random
import re
import zlib
from collections import Counter, defaultdict

from sample_sources.common import Doc, jaccard, shingles
from sample_sources.web_crawl import NAV, site, wrap_page

NEAR_DUP_RANGE = (0.70, 0.95)


def sketch(text: str, k: int = 24) -> tuple[set[str], list[int]]:
    """Return the shingle set and a bottom-``k`` hash sketch of ``text``."""
    sh = shingles(text)
    hashes = heapq.nsmallest(k, {zlib.crc32(s.encode()) for s in sh})
    return sh, hashes


def similar_pairs(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """Return index pairs ``(i, j, J)`` with ``i < j`` whose 5-gram Jaccard is >= ``threshold``.

    Candidates are found with a bottom-k sketch index and then verified exactly.
    """
    sets: list[set[str]] = []
    index: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(texts):
        sh, hs = sketch(t)
        sets.append(sh)
        for h in hs:
            index[h].append(i)
    counts: Counter[tuple[int, int]] = Counter()
    for members in index.values():
        if len(members) > 300:
            continue
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                counts[(members[a], members[b])] += 1
    out = []
    for (i, j), c in sorted(counts.items()):
        if c < 3:
            continue
        jac = jaccard(sets[i], sets[j])
        if jac >= threshold:
            out.append((i, j, jac))
    return out


def drop_natural_duplicates(docs: list[Doc]) -> list[Doc]:
    """Drop exact duplicates and natural near-duplicates (5-gram Jaccard >= 0.6), keep first."""
    seen: set[str] = set()
    unique: list[Doc] = []
    for d in docs:
        if d.text not in seen:
            seen.add(d.text)
            unique.append(d)
    drop: set[int] = set()
    for i, j, _ in similar_pairs([d.text for d in unique], 0.6):
        if i not in drop:
            drop.add(j)
    return [d for k, d in enumerate(unique) if k not in drop]


def perturb(rng: random.Random, text: str, n_edits: int, vocab: list[str]) -> str:
    """Apply ``n_edits`` word substitutions/deletions/insertions and whitespace noise."""
    toks = re.split(r"(\s+)", text)
    idx = [i for i, t in enumerate(toks) if t and not t.isspace()]
    for i in rng.sample(idx, min(n_edits, len(idx))):
        op = rng.random()
        if op < 0.6:
            toks[i] = rng.choice(vocab)
        elif op < 0.8:
            toks[i] = ""
        else:
            toks[i] = toks[i] + " " + rng.choice(vocab)
    out = "".join(toks)
    if rng.random() < 0.5:
        out = re.sub(r"\n{2,}", lambda m: "\n" * rng.choice([1, 2, 3]), out)
    if rng.random() < 0.3:
        out = out.replace(". ", ".  ")
    return out.strip() + rng.choice(["", "\n", " "])


def make_near_dup(rng: random.Random, orig: Doc) -> tuple[str, float] | None:
    """Return ``(text, jaccard)`` for a near-duplicate of ``orig`` within ``NEAR_DUP_RANGE``."""
    base = shingles(orig.text)
    n = len(base)
    if n < 60:
        return None
    vocab = sorted({w for w in orig.text.split() if w.isalpha()}) or ["the"]
    target = rng.uniform(0.72, 0.93)
    edits = max(1, round(n * (1 - target) / (1 + target) / 5))
    lang = orig.lang if orig.lang in NAV else "en"
    for _ in range(12):
        body = perturb(rng, orig.text, edits, vocab)
        if rng.random() < 0.5:
            host = site(rng)
            body = wrap_page(rng, body, lang, host, orig.title or body.split("\n", 1)[0][:80])
        jac = jaccard(base, shingles(body))
        if NEAR_DUP_RANGE[0] <= jac <= NEAR_DUP_RANGE[1] and body != orig.text:
            return body, jac
        edits = max(1, round(edits * (0.7 if jac < NEAR_DUP_RANGE[0] else 1.4)))
    return None
