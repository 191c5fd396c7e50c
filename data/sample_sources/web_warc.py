"""The sample's `web_pages` source: a small crawl as a WARC file, built from the sample's text.

`landing/web_pages/crawl-00000.warc.gz` holds a warcinfo record, then for each page a request
and a response record (one gzip member each, as crawlers write them). The pages are the text
of sample documents (fortunes, licences, manual pages) dressed as three sites: navigation,
cookie banner and footer around the article, and inside the article the lines real sites
repeat on every page ("Share this article…", "Subscribe to our newsletter…"), which main-content
extraction keeps and only cross-document boilerplate removal takes out.

Planted problems, each with the quarantine reason or rule it should meet: an image, a 404, a
redirect, a page whose bytes are not in its declared charset, a payload that is no HTTP
message, pages on a blocked domain and with a banned word in the URL (the default recipe's URL
rules), an FTP URL, and a last record cut short (a truncated gzip member).

Deterministic: record ids, dates and gzip headers come from the seed, never from the clock.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastwarc.warc import WarcRecord, WarcRecordType

SEED = 20261001
PAGES = 120
CRAWL_START = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
SITES = (
    ("riverside-gazette.example", "Riverside Gazette"),
    ("kitchen-notes.example", "Kitchen Notes"),
    ("open-docs.example", "Open Docs"),
)
# Lines inside the article that every page of every site repeats: extraction keeps them.
SHARED_ARTICLE_LINES = (
    "Share this article with your friends on Facebook, Twitter or by email.",
    "Subscribe to our newsletter and get the best stories delivered every week.",
)
# Where the texts come from: English prose first, then other languages.
TEXT_SOURCES = (
    ("fortunes_en", 70),
    ("licenses", 20),
    ("fortunes_de", 10),
    ("fortunes_es", 8),
    ("manpages_fr", 6),
    ("manpages_de", 6),
)
BLOCKED_DOMAIN = "spam-farm.example"
BANNED_WORD_PATH = "/best-casino-bonus-offers"


def _texts(landing: Path, rng: random.Random) -> list[tuple[str, str]]:
    """(source, text) of sample documents with 60 to 600 words, drawn per source in file order."""
    chosen: list[tuple[str, str]] = []
    for source, count in TEXT_SOURCES:
        candidates = []
        for path in sorted((landing / source).glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    text = json.loads(line)["text"]
                    if 60 <= len(text.split()) <= 600:
                        candidates.append(text)
        chosen += [(source, text) for text in rng.sample(candidates, count)]
    return chosen


def _page(site: tuple[str, str], title: str, text: str, lang: str) -> str:
    host, name = site
    paragraphs = [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]
    body = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    shared = "".join(f"<p>{line}</p>" for line in SHARED_ARTICLE_LINES)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} | {name}</title></head><body>"
        f'<header><a href="https://{host}/">{name}</a><nav><ul><li><a href="/">Home</a></li>'
        '<li><a href="/latest">Latest</a></li><li><a href="/archive">Archive</a></li>'
        '<li><a href="/about">About</a></li></ul></nav></header>'
        '<div class="cookie-banner">We use cookies to give you the best experience. '
        "<button>Accept</button><button>Decline</button></div>"
        f"<main><article><h1>{html.escape(title)}</h1>{body}{shared}</article></main>"
        f"<footer><p>© 2026 {name}. All rights reserved.</p>"
        '<a href="/privacy">Privacy</a> · <a href="/imprint">Imprint</a></footer>'
        "</body></html>"
    )


def _member(
    rng: random.Random,
    record_type: WarcRecordType,
    url: str,
    when: datetime,
    content: bytes,
    content_type: str,
) -> bytes:
    """One WARC record gzipped as its own member, with a seeded record id and no timestamp."""
    record = WarcRecord()
    # FastWARC writes the id as `<urn:{record_urn}>`.
    urn = f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    record.init_headers(record_type, urn.encode())
    if url:
        record.headers["WARC-Target-URI"] = url
    record.headers["WARC-Date"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    record.set_bytes_content(content)
    record.headers["Content-Type"] = content_type
    buffer = io.BytesIO()
    record.write(buffer, checksum_data=True)
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)


def _http(body: bytes, content_type: str, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _exchange(rng: random.Random, url: str, when: datetime, response: bytes) -> list[bytes]:
    """The request record and the response record of one fetch."""
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    host = url.split("/")[2] if url.count("/") >= 2 else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: funnel-sample\r\n\r\n"
    return [
        _member(
            rng,
            WarcRecordType.request,
            url,
            when,
            request.encode(),
            "application/http; msgtype=request",
        ),
        _member(
            rng,
            WarcRecordType.response,
            url,
            when,
            response,
            "application/http; msgtype=response",
        ),
    ]


def build_web_warc(landing: Path, folder: Path | None = None) -> Path:
    """Write `crawl-00000.warc.gz` from the sample's texts under `landing`; return its path.

    The file goes to `folder`, by default `landing/web_pages`.
    """
    rng = random.Random(SEED)
    texts = _texts(landing, rng)
    rng.shuffle(texts)
    members = [
        _member(
            rng,
            WarcRecordType.warcinfo,
            "",
            CRAWL_START,
            b"software: funnel data/build_sample.py\r\nformat: WARC File Format 1.1\r\n",
            "application/warc-fields",
        )
    ]
    when = CRAWL_START
    languages = {"fortunes_de": "de", "manpages_de": "de", "fortunes_es": "es"}
    languages["manpages_fr"] = "fr"
    for index, (source, text) in enumerate(texts[:PAGES]):
        when += timedelta(seconds=rng.randint(1, 90))
        site = SITES[index % len(SITES)]
        title = " ".join(text.split()[:6]).strip(".,;:")
        url = f"https://www.{site[0]}/{index:04d}-{source.replace('_', '-')}"
        if index == 7:
            url = f"https://www.{BLOCKED_DOMAIN}/cheap-pills"
        elif index == 11:
            url = f"https://www.{site[0]}{BANNED_WORD_PATH}"
        elif index == 13:
            url = f"ftp://files.{site[0]}/mirror/page-{index}.html"
        page = _page(site, title, text, languages.get(source, "en")).encode("utf-8")
        members += _exchange(rng, url, when, _http(page, "text/html; charset=utf-8"))
    problems = [
        (
            "https://www.riverside-gazette.example/logo.png",
            _http(b"\x89PNG\r\n\x1a\n", "image/png"),
        ),
        (
            "https://www.kitchen-notes.example/old-page",
            _http(b"<p>Not here</p>", "text/html", "404 Not Found"),
        ),
        (
            "https://www.open-docs.example/moved",
            _http(b"", "text/html", "301 Moved Permanently", "Location: /new\r\n"),
        ),
        (
            "https://www.kitchen-notes.example/crepes",
            _http("Crêpes à la crème, voilà".encode("latin-1"), "text/html; charset=utf-8"),
        ),
        ("https://www.open-docs.example/broken", b"\x00\x01 this payload is no HTTP message"),
    ]
    for url, response in problems:
        when += timedelta(seconds=rng.randint(1, 90))
        members += _exchange(rng, url, when, response)
    last = texts[PAGES] if len(texts) > PAGES else texts[0]
    when += timedelta(seconds=30)
    cut = _exchange(
        rng,
        "https://www.riverside-gazette.example/last-page",
        when,
        _http(_page(SITES[0], "Last page", last[1], "en").encode(), "text/html; charset=utf-8"),
    )
    members += [cut[0], cut[1][: len(cut[1]) // 2]]
    folder = folder or landing / "web_pages"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crawl-00000.warc.gz"
    path.write_bytes(b"".join(members))
    return path
