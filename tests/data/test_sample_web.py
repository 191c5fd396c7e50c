import re
import sys
from collections import Counter
from pathlib import Path

from lakehouse.storage import PROJECT_DIR
from lakehouse.web import WebPage, warc_pages

LANDING = PROJECT_DIR / "data" / "sample" / "landing"
CRAWL = LANDING / "web_pages" / "crawl-00000.warc.gz"


def test_sample_crawl_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT_DIR / "data"))
    try:
        from sample_sources.web_warc import build_web_warc
    finally:
        sys.path.remove(str(PROJECT_DIR / "data"))
    rebuilt = build_web_warc(LANDING, tmp_path)
    assert rebuilt.read_bytes() == CRAWL.read_bytes()


def test_sample_crawl_has_pages_shared_lines_and_planted_problems() -> None:
    with CRAWL.open("rb") as raw:
        found = list(warc_pages(raw, 1_000_000))
    pages = [item for item in found if isinstance(item, WebPage)]
    assert len(pages) == 120
    assert Counter(item.reason for item in found if not isinstance(item, WebPage)) == {
        "http_not_ok": 2,
        "not_html": 1,
        "undecodable_charset": 1,
        "broken_http": 1,
        "truncated_record": 1,
    }
    # Main-content extraction keeps the lines every page repeats inside its article: they are
    # for the cross-document boilerplate removal to take out.
    shared = sum("Subscribe to our newsletter" in page.text for page in pages)
    assert shared == len(pages)
    assert not any("We use cookies" in page.text for page in pages)
    assert all(re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", page.record_id or "") for page in pages)
    urls = [page.url or "" for page in pages]
    assert sum("spam-farm.example" in url for url in urls) == 1
    assert sum("casino" in url for url in urls) == 1
    assert sum(url.startswith("ftp://") for url in urls) == 1
