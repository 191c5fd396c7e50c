import json
from datetime import UTC, datetime

import pytest
from pyspark.sql import SparkSession

from spark_jobs.blocklist import BLOCKLIST_RULE, apply_blocklist
from spark_jobs.decisions import REJECTION_TYPE
from tests.spark_cluster import spark

__all__ = ["spark"]

ADDED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _cleaned(session: SparkSession):  # type: ignore[no-untyped-def]
    rows = [
        ("d1", "notes", "file:///l/notes/a.jsonl", "Buy CHEAP pills now", "h1", "kept", None),
        ("d2", "notes", "file:///l/spam/b.jsonl", "A fine text", "h2", "kept", None),
        ("d3", "forum", "file:///l/forum/c.jsonl", "see https://x.example/p", "h3", "kept", None),
        (
            "d4",
            "notes",
            "file:///l/notes/d.jsonl",
            "cheap but too short",
            None,
            "rejected",
            ("gopher_min_doc_words", 3.0, 50.0, None),
        ),
        ("d5", "notes", "file:///l/notes/e.jsonl", "Nothing to see", "h5", "kept", None),
    ]
    schema = (
        "doc_id string, source string, source_uri string, text string, text_sha256 string, "
        f"outcome string, rejection {REJECTION_TYPE}"
    )
    return session.createDataFrame(rows, schema)


def test_kept_documents_matching_an_entry_are_rejected_with_who_blocked_them(spark) -> None:
    entries = [
        {"kind": "term", "value": "cheap", "added_by": "ana", "added_at": ADDED},
        {"kind": "url", "value": "file:///l/spam/", "added_by": "ben", "added_at": ADDED},
        {"kind": "url", "value": "https://x.example/", "added_by": "ben", "added_at": ADDED},
        {"kind": "source", "value": "nowhere", "added_by": "ana", "added_at": ADDED},
    ]
    result = {row["doc_id"]: row for row in apply_blocklist(_cleaned(spark), entries).collect()}
    assert result["d1"]["outcome"] == "rejected" and result["d1"]["text"] is None
    assert result["d1"]["rejection"]["rule"] == BLOCKLIST_RULE
    assert json.loads(result["d1"]["rejection"]["detail"]) == {
        "kind": "term",
        "value": "cheap",
        "added_by": "ana",
        "added_at": "2026-11-27T09:00:00+00:00",
    }
    assert json.loads(result["d2"]["rejection"]["detail"])["value"] == "file:///l/spam/"
    assert json.loads(result["d3"]["rejection"]["detail"])["value"] == "https://x.example/"
    # Already rejected by a clean rule: that rejection stands.
    assert result["d4"]["rejection"]["rule"] == "gopher_min_doc_words"
    assert result["d5"]["outcome"] == "kept" and result["d5"]["text"] == "Nothing to see"


def test_an_empty_blocklist_changes_nothing_and_a_bad_kind_is_refused(spark) -> None:
    cleaned = _cleaned(spark)
    assert apply_blocklist(cleaned, []) is cleaned
    with pytest.raises(ValueError, match="unknown kind 'regex'"):
        apply_blocklist(cleaned, [{"kind": "regex", "value": ".*"}])
