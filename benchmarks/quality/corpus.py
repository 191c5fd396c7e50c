"""An evaluation corpus that the sample never saw, built deterministically from installed packages.

    python -m benchmarks.quality.corpus OUT.jsonl.gz [--seed 0]

Base documents (none of them comes from a source of `data/sample`):

- `package_docs` (reference prose): the long descriptions (README files) in the METADATA of the
  installed distributions, cut at blank lines into chunks of 80–400 words;
- `package_code` (code): the Python sources of a few installed third-party packages (not the
  standard library), cut at top-level statements into chunks of 80–400 words.

Chunks are kept only if no earlier chunk shares ≥ 20% of its word 5-gram shingles with them,
so the only duplicates are the planted ones, and only if they hold nothing that looks like a
contact or an address (an `@`, a 7+ digit run, a dotted quad, a `::`), so the only PII is the
planted PII. Then, from one seed:

- PII is planted into a share of the base documents in the formats of `PII_FORMATS`, in four
  languages, in three positions: inline (mid-sentence), at a sentence end (followed by `.`),
  and in a code comment; every span is labelled with kind, format and offsets;
- decoys that look like PII but are not (version strings, OIDs, dates, ISBNs, Luhn-invalid
  card numbers, numbered headings) are planted and labelled, so precision is measured;
- exact copies and near-duplicates at a known word 5-gram Jaccard (buckets 0.5–0.6 … 0.9–1.0)
  follow their original in landing order;
- junk pages of several kinds (`JUNK_KINDS`).

Each record: `doc_id`, `source`, `record`, `text`, `label` (clean | junk | exact_duplicate |
near_duplicate), `junk_kind`, `original` (doc_id of a duplicate's original), `jaccard` (exact,
of a duplicate with its original), `pii` and `decoys` (lists of `{kind, format, position,
start, end, value}`).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from lakehouse.shingles import shingles

SEED = 0
SHINGLE_SIZE = 5
MIN_WORDS, MAX_WORDS = 80, 400
MAX_OVERLAP = 0.2
# Third-party packages whose sources are the code documents: pure Python, not in the sample.
CODE_PACKAGES = ("click", "attr", "dateutil", "humanize", "tabulate", "fsspec", "markdown_it")
# Distributions left out of the prose: the project itself, and sources the sample uses.
EXCLUDED_DISTRIBUTIONS = {"funnel-lakehouse", "license-matcher"}
JACCARD_BUCKETS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0))
_LOOKS_PERSONAL = re.compile(r"@|\d[\d \-.()/]{5,}\d|\d+\.\d+\.\d+\.\d+|::|\+\d")


@dataclass
class Record:
    """One document of the corpus with its labels."""

    doc_id: str
    source: str
    text: str
    label: str = "clean"
    junk_kind: str | None = None
    original: str | None = None
    jaccard: float | None = None
    pii: list[dict[str, Any]] = field(default_factory=list)
    decoys: list[dict[str, Any]] = field(default_factory=list)


def jaccard(first: str, second: str) -> float:
    """Word 5-gram Jaccard similarity, with the dedup stage's own shingling."""
    a, b = shingles(first, SHINGLE_SIZE), shingles(second, SHINGLE_SIZE)
    return len(a & b) / len(a | b) if a | b else 1.0


def _chunks(paragraphs: list[str]) -> Iterator[str]:
    """Consecutive paragraphs packed into chunks of MIN_WORDS–MAX_WORDS words."""
    current: list[str] = []
    words = 0
    for paragraph in paragraphs:
        count = len(paragraph.split())
        if count > MAX_WORDS:
            continue
        if words + count > MAX_WORDS and words >= MIN_WORDS:
            yield "\n\n".join(current)
            current, words = [], 0
        current.append(paragraph)
        words += count
    if words >= MIN_WORDS:
        yield "\n\n".join(current)


