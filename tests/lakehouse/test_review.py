import pytest

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.review import (
    ReviewError,
    add_to_blocklist,
    blocklist,
    record_decision,
    review_progress,
)
from lakehouse.tables import REVIEW_BLOCKLIST


def test_blocklist_entries_record_who_and_when(catalog: Catalog, commit: CommitInfo) -> None:
    add_to_blocklist(catalog, "source", "web_crawl", "ana", commit, note="license unclear")
    add_to_blocklist(catalog, "url", "https://spam.example/", "ben", commit)
    rows = blocklist(catalog)
    assert [(row["kind"], row["value"], row["added_by"]) for row in rows] == [
        ("source", "web_crawl", "ana"),
        ("url", "https://spam.example/", "ben"),
    ]
    assert rows[0]["note"] == "license unclear" and rows[0]["added_at"] <= rows[1]["added_at"]


@pytest.mark.parametrize(
    ("kind", "value", "who", "message"),
    [
        ("regex", ".*", "ana", "one of term, url, source"),
        ("term", "   ", "ana", "blocked term cannot be empty"),
        ("term", "x" * 2001, "ana", "at most 2000 allowed"),
        ("term", "spam", "", "needs the reviewer's name"),
    ],
)
def test_bad_blocklist_entries_are_refused(
    catalog: Catalog, commit: CommitInfo, kind: str, value: str, who: str, message: str
) -> None:
    with pytest.raises(ReviewError, match=message):
        add_to_blocklist(catalog, kind, value, who, commit)
    assert not catalog.exists(REVIEW_BLOCKLIST)


def test_no_queue_means_nothing_to_review(catalog: Catalog, commit: CommitInfo) -> None:
    assert review_progress(catalog).queued == 0
    with pytest.raises(ReviewError, match="review/queue has not been written"):
        record_decision(catalog, "0" * 32, "approve", "ana", commit)
