import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from lakehouse.batches import LandingFile
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.landing import (
    IngestStats,
    QuarantineSink,
    Reason,
    doc_id,
    doc_ids,
    read_landing_files,
)
from lakehouse.recipe import IngestConfig, SourceConfig
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE

JSONL = SourceConfig(name="notes", path="*", format="jsonl", domain="prose", license="CC0-1.0")
PARQUET = JSONL.model_copy(update={"format": "parquet"})
LIMITS = IngestConfig(max_record_bytes=10_000, read_block_bytes=64 * 1024)
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def ingest(
    paths: list[Path], source: SourceConfig = JSONL, limits: IngestConfig = LIMITS
) -> tuple[pa.Table, pa.Table, IngestStats]:
    """Read files like the ingest asset does; return bronze rows, quarantine rows, counts."""
    stats = IngestStats()
    sink = QuarantineSink("b1", "run-1", NOW, stats)
    files = [(LandingFile(source.name, str(path), None), source) for path in paths]
    try:
        batches = list(read_landing_files(files, limits, "b1", NOW, sink))
        rows = pa.Table.from_batches(batches, schema=BRONZE_DOCUMENTS.schema)
        quarantined = sink.rows()
    finally:
        sink.close()
    assert quarantined.schema.equals(BRONZE_QUARANTINE.schema)
    assert stats.records_read == rows.num_rows + quarantined.num_rows
    assert stats.rows_written == rows.num_rows
    assert stats.rows_quarantined == quarantined.num_rows
    return rows, quarantined, stats


def lines(path: Path, raw_lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(raw_lines) + b"\n")
    return path


def good(i: int) -> bytes:
    return json.dumps({"id": f"r{i}", "text": f"document {i} has words"}).encode()


def reasons(quarantined: pa.Table) -> dict[int | None, str]:
    return dict(
        zip(
            quarantined["source_record"].to_pylist(),
            quarantined["reason"].to_pylist(),
            strict=True,
        )
    )


def test_clean_file_keeps_every_record_with_provenance(tmp_path: Path) -> None:
    path = lines(tmp_path / "a.jsonl", [good(i) for i in range(5)])
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows == 5 and quarantined.num_rows == 0
    first = rows.slice(0, 1).to_pylist()[0]
    assert first["doc_id"] == doc_id(str(path), 0)
    assert first["source_id"] == "r0" and first["source_record"] == 0
    assert (first["source"], first["domain"], first["license"]) == ("notes", "prose", "CC0-1.0")
    assert first["text"] == "document 0 has words"
    assert first["text_bytes"] == len(b"document 0 has words")
    assert len(first["text_sha256"]) == 64
    assert first["batch_id"] == "b1" and first["ingested_at"] == NOW


def test_doc_ids_are_stable_across_reingest(tmp_path: Path) -> None:
    path = lines(tmp_path / "a.jsonl", [good(i) for i in range(3)])
    once, _, _ = ingest([path])
    twice, _, _ = ingest([path])
    assert once["doc_id"].to_pylist() == twice["doc_id"].to_pylist()
    assert len(set(once["doc_id"].to_pylist())) == 3


def test_every_bad_record_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "bad.jsonl",
        [
            good(0),
            b"{not json",
            b'{"text": "caf\xe9"}',
            b'{"id": 1}',
            b'{"text": null}',
            b'{"text": ""}',
            b'{"text": "   \\n  "}',
            b'{"text": 42}',
            b'{"text": ["a"]}',
            b"[1, 2, 3]",
            good(10),
        ],
    )
    rows, quarantined, _ = ingest([path])
    assert rows["source_record"].to_pylist() == [0, 10]
    assert reasons(quarantined) == {
        1: Reason.MALFORMED_JSON,
        2: Reason.INVALID_UTF8,
        3: Reason.TEXT_MISSING,
        4: Reason.TEXT_MISSING,
        5: Reason.TEXT_EMPTY,
        6: Reason.TEXT_EMPTY,
        7: Reason.TEXT_NOT_STRING,
        8: Reason.TEXT_NOT_STRING,
        9: Reason.NOT_AN_OBJECT,
    }
    malformed = quarantined.filter(pa.compute.equal(quarantined["reason"], "malformed_json"))
    assert malformed["raw_preview"].to_pylist() == ["{not json"]
    assert malformed["doc_id"].to_pylist() == [doc_id(str(path), 1)]