def _package_docs() -> Iterator[tuple[str, str]]:
    distributions = sorted(
        importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()
    )
    seen: set[str] = set()
    for distribution in distributions:
        name = (distribution.metadata["Name"] or "").lower()
        if not name or name in seen or name in EXCLUDED_DISTRIBUTIONS:
            continue
        seen.add(name)
        body = distribution.metadata.get_payload() or ""  # type: ignore[attr-defined]
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        for chunk in _chunks(paragraphs):
            yield "package_docs", chunk


def _package_code() -> Iterator[tuple[str, str]]:
    import importlib.util

    for package in CODE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        root = Path(spec.origin).parent
        for path in sorted(root.rglob("*.py")):
            source = path.read_text(encoding="utf-8", errors="replace")
            blocks = re.split(r"\n(?=(?:def |class |@))", source)
            yield from (("package_code", chunk) for chunk in _chunks(blocks))


def base_documents(per_source: int | None = None) -> list[tuple[str, str]]:
    """(source, text) of the base documents: no shared 20% of shingles, nothing personal.

    `per_source` caps the documents taken from each source (a quick subset for tests).
    """
    kept: list[tuple[str, str]] = []
    owners: dict[tuple[str, ...], int] = {}
    taken: Counter[str] = Counter()
    for source, text in itertools.chain(_package_docs(), _package_code()):
        if per_source is not None and taken[source] >= per_source:
            if source == "package_code":
                break
            continue
        if _LOOKS_PERSONAL.search(text):
            continue
        grams = shingles(text, SHINGLE_SIZE)
        if not grams:
            continue
        shared: dict[int, int] = {}
        for gram in grams:
            if gram in owners:
                shared[owners[gram]] = shared.get(owners[gram], 0) + 1
        if shared and max(shared.values()) >= MAX_OVERLAP * len(grams):
            continue
        for gram in grams:
            owners.setdefault(gram, len(kept))
        kept.append((source, text))
        taken[source] += 1
    return kept


# --- PII ---------------------------------------------------------------------------------


def _luhn_complete(prefix: str, rng: random.Random, length: int) -> str:
    from spark_jobs.pii import luhn_valid

    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


def _valid_phone(rng: random.Random, region: str, kind: Any) -> phonenumbers.PhoneNumber:
    example = phonenumbers.example_number_for_type(region, kind)
    digits = str(example.national_number)
    while True:  # vary the subscriber digits until the number is valid again
        keep = max(3, len(digits) - 4)
        candidate = digits[:keep] + "".join(str(rng.randrange(10)) for _ in digits[keep:])
        number = phonenumbers.parse("+" + str(example.country_code) + candidate)
        if phonenumbers.is_valid_number(number):
            return number


def _phone(region: str, style: str) -> Callable[[random.Random], str]:
    fmt = phonenumbers.PhoneNumberFormat
    mobile = phonenumbers.PhoneNumberType.MOBILE
    fixed = phonenumbers.PhoneNumberType.FIXED_LINE

    def make(rng: random.Random) -> str:
        number = _valid_phone(rng, region, mobile if rng.random() < 0.5 else fixed)
        national = phonenumbers.format_number(number, fmt.NATIONAL)
        international = phonenumbers.format_number(number, fmt.INTERNATIONAL)
        e164 = phonenumbers.format_number(number, fmt.E164)
        digits = str(number.national_number)
        return {
            "international": international,
            "national": national,
            "e164": e164,
            "idd_00": "00" + international[1:],
            "us_dotted": f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
            "us_dashed_1": f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}",
            "fr_dotted": national.replace(" ", "."),
        }[style]

    return make


