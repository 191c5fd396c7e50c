"""Web pages from WARC files and HTML: records streamed with FastWARC, main text by Resiliparse.

A crawl ships WARC files as one gzip member per record, so a record's compressed offset is
where a reader seeks to fetch it again (what CDX indexes store). This module splits the
members itself — each is decompressed on its own, in bounded memory — and hands every member
to FastWARC's parser. That way a truncated or corrupt member costs only its own record: the
reader resynchronises at the next gzip header, where FastWARC's own gzip stream either stops
with an error or (for a cut last member) returns a short payload without a word.

Every member ends as exactly one `WebPage` or one `WebReject` (with a quarantine reason),
except the records that are not documents at all — `warcinfo`, `request`, `metadata` — which
are counted and skipped, like a blank line of a JSON-lines file. WET files work too: their
`conversion` records hold plain text, taken as it is.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from fastwarc.warc import WarcRecord, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import detect_encoding
from resiliparse.parse.html import HTMLTree

GZIP_MAGIC = b"\x1f\x8b\x08"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Records that describe a capture rather than hold a page: skipped, never quarantined.
NOT_DOCUMENTS = WarcRecordType.warcinfo | WarcRecordType.request | WarcRecordType.metadata
_PAGE_TYPES = WarcRecordType.response | WarcRecordType.resource
_CHUNK_BYTES = 1 << 20


class WebReason:
    """Machine-readable quarantine reasons of web records (besides the landing ones)."""

    NOT_HTML = "not_html"
    BROKEN_HTTP = "broken_http"
    HTTP_NOT_OK = "http_not_ok"
    UNDECODABLE_CHARSET = "undecodable_charset"
    TRUNCATED_RECORD = "truncated_record"
    CORRUPT_RECORD = "corrupt_record"
    BROKEN_WARC_RECORD = "broken_warc_record"
    UNSUPPORTED_RECORD = "unsupported_record"
    NO_MAIN_TEXT = "no_main_text"
    OVERSIZED_RECORD = "oversized_record"


@dataclass(frozen=True)
class WebPage:
    """One page's main text and where it came from (`record`: member index in the file)."""

    record: int
    offset: int
    text: str
    url: str | None
    fetched_at: datetime | None
    content_type: str | None
    record_id: str | None


@dataclass(frozen=True)
class WebReject:
    """A record that yields no page, with its reason; `raw` is a preview of its bytes."""

    record: int
    offset: int | None
    reason: str
    detail: str
    raw: bytes | None = None
    url: str | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class _Member:
    offset: int
    data: bytes | None  # None when the member was larger than the limit
    size: int


@dataclass(frozen=True)
class _BadMember:
    offset: int
    reason: str
    detail: str
    preview: bytes