def test_fast_path_quarantines_null_and_blank_text(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "a.jsonl", [good(0), b'{"text": null, "id": "x"}', b'{"text": "  "}', good(3)]
    )
    rows, quarantined, _ = ingest([path])
    assert rows["source_record"].to_pylist() == [0, 3]
    assert reasons(quarantined) == {1: Reason.TEXT_MISSING, 2: Reason.TEXT_EMPTY}


def test_numeric_and_mixed_ids_become_strings(tmp_path: Path) -> None:
    numeric = lines(tmp_path / "n.jsonl", [b'{"id": 7, "text": "a b"}', b'{"id": 8, "text": "c"}'])
    mixed = lines(tmp_path / "m.jsonl", [b'{"id": 7, "text": "a b"}', b'{"id": "x", "text": "c"}'])
    rows, _, _ = ingest([numeric, mixed])
    assert rows["source_id"].to_pylist() == ["7", "8", "7", "x"]


def test_blank_lines_are_not_records_and_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(good(0) + b"\n\n   \n" + good(3) + b"\n")
    rows, quarantined, stats = ingest([path])
    assert rows["source_record"].to_pylist() == [0, 3]
    assert quarantined.num_rows == 0 and stats.records_read == 2


def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(good(0) + b"\n" + good(1))
    rows, _, _ = ingest([path])
    assert rows.num_rows == 2


def test_oversized_records_inside_a_block_and_streamed(tmp_path: Path) -> None:
    big = json.dumps({"text": "x" * 20_000}).encode()
    huge = json.dumps({"text": "y" * 300_000}).encode()
    path = lines(tmp_path / "big.jsonl", [good(0), big, good(2), huge, good(4)])
    rows, quarantined, _ = ingest([path])
    assert rows["source_record"].to_pylist() == [0, 2, 4]
    assert reasons(quarantined) == {1: Reason.OVERSIZED_RECORD, 3: Reason.OVERSIZED_RECORD}
    sizes = dict(
        zip(
            quarantined["source_record"].to_pylist(),
            quarantined["raw_bytes"].to_pylist(),
            strict=True,
        )
    )
    assert sizes == {1: len(big), 3: len(huge)}
    assert all(len(p) <= 512 for p in quarantined["raw_preview"].to_pylist())


def test_oversized_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "tail.jsonl"
    path.write_bytes(good(0) + b"\n" + json.dumps({"text": "z" * 200_000}).encode())
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows == 1
    assert reasons(quarantined) == {1: Reason.OVERSIZED_RECORD}


def test_gzip_and_zstd_files(tmp_path: Path) -> None:
    payload = b"\n".join(good(i) for i in range(100)) + b"\n"
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(payload))
    zst = tmp_path / "a.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(payload))
    rows, quarantined, stats = ingest([gz, zst])
    assert rows.num_rows == 200 and quarantined.num_rows == 0
    assert stats.files == 2 and stats.bytes_read == gz.stat().st_size + zst.stat().st_size


def test_truncated_gzip_keeps_what_was_read_and_quarantines_the_rest(tmp_path: Path) -> None:
    payload = b"\n".join(good(i) for i in range(20_000)) + b"\n"
    compressed = gzip.compress(payload)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    rows, quarantined, _ = ingest([path])
    assert 0 < rows.num_rows < 20_000
    assert quarantined["reason"].to_pylist() == [Reason.TRUNCATED_FILE]
    assert quarantined["source_record"].to_pylist() == [rows.num_rows]
    assert rows["source_record"].to_pylist() == list(range(rows.num_rows))