def _ipv4(rng: random.Random) -> str:
    first = rng.choice([10, 172, 192, 203, 198, 81, 62, 145])
    return ".".join(
        str(x) for x in (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    )


def _ipv6(rng: random.Random, compressed: bool) -> str:
    groups = [f"{rng.randrange(1 << 16):x}" for _ in range(4)]
    if compressed:
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[3]
    return "2001:0db8:" + ":".join(f"{rng.randrange(1 << 16):04x}" for _ in range(6))


def _email(rng: random.Random, style: str) -> str:
    user = rng.choice(["jane.doe", "m.mueller", "l.martin", "j.garcia", "ops", "k.tanaka"])
    domain = rng.choice(["example.org", "mail.example.com", "beispiel.de", "exemple.fr"])
    if style == "plus":
        user += f"+{rng.choice(['news', 'git', 'bugs'])}"
    if style == "upper":
        return f"{user}@{domain}".upper()
    return f"{user}@{domain}"


def _card(rng: random.Random, style: str) -> str:
    if style == "amex":
        number = _luhn_complete(rng.choice(["34", "37"]), rng, 15)
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    number = _luhn_complete(rng.choice(["4", "51", "55"]), rng, 16)
    if style == "plain":
        return number
    separator = " " if style == "spaced" else "-"
    return separator.join(number[i : i + 4] for i in range(0, 16, 4))


PII_FORMATS: dict[str, dict[str, Callable[[random.Random], str]]] = {
    "email": {
        "plain": lambda rng: _email(rng, "plain"),
        "plus": lambda rng: _email(rng, "plus"),
        "upper": lambda rng: _email(rng, "upper"),
    },
    "phone": {
        "us_national": _phone("US", "national"),
        "us_international": _phone("US", "international"),
        "us_dotted": _phone("US", "us_dotted"),
        "us_dashed_1": _phone("US", "us_dashed_1"),
        "de_national": _phone("DE", "national"),
        "de_international": _phone("DE", "international"),
        "de_idd_00": _phone("DE", "idd_00"),
        "fr_national": _phone("FR", "national"),
        "fr_dotted": _phone("FR", "fr_dotted"),
        "fr_international": _phone("FR", "international"),
        "gb_national": _phone("GB", "national"),
        "gb_international": _phone("GB", "international"),
        "es_national": _phone("ES", "national"),
        "es_e164": _phone("ES", "e164"),
    },
    "ipv4": {"dotted": _ipv4},
    "ipv6": {
        "compressed": lambda rng: _ipv6(rng, True),
        "full": lambda rng: _ipv6(rng, False),
    },
    "credit_card": {
        "spaced": lambda rng: _card(rng, "spaced"),
        "dashed": lambda rng: _card(rng, "dashed"),
        "plain": lambda rng: _card(rng, "plain"),
        "amex": lambda rng: _card(rng, "amex"),
    },
}

# {} is the value. Inline: mid-sentence; sentence_end: the value ends the sentence.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "inline": {
        "en": ["Please write to {} if the build fails on your machine.", "The host {} runs it."],
        "de": ["Bitte wenden Sie sich an {} bei Fragen zur Installation.", "Rufen Sie {} an."],
        "fr": ["Contactez {} pour toute question sur la licence.", "Le serveur {} répond."],
        "es": ["Escriba a {} si la instalación falla.", "El servidor {} responde."],
    },
    "sentence_end": {
        "en": ["For support, reach us at {}.", "Questions go to {}."],
        "de": ["Bei Fragen erreichen Sie uns unter {}.", "Kontakt: {}."],
        "fr": ["Pour toute question, appelez le {}.", "Notre contact est {}."],
        "es": ["Para soporte, llame al {}.", "Nuestro contacto es {}."],
    },
    "code_comment": {
        "en": ["# maintainer contact: {}", "    # see {} for the staging host"],
        "de": ["# Ansprechpartner: {}", "// Kontakt {}"],
        "fr": ["# contact du mainteneur : {}", "/* serveur {} */"],
        "es": ["# contacto: {}", "// servidor {}"],
    },
}

