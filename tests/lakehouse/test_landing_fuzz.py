"""Hostile landing files through the real ingest: every record is a bronze row or quarantined.

Hypothesis (derandomized, so CI sees the same cases every run) mixes good records with the
kinds of bad ones a crawl or a careless export produces; each kind names the quarantine
reasons it may get. Conservation (records read = bronze rows + quarantined) is asserted inside
`ingest`; here every bad record must be in quarantine with a reason, every good one in bronze.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse.landing import Reason
from lakehouse.recipe import IngestConfig
from tests.lakehouse.test_landing import JSONL, ingest

LIMIT = 4096
LIMITS = IngestConfig(max_record_bytes=LIMIT, read_block_bytes=64 * 1024)
KEPT = "kept"


def _text(value: object) -> bytes:
    return json.dumps({"id": "x", "text": value}).encode()


def _nested(depth: int) -> bytes:
    return b'{"text": "deep", "a": ' + b"[" * depth + b"]" * depth + b"}"


# kind → (raw line from a drawn good text, outcomes it may get: KEPT or quarantine reasons)
KINDS: dict[str, tuple[Callable[[str], bytes], set[str]]] = {
    "good": (lambda text: _text(text), {KEPT}),
    "good_ascii_escaped": (
        lambda text: json.dumps({"text": text}, ensure_ascii=True).encode(),
        {KEPT},
    ),
    "nul_escape": (lambda text: _text(text + "\x00" + text), {KEPT}),
    "lone_surrogate": (
        lambda text: b'{"text": "' + text.encode("unicode_escape")[:40] + b'\\ud800"}',
        {Reason.INVALID_UNICODE, Reason.MALFORMED_JSON},
    ),
    "lone_surrogate_id": (
        lambda text: b'{"id": "\\udfff", "text": ' + json.dumps(text).encode() + b"}",
        {Reason.INVALID_UNICODE},
    ),
    "raw_nul": (lambda text: b'{"text": "a\x00b"}', {Reason.MALFORMED_JSON}),
    "bom_inside": (
        lambda text: b'{"text": "x"}\xef\xbb\xbf',
        {Reason.MALFORMED_JSON},
    ),
    "overlong": (lambda text: _text("w" * (LIMIT + 1)), {Reason.OVERSIZED_RECORD}),
    "deep_json": (lambda text: _nested(2_000), {KEPT}),
    "deep_json_small": (lambda text: _nested(500), {Reason.MALFORMED_JSON, KEPT}),
    "text_number": (lambda text: _text(7), {Reason.TEXT_NOT_STRING}),
    "text_list": (lambda text: _text([text]), {Reason.TEXT_NOT_STRING}),
    "text_object": (lambda text: _text({"t": text}), {Reason.TEXT_NOT_STRING}),
    "text_bool": (lambda text: _text(True), {Reason.TEXT_NOT_STRING}),
    "text_null": (lambda text: _text(None), {Reason.TEXT_MISSING}),
    "text_missing": (lambda text: json.dumps({"id": text}).encode(), {Reason.TEXT_MISSING}),
    "text_blank": (lambda text: _text(" \t "), {Reason.TEXT_EMPTY}),
    "array_record": (lambda text: json.dumps([text]).encode(), {Reason.NOT_AN_OBJECT}),
    "string_record": (lambda text: json.dumps(text).encode(), {Reason.NOT_AN_OBJECT}),
    "number_record": (lambda text: b"42", {Reason.NOT_AN_OBJECT}),
    "latin1": (
        lambda text: '{"text": "café crème"}'.encode("latin-1"),
        {Reason.INVALID_UTF8},
    ),
    "utf16": (
        lambda text: '{"text": "x"}'.encode("utf-16-le"),
        {Reason.MALFORMED_JSON, Reason.INVALID_UTF8},
    ),
    "truncated_json": (lambda text: _text(text)[:-3], {Reason.MALFORMED_JSON}),
    "not_json": (lambda text: b"<html>" + text.encode()[:50], {Reason.MALFORMED_JSON}),
}

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    min_size=1,
    max_size=60,
).filter(lambda value: value.strip() != "")


@settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(st.tuples(st.sampled_from(sorted(KINDS)), texts), min_size=1, max_size=20),
    bom=st.booleans(),
    compression=st.sampled_from(["plain", "gzip"]),
)
def test_hostile_records_are_kept_or_quarantined_with_a_reason(
    tmp_path: Path, records: list[tuple[str, str]], bom: bool, compression: str
) -> None:
    raw_lines = [KINDS[kind][0](text) for kind, text in records]
    # A byte-order mark at the start of the file (Windows exports) belongs to no record.
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(raw_lines) + b"\n"
    path = tmp_path / f"fuzz-{len(records)}-{bom}.jsonl"
    if compression == "gzip":
        path = path.with_suffix(".jsonl.gz")
        data = gzip.compress(data)
    path.write_bytes(data)

    rows, quarantined, stats = ingest([path], JSONL, LIMITS)

    assert stats.records_read == len(records)
    outcome = {record: KEPT for record in rows["source_record"].to_pylist()}
    for record, reason, detail in zip(
        quarantined["source_record"].to_pylist(),
        quarantined["reason"].to_pylist(),
        quarantined["detail"].to_pylist(),
        strict=True,
    ):
        assert reason and detail, (record, reason, detail)
        assert record not in outcome, f"record {record} is both kept and quarantined"
        outcome[record] = reason
    for index, (kind, _text_value) in enumerate(records):
        allowed = KINDS[kind][1]
        assert outcome.get(index) in allowed, (index, kind, outcome.get(index), raw_lines[index])
    kept_texts = dict(zip(rows["source_record"].to_pylist(), rows["text"].to_pylist(), strict=True))
    for index, (kind, text) in enumerate(records):
        if kind == "good":
            assert kept_texts[index] == text


def test_truncated_gzip_of_hostile_records_conserves_every_record(tmp_path: Path) -> None:
    lines = [KINDS[kind][0]("some text") for kind in sorted(KINDS)] * 4
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    for cut in (len(whole) // 3, len(whole) - 9):
        path = tmp_path / f"cut-{cut}.jsonl.gz"
        path.write_bytes(whole[:cut])
        rows, quarantined, stats = ingest([path], JSONL, LIMITS)
        reasons = quarantined["reason"].to_pylist()
        assert Reason.TRUNCATED_FILE in reasons
        assert all(quarantined["detail"].to_pylist())
        assert stats.records_read < len(lines)
        # Every record read so far is accounted for once, the cut one included.
        records = rows["source_record"].to_pylist() + quarantined["source_record"].to_pylist()
        assert sorted(records) == list(range(stats.records_read))


@pytest.mark.slow
def test_ten_megabyte_records(tmp_path: Path) -> None:
    big = "word " * (2 * 1024 * 1024)  # 10 MiB of text
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join([_text("small"), _text(big), _text("after")]) + b"\n")
    small_limit = IngestConfig(max_record_bytes=1_000_000, read_block_bytes=1024 * 1024)
    rows, quarantined, _ = ingest([path], JSONL, small_limit)
    assert rows["source_record"].to_pylist() == [0, 2]
    assert quarantined["reason"].to_pylist() == [Reason.OVERSIZED_RECORD]
    assert quarantined["raw_bytes"].to_pylist() == [len(_text(big))]
    large_limit = IngestConfig(max_record_bytes=16 * 1024 * 1024, read_block_bytes=1024 * 1024)
    rows, quarantined, _ = ingest([path], JSONL, large_limit)
    assert rows["text"].to_pylist()[1] == big and quarantined.num_rows == 0
