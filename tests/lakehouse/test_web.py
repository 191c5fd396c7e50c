from pathlib import Path

import pytest

from lakehouse.web import (
    WebPage,
    WebReason,
    WebReject,
    decode_html,
    extract_main_text,
    gzip_members,
    media_type,
    warc_pages,
)
from tests.warc_files import (
    FETCHED,
    html_record,
    http_response,
    page_html,
    plain_gzip,
    record,
    warcinfo,
    write_warc,
)

ARTICLE = [
    "The river rose three metres overnight and the old bridge closed before dawn.",
    "Engineers will inspect the pillars on Monday, the town council said in a statement.",
]


def pages_of(path: Path, limit: int = 1_000_000) -> list[WebPage | WebReject]:
    with path.open("rb") as raw:
        return list(warc_pages(raw, limit, chunk_bytes=64))


def test_pages_keep_main_text_and_provenance(tmp_path: Path) -> None:
    members = [
        warcinfo(),
        html_record("https://news.example.org/flood", page_html("Flood", ARTICLE)),
    ]
    path = write_warc(tmp_path / "crawl.warc.gz", members)
    (page,) = pages_of(path)
    assert isinstance(page, WebPage)
    assert page.record == 1 and page.offset == len(members[0])
    assert page.url == "https://news.example.org/flood"
    assert page.fetched_at == FETCHED
    assert page.content_type == "text/html; charset=utf-8"
    assert page.record_id is not None and page.record_id.startswith("<urn:uuid:")
    assert ARTICLE[0] in page.text and ARTICLE[1] in page.text
    # Navigation, cookie banner and footer are not main content.
    for chrome in ("About us", "Accept all", "All rights reserved"):
        assert chrome not in page.text


def test_every_broken_record_is_rejected_with_its_reason_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    good = html_record("https://a.example/1", page_html("One", ARTICLE))
    latin = html_record(
        "https://a.example/latin", page_html("Été", ["Un été très chaud."]), "latin-1"
    )
    members = [
        good,
        record("https://a.example/logo.png", http_response(b"\x89PNG....", "image/png")),
        record("https://a.example/broken", b"garbage that is no HTTP message\x00"),
        record("https://a.example/gone", http_response(b"<p>x</p>", status=404)),
        record(
            "https://a.example/bad",
            http_response("é".encode("latin-1"), "text/html; charset=utf-8"),
        ),
        record("https://a.example/odd", http_response(b"<p>x</p>", "text/html; charset=x-klingon")),
        plain_gzip(b"not a warc record at all"),
        good[:10] + b"\x00" * 40 + good[50:],  # a corrupt member between good ones
        latin,
        good[:-12],  # the last member, cut short
    ]
    path = write_warc(tmp_path / "broken.warc.gz", members)
    found = pages_of(path)
    outcome = {
        item.record: item.reason if isinstance(item, WebReject) else "page" for item in found
    }
    assert outcome == {
        0: "page",
        1: WebReason.NOT_HTML,
        2: WebReason.BROKEN_HTTP,
        3: WebReason.HTTP_NOT_OK,
        4: WebReason.UNDECODABLE_CHARSET,
        5: WebReason.UNDECODABLE_CHARSET,
        6: WebReason.BROKEN_WARC_RECORD,
        7: WebReason.CORRUPT_RECORD,
        8: "page",
        9: WebReason.TRUNCATED_RECORD,
    }
    by_record = {item.record: item for item in found}
    assert "Un été très chaud." in by_record[8].text  # type: ignore[union-attr]
    assert "x-klingon" in by_record[5].detail  # type: ignore[union-attr]
    assert by_record[4].url == "https://a.example/bad"  # type: ignore[union-attr]
    # Offsets are where each member starts in the file, resynchronised after the corrupt one.
    assert by_record[8].offset == sum(len(member) for member in members[:8])


def test_oversized_record_is_drained_not_held(tmp_path: Path) -> None:
    big = html_record("https://a.example/big", page_html("Big", ["word " * 5000]))
    small = html_record("https://a.example/small", page_html("Small", ARTICLE))
    path = write_warc(tmp_path / "big.warc.gz", [big, small])
    first, second = pages_of(path, limit=4000)
    assert isinstance(first, WebReject) and first.reason == WebReason.OVERSIZED_RECORD
    assert isinstance(second, WebPage) and second.url == "https://a.example/small"


def test_wet_conversion_records_are_plain_text(tmp_path: Path) -> None:
    from fastwarc.warc import WarcRecordType

    text = "Plain text converted by the crawler.\nSecond line."
    members = [
        record("https://a.example/t", text.encode(), WarcRecordType.conversion, "text/plain"),
        record("https://a.example/p", b"%PDF", WarcRecordType.conversion, "application/pdf"),
    ]
    page, rejected = pages_of(write_warc(tmp_path / "a.warc.wet.gz", members))
    assert isinstance(page, WebPage) and page.text == text
    assert isinstance(rejected, WebReject) and rejected.reason == WebReason.NOT_HTML


def test_gzip_members_reports_offsets_and_sizes(tmp_path: Path) -> None:
    members = [plain_gzip(b"a" * 100), plain_gzip(b"b" * 10)]
    path = write_warc(tmp_path / "m.gz", members)
    with path.open("rb") as raw:
        found = list(gzip_members(raw, 50, chunk_bytes=7))
    assert [(m.offset, m.size, m.data) for m in found] == [  # type: ignore[union-attr]
        (0, 100, None),
        (len(members[0]), 10, b"b" * 10),
    ]


def test_decode_and_media_type() -> None:
    assert media_type("Text/HTML; charset=UTF-8") == "text/html"
    assert media_type(None) is None
    assert decode_html("żółw".encode("iso-8859-2"), "iso-8859-2") == "żółw"
    with pytest.raises(UnicodeError, match="unknown charset 'nope'"):
        decode_html(b"abc", "nope")
    with pytest.raises(UnicodeError, match="not valid utf-8"):
        decode_html(b"\xff\xfe\xfa", "utf-8")


def test_extract_main_text_of_a_page_without_boilerplate() -> None:
    text = extract_main_text(page_html("Plain", ARTICLE, boilerplate=False))
    assert text.startswith("Plain") and ARTICLE[1] in text