DECOYS: dict[str, list[str]] = {
    "version": ["version 1.2.3.4", "Version: 2.10.0.1", "upgrade to v4.1.2.8", "pkg==1.2.3.4"],
    "oid": ["OID 1.3.6.1.4.1.311", "the OID 2.5.4.3 names the common name"],
    "this_network": ["numpy 0.20.1.124", "build 0.9.12.7"],
    "date": ["released on 2024-01-15", "am 15.01.2024 veröffentlicht", "le 15/01/2024"],
    "isbn": ["ISBN 0-201-61633-5", "ISBN 978-3-16-148410-0"],
    "luhn_invalid": ["order 4539 5787 6362 1487", "ref 4000-1234-5678-9011"],
    "heading": ["\n2.1.3.2. Source Code Form"],
    "ratio": ["a ratio of 0.9468822170900693"],
}


def _insert_at_paragraph(text: str, addition: str, rng: random.Random) -> tuple[str, int, int]:
    """`text` with `addition` as its own paragraph at a random boundary.

    Also the boundary (where later text starts to move) and the addition's offset.
    """
    boundaries = [0] + [m.end() for m in re.finditer(r"\n\n", text)] + [len(text)]
    at = rng.choice(boundaries)
    prefix = text[:at]
    if prefix and not prefix.endswith("\n\n"):
        prefix += "\n\n"
    suffix = text[at:]
    if suffix and not suffix.startswith("\n"):
        addition += "\n\n"
    return prefix + addition + suffix, at, len(prefix)


def plant_pii(record: Record, rng: random.Random, plants: int) -> None:
    """Plant `plants` PII strings and one decoy into `record.text`, labelling their spans."""
    for _ in range(plants):
        kind = rng.choice(sorted(PII_FORMATS))
        style = rng.choice(sorted(PII_FORMATS[kind]))
        value = PII_FORMATS[kind][style](rng)
        position = rng.choice(sorted(TEMPLATES))
        language = rng.choice(["en", "de", "fr", "es"])
        template = rng.choice(TEMPLATES[position][language])
        sentence = template.format(value)
        before = len(record.text)
        record.text, at, offset = _insert_at_paragraph(record.text, sentence, rng)
        start = offset + template.index("{}")
        _shift(record, at, len(record.text) - before)
        record.pii.append(
            {
                "kind": kind,
                "format": style,
                "position": position,
                "language": language,
                "start": start,
                "end": start + len(value),
                "value": value,
            }
        )
    decoy_kind = rng.choice(sorted(DECOYS))
    decoy = rng.choice(DECOYS[decoy_kind])
    before = len(record.text)
    record.text, at, offset = _insert_at_paragraph(record.text, decoy, rng)
    _shift(record, at, len(record.text) - before)
    record.decoys.append(
        {"kind": decoy_kind, "start": offset, "end": offset + len(decoy), "value": decoy}
    )


def _shift(record: Record, offset: int, by: int) -> None:
    """Move labelled spans at or after `offset`: text of `by` characters was inserted there."""
    for span in [*record.pii, *record.decoys]:
        if span["start"] >= offset:
            span["start"] += by
            span["end"] += by
    for span in [*record.pii, *record.decoys]:
        assert record.text[span["start"] : span["end"]] == span["value"], span


# --- duplicates --------------------------------------------------------------------------


def near_duplicate(text: str, low: float, high: float, rng: random.Random) -> tuple[str, float]:
    """A copy of `text` edited word by word until its Jaccard with `text` is in [low, high)."""
    vocabulary = sorted(set(text.split()))
    for _ in range(50):
        target = rng.uniform(low, high)
        words = text.split(" ")
        copy = text
        for _ in range(len(words)):
            position = rng.randrange(len(words))
            words[position] = rng.choice(vocabulary) + rng.choice(["", "s", "ed", "x"])
            copy = " ".join(words)
            similarity = jaccard(text, copy)
            if similarity < target:
                break
        if low <= similarity < high:
            return copy, similarity
    raise RuntimeError(f"no near-duplicate in [{low}, {high}) after 50 tries")


# --- junk --------------------------------------------------------------------------------