def test_corrupt_gzip_keeps_what_was_read_and_quarantines_the_rest(tmp_path: Path) -> None:
    payload = b"\n".join(good(i) for i in range(200_000)) + b"\n"
    compressed = bytearray(gzip.compress(payload, compresslevel=1))
    # Bytes overwritten deep inside the deflate stream: the inflater rejects the data itself
    # (not a bad header, not a missing end).
    middle = len(compressed) * 3 // 4
    compressed[middle : middle + 64] = b"\xff" * 64
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(compressed))
    rows, quarantined, _ = ingest([path])
    assert 0 < rows.num_rows < 200_000
    assert quarantined["reason"].to_pylist() == [Reason.CORRUPT_FILE]
    assert quarantined["source_record"].to_pylist() == [rows.num_rows]
    assert rows["source_record"].to_pylist() == list(range(rows.num_rows))


def test_concatenated_gzip_members_are_read(tmp_path: Path) -> None:
    members = [
        gzip.compress(b"\n".join(good(i) for i in range(k, k + 50)) + b"\n") for k in (0, 50)
    ]
    path = tmp_path / "members.jsonl.gz"
    path.write_bytes(b"".join(members))
    rows, quarantined, _ = ingest([path])
    assert rows["source_record"].to_pylist() == list(range(100)) and quarantined.num_rows == 0


def test_records_keep_their_numbers_across_the_chunks_of_a_large_block(tmp_path: Path) -> None:
    # Arrow parses a block of more than 4 MiB in several chunks; each chunk's rows and bad
    # records must keep their line numbers in the file.
    text = "word " * 400
    records = [json.dumps({"id": i, "text": text}).encode() for i in range(6000)]
    blank = {5, 4000, 5999}
    for index in blank:
        records[index] = json.dumps({"id": index, "text": "  "}).encode()
    path = lines(tmp_path / "big.jsonl", records)
    limits = IngestConfig(max_record_bytes=10_000, read_block_bytes=16 << 20)
    rows, quarantined, _ = ingest([path], limits=limits)
    assert reasons(quarantined) == {index: Reason.TEXT_EMPTY for index in blank}
    kept = [index for index in range(6000) if index not in blank]
    assert rows["source_record"].to_pylist() == kept
    assert rows["source_id"].to_pylist() == [str(index) for index in kept]
    assert rows["doc_id"].to_pylist() == doc_ids(str(path), kept)


def test_truncated_zstd_is_quarantined(tmp_path: Path) -> None:
    payload = b"\n".join(good(i) for i in range(20_000)) + b"\n"
    compressed = zstandard.ZstdCompressor().compress(payload)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(compressed[: len(compressed) // 2])
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows < 20_000
    assert quarantined["reason"].to_pylist() == [Reason.TRUNCATED_FILE]
    assert rows["source_record"].to_pylist() == list(range(rows.num_rows))


def test_concatenated_zstd_frames_are_read(tmp_path: Path) -> None:
    compressor = zstandard.ZstdCompressor()
    frames = [
        compressor.compress(b"\n".join(good(i) for i in range(k, k + 50)) + b"\n")
        for k in (0, 50, 100)
    ]
    path = tmp_path / "frames.jsonl.zst"
    path.write_bytes(b"".join(frames))
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows == 150 and quarantined.num_rows == 0


def test_garbage_compressed_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl.gz"
    path.write_bytes(b"this was never gzip")
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows == 0
    assert quarantined["reason"].to_pylist() == [Reason.UNREADABLE_FILE]


def test_vanished_file_is_quarantined_and_others_still_read(tmp_path: Path) -> None:
    present = lines(tmp_path / "a.jsonl", [good(0)])
    rows, quarantined, _ = ingest([tmp_path / "gone.jsonl", present])
    assert rows.num_rows == 1
    row = quarantined.to_pylist()[0]
    assert row["reason"] == Reason.FILE_MISSING
    assert row["source_record"] is None and row["doc_id"] is None


def test_directory_in_place_of_a_file_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    _, quarantined, _ = ingest([folder])
    assert quarantined["reason"].to_pylist() == [Reason.UNREADABLE_FILE]


def test_line_by_line_and_arrow_paths_agree(tmp_path: Path) -> None:
    records = [good(i) for i in range(200)]
    clean = lines(tmp_path / "clean.jsonl", records)
    dirty = lines(tmp_path / "dirty.jsonl", [*records, b"{broken"])
    fast, _, _ = ingest([clean])
    slow, _, _ = ingest([dirty])
    columns = ["source_record", "source_id", "text", "text_sha256", "text_bytes"]
    assert fast.select(columns).equals(slow.select(columns))


def test_unicode_text_is_kept_exactly(tmp_path: Path) -> None:
    text = "Grüße — 日本語 — emoji 🙂\ttab"
    path = lines(tmp_path / "u.jsonl", [json.dumps({"text": text}).encode()])
    rows, _, _ = ingest([path])
    assert rows["text"].to_pylist() == [text]
    assert rows["text_bytes"].to_pylist() == [len(text.encode())]


def test_quarantine_spools_many_bad_records(tmp_path: Path) -> None:
    path = lines(tmp_path / "bad.jsonl", [b"{oops" for _ in range(10_000)])
    rows, quarantined, _ = ingest([path])
    assert rows.num_rows == 0 and quarantined.num_rows == 10_000


def test_parquet_source(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [1, 2, 3, 4, 5],
                "text": ["alpha beta", None, "", "x" * 20_000, "gamma"],
            }
        ),
        path,
    )
    rows, quarantined, _ = ingest([path], PARQUET)
    assert rows["source_record"].to_pylist() == [0, 4]
    assert rows["source_id"].to_pylist() == ["1", "5"]
    assert reasons(quarantined) == {
        1: Reason.TEXT_MISSING,
        2: Reason.TEXT_EMPTY,
        3: Reason.OVERSIZED_RECORD,
    }


