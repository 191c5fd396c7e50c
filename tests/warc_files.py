"""Real WARC files for tests, written with FastWARC's writer (one gzip member per record)."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

from fastwarc.stream_io import GzipWriter
from fastwarc.warc import WarcRecord, WarcRecordType

FETCHED = datetime(2026, 10, 3, 12, 30, tzinfo=UTC)


def page_html(title: str, paragraphs: list[str], boilerplate: bool = True) -> str:
    """An HTML page: navigation, cookie banner and footer around an article."""
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    chrome_top = (
        '<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>'
        '<li><a href="/about">About us</a></li></ul></nav>'
        '<div class="cookie-banner">We use cookies. <button>Accept all</button></div>'
        if boilerplate
        else ""
    )
    chrome_bottom = (
        "<footer><p>Copyright 2026 Example Media. All rights reserved.</p>"
        '<a href="/privacy">Privacy policy</a></footer>'
        if boilerplate
        else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{chrome_top}<main><article><h1>{title}</h1>{body}</article></main>"
        f"{chrome_bottom}</body></html>"
    )


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200):
    """The bytes of an HTTP/1.1 response: status line, headers, blank line, body."""
    reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}.get(status, "Status")
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def record(
    url: str,
    payload: bytes,
    record_type: WarcRecordType = WarcRecordType.response,
    content_type: str = "application/http; msgtype=response",
    fetched: datetime = FETCHED,
) -> bytes:
    """One WARC record, gzipped on its own (a member), as crawlers write them."""
    warc = WarcRecord()
    warc.init_headers(record_type)
    warc.headers["WARC-Target-URI"] = url
    warc.headers["WARC-Date"] = fetched.strftime("%Y-%m-%dT%H:%M:%SZ")
    warc.set_bytes_content(payload)
    warc.headers["Content-Type"] = content_type
    buffer = io.BytesIO()
    writer = GzipWriter(buffer)
    warc.write(writer, checksum_data=True)
    writer.finish()
    return buffer.getvalue()


def warcinfo() -> bytes:
    """The warcinfo record a crawl file starts with."""
    return record(
        "",
        b"software: funnel-tests\r\nformat: WARC File Format 1.1\r\n",
        WarcRecordType.warcinfo,
        "application/warc-fields",
    )


def html_record(url: str, html: str, charset: str = "utf-8") -> bytes:
    """A 200 response record holding `html` encoded in `charset`."""
    return record(url, http_response(html.encode(charset), f"text/html; charset={charset}"))


def write_warc(path: Path, members: list[bytes]) -> Path:
    """Concatenate record members into a `.warc.gz` file."""
    path.write_bytes(b"".join(members))
    return path


def plain_gzip(data: bytes) -> bytes:
    """A gzip member that is not a WARC record."""
    return gzip.compress(data)