_COOKIE_LINES = [
    "We use cookies to improve your experience. By continuing you accept our cookie policy.",
    "Please enable JavaScript in your browser to view this site.",
    "Accept all cookies | Reject | Manage preferences",
    "window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);}",
    "This site uses cookies for analytics and personalised content.",
    "Privacy Policy | Terms of Use | Cookie Settings",
]
_FILLER = [
    "Welcome to our website and thank you for visiting today",
    "Check out our latest offers and news from our team",
    "Stay tuned for more updates coming soon to this page",
    "Click here to learn more about what we do for you",
    "Sign up now and get the best deals delivered to you",
]
_NAV = ["Home", "About", "Products", "Blog", "Contact", "Login", "Sign up", "FAQ", "Careers"]
_LOREM = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "ut",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "ut",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "dolor",
    "in",
    "reprehenderit",
]
_SPAM_WORDS = ["cheap", "best", "buy", "watches", "online", "discount", "free", "shipping", "sale"]


def _cookie_js(rng: random.Random) -> str:
    lines = [rng.choice(_COOKIE_LINES) for _ in range(rng.randrange(6, 14))]
    lines += [rng.choice(_FILLER) + "." for _ in range(rng.randrange(4, 9))]
    rng.shuffle(lines)
    return "\n".join(lines)


def _keyword_spam(rng: random.Random) -> str:
    return " ".join(rng.choice(_SPAM_WORDS) for _ in range(rng.randrange(150, 300)))