def test_parquet_without_a_string_text_column(tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    pq.write_table(pa.table({"body": ["a", "b"]}), missing)
    numeric = tmp_path / "numeric.parquet"
    pq.write_table(pa.table({"text": [1, 2, 3]}), numeric)
    rows, quarantined, _ = ingest([missing, numeric], PARQUET)
    assert rows.num_rows == 0
    assert (
        sorted(quarantined["reason"].to_pylist())
        == [Reason.TEXT_MISSING] * 2 + [Reason.TEXT_NOT_STRING] * 3
    )


def test_corrupt_parquet_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    rows, quarantined, _ = ingest([path], PARQUET)
    assert rows.num_rows == 0
    assert quarantined["reason"].to_pylist() == [Reason.UNREADABLE_FILE]


@pytest.mark.parametrize("block_bytes", [64 * 1024, 1 << 20])
def test_block_size_does_not_change_the_result(tmp_path: Path, block_bytes: int) -> None:
    records = [good(i) for i in range(3000)]
    path = lines(tmp_path / "a.jsonl", records)
    limits = IngestConfig(max_record_bytes=10_000, read_block_bytes=block_bytes)
    rows, _, _ = ingest([path], limits=limits)
    assert rows["source_record"].to_pylist() == list(range(3000))


def test_doc_id_formula_is_pinned() -> None:
    # Existing lakes keep their ids: sha256 of "{uri}#{record}", first 32 hex characters.
    assert doc_id("file:///landing/notes/a.jsonl", 7) == "5b4e002f97b1ac8310bf33708de89cba"
    assert doc_ids("s3://bucket/x.jsonl.gz", [0, 1, 12]) == [
        doc_id("s3://bucket/x.jsonl.gz", record) for record in (0, 1, 12)
    ]


def test_lone_surrogates_are_quarantined_and_the_rest_is_written(
    tmp_path: Path, catalog: Catalog, commit: CommitInfo
) -> None:
    # Valid JSON whose strings cannot be stored as UTF-8: a lone high or low surrogate, in the
    # text or in the id. A proper surrogate pair and an escaped backslash stay valid.
    path = lines(
        tmp_path / "a.jsonl",
        [
            good(0),
            b'{"text": "\\ud800 abc"}',
            b'{"id": "x", "text": "tail \\udfff"}',
            b'{"id": "\\udc00", "text": "fine text"}',
            b'{"text": "pair \\ud83d\\ude00 and a path C:\\\\ud800"}',
            good(5),
        ],
    )
    rows, quarantined, stats = ingest([path])
    assert rows["source_record"].to_pylist() == [0, 4, 5]
    assert rows["text"].to_pylist()[1] == "pair \U0001f600 and a path C:\\ud800"
    assert reasons(quarantined) == {
        1: "invalid_unicode",
        2: "invalid_unicode",
        3: "invalid_unicode",
    }
    assert "lone surrogate U+DFFF at character 5" in quarantined["detail"].to_pylist()[1]
    assert stats.quarantined == {"invalid_unicode": 3}
    assert stats.records_read == 6 == stats.rows_written + stats.rows_quarantined
    # The rows reach the lake, and re-reading the file gives the same ids.
    catalog.write(BRONZE_DOCUMENTS, rows, commit)
    catalog.write(BRONZE_QUARANTINE, quarantined, commit)
    assert catalog.read(BRONZE_DOCUMENTS).num_rows + catalog.read(BRONZE_QUARANTINE).num_rows == 6
    again, _, _ = ingest([path])
    assert again["doc_id"].to_pylist() == catalog.read(BRONZE_DOCUMENTS)["doc_id"].to_pylist()


WARC = JSONL.model_copy(update={"format": "warc", "name": "crawl"})
HTML = JSONL.model_copy(update={"format": "html", "name": "pages", "url_field": "url"})


def test_warc_pages_become_bronze_rows_with_web_provenance(tmp_path: Path) -> None:
    from tests.warc_files import FETCHED, html_record, http_response, page_html, record, warcinfo
    from tests.warc_files import write_warc as write

    article = ["A long enough sentence about rivers and bridges in the town."] * 2
    members = [
        warcinfo(),
        html_record("https://news.example/a", page_html("A", article)),
        record("https://news.example/img", http_response(b"GIF89a", "image/gif")),
        html_record("https://news.example/b", page_html("B", article))[:-30],
    ]
    path = write(tmp_path / "crawl.warc.gz", members)
    rows, quarantined, stats = ingest([path], WARC)
    # The warcinfo record is no document: counted nowhere, like a blank line.
    assert stats.records_read == 3
    (row,) = rows.to_pylist()
    assert row["doc_id"] == doc_id(str(path), 1) and row["source_record"] == 1
    assert row["url"] == "https://news.example/a" and row["fetched_at"] == FETCHED
    assert row["content_type"] == "text/html; charset=utf-8"
    assert row["warc_record_id"] == row["source_id"] and row["warc_record_id"].startswith("<urn:")
    assert row["source_offset"] == len(members[0])
    assert "rivers and bridges" in row["text"] and "About us" not in row["text"]
    assert reasons(quarantined) == {2: "not_html", 3: "truncated_record"}
    details = quarantined["detail"].to_pylist()
    assert details[0].startswith(
        f"WARC record 2 at byte {len(members[0]) + len(members[1])} (<urn:"
    )
    assert quarantined["doc_id"].to_pylist()[1] == doc_id(str(path), 3)


def test_json_lines_rows_have_null_web_columns(tmp_path: Path) -> None:
    rows, _, _ = ingest([lines(tmp_path / "a.jsonl", [good(0)])])
    row = rows.to_pylist()[0]
    assert [row[name] for name in ("url", "fetched_at", "warc_record_id", "source_offset")] == [
        None
    ] * 4


def test_html_files_and_html_parquet_columns(tmp_path: Path) -> None:
    from tests.warc_files import page_html

    page = tmp_path / "one.html"
    page.write_text(page_html("Page", ["The only paragraph of the page, with words."]))
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    table = pa.table(
        {
            "text": [page_html("Row", ["Row text of a page in a column."]), None],
            "url": ["https://b.example/row", "https://b.example/none"],
        }
    )
    column = tmp_path / "pages.parquet"
    pq.write_table(table, column)
    rows, quarantined, _ = ingest([page, empty, column], HTML)
    texts = {row["source_uri"].rsplit("/", 1)[1]: row for row in rows.to_pylist()}
    assert "only paragraph" in texts["one.html"]["text"]
    assert texts["pages.parquet"]["url"] == "https://b.example/row"
    assert texts["pages.parquet"]["source_offset"] is None
    assert sorted(quarantined["reason"].to_pylist()) == ["no_main_text", "text_missing"]