def gzip_members(
    raw: IO[bytes], max_member_bytes: int, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[_Member | _BadMember]:
    """The gzip members of a stream, decompressed one at a time, with their compressed offsets.

    A member that decompresses to more than `max_member_bytes` is drained without being kept
    (`data` None). A corrupt member is reported and reading resumes at the next gzip header;
    a member cut by the end of the file is reported as truncated and ends the stream.
    """
    data = b""  # compressed bytes from the current member's start
    start = 0  # file offset of data[0]
    while True:
        if not data:
            data = raw.read(chunk_bytes)
            if not data:
                return
        inflater = zlib.decompressobj(31)
        fed = 0
        parts: list[bytes] = []
        size = 0
        try:
            while not inflater.eof:
                if fed == len(data):
                    more = raw.read(chunk_bytes)
                    if not more:
                        yield _BadMember(
                            start,
                            WebReason.TRUNCATED_RECORD,
                            f"gzip member at byte {start} is cut off by the end of the file "
                            f"after {size} decompressed bytes",
                            b"".join(parts)[:512],
                        )
                        return
                    data += more
                piece = inflater.decompress(data[fed:])
                fed = len(data)
                size += len(piece)
                if size <= max_member_bytes:
                    parts.append(piece)
                elif parts:
                    parts = []
        except zlib.error as error:
            yield _BadMember(
                start,
                WebReason.CORRUPT_RECORD,
                f"gzip member at byte {start} cannot be decompressed: {error}",
                b"".join(parts)[:512],
            )
            # Resynchronise at the next gzip header after the broken one.
            skip = data.find(GZIP_MAGIC, 1)
            while skip == -1:
                more = raw.read(chunk_bytes)
                if not more:
                    return
                keep = max(len(data) - len(GZIP_MAGIC) + 1, 1)
                start += keep
                data = data[keep:] + more
                skip = data.find(GZIP_MAGIC, 1)
            start += skip
            data = data[skip:]
            continue
        used = fed - len(inflater.unused_data)
        body = b"".join(parts) if size <= max_member_bytes else None
        yield _Member(start, body, size)
        start += used
        data = data[used:]


def media_type(content_type: str | None) -> str | None:
    """`text/html` of `text/html; charset=utf-8`: the lower-cased type without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def decode_html(body: bytes, declared: str | None) -> str:
    """The page's characters: the declared charset, else one detected from the bytes.

    Raises UnicodeError (naming charset and byte) when the charset is unknown or the bytes
    are not valid in it: such a page is quarantined, never decoded to replacement characters.
    """
    charset = declared or detect_encoding(body)
    try:
        codec = codecs.lookup(charset)
    except LookupError as error:
        raise UnicodeError(f"unknown charset {charset!r}") from error
    try:
        return body.decode(codec.name)
    except UnicodeDecodeError as error:
        raise UnicodeError(
            f"bytes {error.start}-{error.end} are not valid {codec.name} ({error.reason})"
        ) from error


def extract_main_text(html: str) -> str:
    """The main content of a page as plain text (Resiliparse: no navigation, footer, forms)."""
    tree = HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False).strip()


def html_page_text(body: bytes, content_type: str | None) -> str | WebReject:
    """Main text of one HTML document's bytes, or why it has none (record fields left 0)."""
    charset = _charset(content_type)
    try:
        html = decode_html(body, charset)
    except UnicodeError as error:
        return WebReject(0, None, WebReason.UNDECODABLE_CHARSET, str(error), body[:512])
    text = extract_main_text(html)
    if not text:
        return WebReject(0, None, WebReason.NO_MAIN_TEXT, "no main content found", body[:512])
    return text


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _page(record: int, offset: int, warc: WarcRecord) -> WebPage | WebReject | None:
    """The page of one parsed WARC record, a reject, or None for a non-document record."""
    headers = warc.headers
    record_type = warc.record_type
    url = headers.get("WARC-Target-URI")
    record_id = warc.record_id
    fetched_at = _fetch_date(headers.get("WARC-Date"))

    def reject(reason: str, detail: str, raw: bytes | None = None) -> WebReject:
        return WebReject(
            record, offset, reason, f"{detail} ({url or 'no URL'})", raw, url, record_id
        )

    if record_type & NOT_DOCUMENTS:
        return None
    if record_type == WarcRecordType.conversion:
        body = warc.reader.read()
        content_type = headers.get("Content-Type")
        if media_type(content_type) != "text/plain":
            return reject(WebReason.NOT_HTML, f"conversion record of type {content_type!r}")
        try:
            text = decode_html(body, _charset(content_type) or "utf-8").strip()
        except UnicodeError as error:
            return reject(WebReason.UNDECODABLE_CHARSET, str(error), body[:512])
        if not text:
            return reject(WebReason.NO_MAIN_TEXT, "conversion record holds no text")
        return WebPage(record, offset, text, url, fetched_at, content_type, record_id)
    if not record_type & _PAGE_TYPES:
        return reject(WebReason.UNSUPPORTED_RECORD, f"{record_type} records hold no page")
    if warc.is_http:
        status = warc.http_headers.status_code
        if status is None:
            return reject(WebReason.BROKEN_HTTP, "payload has no HTTP status line and headers")
        if not 200 <= status < 300:
            return reject(WebReason.HTTP_NOT_OK, f"HTTP status {status}")
        content_type = warc.http_headers.get("Content-Type")
    else:
        content_type = headers.get("Content-Type")
    body = warc.reader.read()
    if media_type(content_type) not in HTML_TYPES:
        return reject(WebReason.NOT_HTML, f"content type {content_type or 'missing'!r}")
    if len(body) < warc.content_length and not warc.is_http:
        return reject(WebReason.TRUNCATED_RECORD, "payload shorter than Content-Length", body)
    result = html_page_text(body, content_type)
    if isinstance(result, WebReject):
        return reject(result.reason, result.detail, result.raw)
    return WebPage(record, offset, result, url, fetched_at, content_type, record_id)


def _fetch_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def warc_pages(
    raw: IO[bytes], max_record_bytes: int, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[WebPage | WebReject]:
    """Every page of a gzipped WARC (or WET) stream, in file order; bad records as rejects.

    `record` is the member's index in the file (every member counts, so the index of a
    record never depends on what happened to the ones before it).
    """
    for index, member in enumerate(gzip_members(raw, max_record_bytes, chunk_bytes)):
        if isinstance(member, _BadMember):
            yield WebReject(index, member.offset, member.reason, member.detail, member.preview)
            continue
        if member.data is None:
            yield WebReject(
                index,
                member.offset,
                WebReason.OVERSIZED_RECORD,
                f"record of {member.size} bytes exceeds ingest.max_record_bytes={max_record_bytes}",
            )
            continue
        yield from _member_pages(index, member)


def _member_pages(index: int, member: _Member) -> Iterator[WebPage | WebReject]:
    """The page (or reject) of one decompressed member: FastWARC parses its one record."""
    assert member.data is not None
    try:
        warc = WarcRecord.from_bytes(member.data)
        if warc.is_http:
            warc.parse_http()
    except (OSError, ValueError) as error:
        yield WebReject(
            index,
            member.offset,
            WebReason.BROKEN_WARC_RECORD,
            f"not a readable WARC record: {error}",
            member.data[:512],
        )
        return
    page = _page(index, member.offset, warc)
    if page is not None:
        yield page