def _lorem_ipsum(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randrange(10, 25)):
        words = [rng.choice(_LOREM) for _ in range(rng.randrange(8, 16))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def _navigation(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randrange(15, 30)):
        lines.append(" | ".join(rng.sample(_NAV, rng.randrange(3, 7))))
    lines.append("Copyright © 2024 All rights reserved.")
    return "\n".join(lines)


_BANNERS = [
    "This website uses cookies to ensure you get the best experience on our website",
    "We and our partners use cookies to personalise content and ads",
    "Please enable JavaScript to use all features of this page",
    "By using this site you agree to our Terms of Use and Privacy Policy",
    "Manage your cookie preferences at any time from the footer",
]
_FILLER_SENTENCES = [
    "We are so happy that you found your way to our little corner of the web.",
    "Our team has been working hard to bring you the best of what we have to offer.",
    "There is always something new to discover, so be sure to come back often.",
    "If you have any questions, our friendly staff will be glad to help you out.",
    "Thank you for being part of our growing community of happy customers.",
    "We believe that every visit should be a pleasant one, and we hope you agree.",
    "The best way to stay in touch with us is to follow the news on this page.",
    "All of our products are made with care and with the needs of our users in mind.",
]


def _cookie_filler(rng: random.Random) -> str:
    """A crawled page whose script, cookie and menu lines outweigh its text: once C4's line
    rules strip them, the few filler sentences left pass every other rule."""
    lines = [" ".join(rng.sample(_NAV, 2)) for _ in range(rng.randrange(6, 12))]
    lines += [
        f"{rng.choice(_BANNERS)} ({rng.randrange(10_000)})." for _ in range(rng.randrange(6, 10))
    ]
    lines.append(" ".join(rng.sample(_FILLER_SENTENCES, rng.randrange(5, 8))))
    rng.shuffle(lines)
    return "\n".join(lines)


def _minified_code(rng: random.Random) -> str:
    """Minified JavaScript: a few thousand characters on one line (The Stack's long lines)."""
    names = ["a", "b", "c", "e", "t", "n", "r", "i", "o", "s"]
    parts = [
        f"function {rng.choice(names)}{index}({rng.choice(names)}){{return "
        f"{rng.choice(names)}.{rng.choice(['map', 'filter', 'push'])}({index})}}"
        for index in range(rng.randrange(60, 120))
    ]
    return "/*! bundle */\n" + ";".join(parts)


def _symbol_code(rng: random.Random) -> str:
    """A source file that is mostly symbols: banner art and encoded tables (low alphanumerics)."""
    lines = ["# " + "".join(rng.choice("=-*#+~<>|/\\") for _ in range(70)) for _ in range(25)]
    lines.insert(
        rng.randrange(len(lines)),
        "TABLE = '" + "".join(rng.choice("!#$%&*+-") for _ in range(60)) + "'",
    )
    return "\n".join(lines)


def _generated_code(rng: random.Random) -> str:
    """A generated source file, marked as such in its first lines (StarCoder's markers)."""
    header = [
        "# -*- coding: utf-8 -*-",
        "# Generated by the protocol buffer compiler.  DO NOT EDIT!",
        f"# source: service_{rng.randrange(1000)}.proto",
    ]
    body = [
        f"class Message{index}(object):\n    def __init__(self, field_{index}=None):\n"
        f"        self.field_{index} = field_{index}\n"
        for index in range(rng.randrange(8, 16))
    ]
    return "\n".join(header) + "\n\n" + "\n".join(body)


JUNK_KINDS: dict[str, Callable[[random.Random], str]] = {
    "cookie_js": _cookie_js,
    "keyword_spam": _keyword_spam,
    "lorem_ipsum": _lorem_ipsum,
    "navigation": _navigation,
    "filler_cookie": _cookie_filler,
    "minified_code": _minified_code,
    "symbol_code": _symbol_code,
    "generated_code": _generated_code,
}
# Junk that poses as source code lands as a code source (judged by the code rule profile);
# the other junk as a web source.
CODE_JUNK_KINDS = frozenset({"minified_code", "symbol_code", "generated_code"})


# --- the corpus --------------------------------------------------------------------------


def build(
    seed: int = SEED,
    pii_share: float = 0.6,
    exact_copies: int = 60,
    near_per_bucket: int = 40,
    junk_per_kind: int = 50,
    per_source: int | None = None,
) -> list[Record]:
    """The corpus in landing order (an original always lands before its copies)."""
    rng = random.Random(seed)
    bases = base_documents(per_source)
    records = [
        Record(doc_id=f"q{index:05d}", source=source, text=text)
        for index, (source, text) in enumerate(bases)
    ]
    for record in records:
        if rng.random() < pii_share:
            plant_pii(record, rng, plants=rng.randrange(2, 9))
    originals = [r for r in records if not r.pii]  # duplicates of PII-free documents only
    rng.shuffle(originals)
    extra: list[Record] = []
    for index, original in enumerate(originals[:exact_copies]):
        extra.append(
            Record(
                doc_id=f"x{index:05d}",
                source=original.source,
                text=original.text,
                label="exact_duplicate",
                original=original.doc_id,
                jaccard=1.0,
            )
        )
    cursor = exact_copies
    for low, high in JACCARD_BUCKETS:
        for _ in range(near_per_bucket):
            original = originals[cursor % len(originals)]
            cursor += 1
            text, similarity = near_duplicate(original.text, low, high, rng)
            extra.append(
                Record(
                    doc_id=f"n{len(extra):05d}",
                    source=original.source,
                    text=text,
                    label="near_duplicate",
                    original=original.doc_id,
                    jaccard=similarity,
                )
            )
    for kind, make in JUNK_KINDS.items():
        for index in range(junk_per_kind):
            extra.append(
                Record(
                    doc_id=f"j{kind[:2]}{index:04d}",
                    source="junk_code" if kind in CODE_JUNK_KINDS else "junk",
                    text=make(rng),
                    label="junk",
                    junk_kind=kind,
                )
            )
    return records + extra


def write(records: list[Record], path: Path) -> None:
    """The corpus as gzip JSON lines, one record each, in landing order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for index, record in enumerate(records):
            row = {"record": index} | record.__dict__
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build the corpus into the given file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    records = build(args.seed)
    write(records, args.out)
    print(f"{len(records)} documents → {args.out}")


if __name__ == "__main__":
    main()
