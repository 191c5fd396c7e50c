"""Reading landing files into bronze rows, in bounded memory, quarantining whatever is unusable.

Supported: JSON lines (plain, `.gz`, `.zst`), Parquet, WARC/WET (gzip per record) and HTML (a
page per file, or an HTML column of Parquet), from local paths or any fsspec URI. Web pages go
through `lakehouse.web`: main text extracted, URL, fetch date, content type, WARC record id and
offset kept as provenance.
Each file is decoded `read_block_bytes` at a time. A block of JSON lines is parsed by Arrow's
multithreaded reader; a block that Arrow rejects (malformed JSON, invalid UTF-8, a wrong type, an
oversized or blank line) is re-read line by line so that exactly the bad records are quarantined.

Every record read ends up in exactly one place: a bronze row or a quarantine row (`IngestStats`
keeps the count). A file that cannot be opened counts as one quarantined record.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import zstandard
from isal import igzip, isal_zlib

from lakehouse.batches import FILE_CHANGED, FILE_MISSING, LandingFile
from lakehouse.prefetch import prefetched
from lakehouse.recipe import IngestConfig, SourceConfig
from lakehouse.storage import filesystem, storage_options_from_env
from lakehouse.tables import BRONZE_DOCUMENTS, BRONZE_QUARANTINE
from lakehouse.web import WebPage, WebReason, WebReject, html_page_text, warc_pages

PREVIEW_BYTES = 512
UTF8_BOM = b"\xef\xbb\xbf"
_SPOOL_ROWS = 4096
_PARQUET_BATCH_ROWS = 8192
_HASH_CHUNK = 1024
_INGESTED_AT_TYPE = BRONZE_DOCUMENTS.schema.field("ingested_at").type
_WEB_COLUMNS = ("url", "fetched_at", "content_type", "warc_record_id", "source_offset")
# Pages per bronze record batch: extraction is the cost, so batches stay small.
_WEB_BATCH_PAGES = 1024


class Reason:
    """Machine-readable quarantine reasons."""

    FILE_MISSING = FILE_MISSING
    FILE_CHANGED = FILE_CHANGED
    UNREADABLE_FILE = "unreadable_file"
    TRUNCATED_FILE = "truncated_file"
    CORRUPT_FILE = "corrupt_file"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_UNICODE = "invalid_unicode"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    TEXT_MISSING = "text_missing"
    TEXT_NOT_STRING = "text_not_string"
    TEXT_EMPTY = "text_empty"
    OVERSIZED_RECORD = "oversized_record"
    # Web records (WARC, HTML), as lakehouse.web reports them.
    NOT_HTML = WebReason.NOT_HTML
    BROKEN_HTTP = WebReason.BROKEN_HTTP
    HTTP_NOT_OK = WebReason.HTTP_NOT_OK
    UNDECODABLE_CHARSET = WebReason.UNDECODABLE_CHARSET
    TRUNCATED_RECORD = WebReason.TRUNCATED_RECORD
    CORRUPT_RECORD = WebReason.CORRUPT_RECORD
    BROKEN_WARC_RECORD = WebReason.BROKEN_WARC_RECORD
    UNSUPPORTED_RECORD = WebReason.UNSUPPORTED_RECORD
    NO_MAIN_TEXT = WebReason.NO_MAIN_TEXT


@dataclass
class IngestStats:
    """Counts of one ingestion: every record read is either written or quarantined."""

    files: int = 0
    bytes_read: int = 0
    records_read: int = 0
    rows_written: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)

    @property
    def rows_quarantined(self) -> int:
        """All quarantined records, whatever the reason."""
        return sum(self.quarantined.values())


def doc_id(source_uri: str, record: int) -> str:
    """The stable id of record `record` of `source_uri`: 32 hex chars of a sha256."""
    return doc_ids(source_uri, [record])[0]


def doc_ids(source_uri: str, records: list[int]) -> list[str]:
    """`doc_id` of each of `records` of `source_uri`, the URI's hash prefix computed once.

    sha256 of `{source_uri}#{record}`: existing lakes keep their ids, so this must not change.
    """
    prefix = hashlib.sha256(f"{source_uri}#".encode())
    ids = []
    for record in records:
        digest = prefix.copy()
        digest.update(str(record).encode())
        ids.append(digest.hexdigest()[:32])
    return ids


def _preview(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw[:PREVIEW_BYTES].decode("utf-8", errors="replace")


class QuarantineSink:
    """Collects quarantine rows for one ingestion, spooling them to a temporary Parquet file.

    Memory stays bounded however much of a batch is bad.
    """

    def __init__(self, batch_id: str, run_id: str, quarantined_at: datetime, stats: IngestStats):
        self.batch_id = batch_id
        self.run_id = run_id
        self.quarantined_at = quarantined_at
        self.stats = stats
        self._pending: list[dict[str, Any]] = []
        self._directory = tempfile.TemporaryDirectory(prefix="funnel-quarantine-")
        self._path = Path(self._directory.name) / "quarantine.parquet"
        self._writer: pq.ParquetWriter | None = None

    def add(
        self,
        landing_file: LandingFile,
        record: int | None,
        reason: str,
        detail: str,
        raw: bytes | None = None,
        raw_bytes: int | None = None,
    ) -> None:
        """Quarantine one record (or, with `record` None, a whole file)."""
        self.stats.quarantined[reason] += 1
        self.stats.records_read += 1
        self._pending.append(
            {
                "doc_id": None if record is None else doc_id(landing_file.uri, record),
                "batch_id": self.batch_id,
                "source": landing_file.source,
                "source_uri": landing_file.uri,
                "source_record": record,
                "reason": reason,
                "detail": detail,
                "raw_preview": _preview(raw),
                "raw_bytes": raw_bytes if raw_bytes is not None else (len(raw) if raw else None),
                "run_id": self.run_id,
                "quarantined_at": self.quarantined_at,
            }
        )
        if len(self._pending) >= _SPOOL_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pylist(self._pending, schema=BRONZE_QUARANTINE.schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._path, BRONZE_QUARANTINE.schema)
        self._writer.write_table(table)
        self._pending = []

    def rows(self) -> pa.Table:
        """All quarantine rows collected (memory-mapped from the spool file)."""
        self._flush()
        if self._writer is None:
            return BRONZE_QUARANTINE.schema.empty_table()
        self._writer.close()
        self._writer = None
        return pq.read_table(self._path, memory_map=True)

    def close(self) -> None:
        """Remove the spool file."""
        if self._writer is not None:
            self._writer.close()
        self._directory.cleanup()


@dataclass(frozen=True)
class _Block:
    first_line: int
    data: bytes


@dataclass(frozen=True)
class _Oversized:
    size: int
    prefix: bytes


@dataclass(frozen=True)
class _StreamError:
    reason: str
    detail: str
    partial: bytes


class _ZstdStream:
    """Reads concatenated zstd frames; unlike zstandard's stream reader, a cut frame is an error."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False

    def read(self, size: int) -> bytes:
        """Up to about `size` decompressed bytes; b"" at the end; EOFError if the end is cut."""
        while True:
            chunk = self._raw.read(size)
            if not chunk:
                if self._fed and not self._frame.eof:
                    raise EOFError("zstd frame is incomplete")
                return b""
            out = []
            while chunk:
                if self._frame.eof:
                    self._frame = zstandard.ZstdDecompressor().decompressobj()
                out.append(self._frame.decompress(chunk))
                self._fed = True
                chunk = self._frame.unused_data if self._frame.eof else b""
            data = b"".join(out)
            if data:
                return data


def _decompressing(raw: IO[bytes], uri: str) -> IO[bytes] | _ZstdStream:
    name = uri.lower()
    if name.endswith(".gz"):
        return igzip.GzipFile(fileobj=raw, mode="rb")
    if name.endswith((".zst", ".zstd")):
        return _ZstdStream(raw)
    return raw


def _line_blocks(
    stream: IO[bytes] | _ZstdStream, block_bytes: int, max_record_bytes: int
) -> Iterator[bytes | _Oversized | _StreamError]:
    """Whole lines of a byte stream, in blocks of about `block_bytes`, in file order.

    A line longer than `max_record_bytes` that has not ended within the buffer is skipped without
    holding it in memory and reported as `_Oversized` in its place; a decoding failure ends the
    stream with a `_StreamError` carrying whatever partial line was buffered.
    """
    buffer = b""
    skipping: _Oversized | None = None
    decoded_any = False
    while True:
        try:
            chunk = stream.read(block_bytes)
        except EOFError as error:
            yield _StreamError(Reason.TRUNCATED_FILE, f"file ends early: {error}", buffer)
            return
        except (OSError, zlib.error, isal_zlib.error, zstandard.ZstdError) as error:
            reason = Reason.CORRUPT_FILE if decoded_any else Reason.UNREADABLE_FILE
            yield _StreamError(reason, f"cannot decode: {error}", buffer)
            return
        if not chunk:
            break
        if not decoded_any:
            # A byte-order mark opening the file (Windows exports) belongs to no record.
            chunk = chunk.removeprefix(UTF8_BOM)
        decoded_any = True
        if skipping is not None:
            end = chunk.find(b"\n")
            if end == -1:
                skipping = _Oversized(skipping.size + len(chunk), skipping.prefix)
                continue
            yield _Oversized(skipping.size + end, skipping.prefix)
            skipping = None
            chunk = chunk[end + 1 :]
        cut = chunk.rfind(b"\n")
        if cut == -1:
            buffer += chunk
        else:
            # One copy of the block at most: none when it holds whole lines only.
            yield (
                chunk
                if not buffer and cut == len(chunk) - 1
                else b"".join((buffer, memoryview(chunk)[: cut + 1]))
            )
            buffer = chunk[cut + 1 :]
        if len(buffer) > max_record_bytes:
            skipping = _Oversized(len(buffer), buffer[:PREVIEW_BYTES])
            buffer = b""
    if skipping is not None:
        yield skipping
    elif buffer:
        yield buffer + b"\n"


def _valid_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8 (checked by Arrow in place, without decoding a copy)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _blank(texts: pa.Array) -> pa.Array:
    """True where a text is empty or only whitespace (scanned in place, no copy of the text)."""
    return pc.or_(pc.equal(pc.binary_length(texts), 0), pc.utf8_is_space(texts))


def _string_column(values: pa.Array) -> pa.Array:
    """Any scalar column as strings (ids may be numbers in one source, strings in another)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    return pc.cast(values, pa.string())


class _FileReader:
    """Turns one landing file into bronze record batches, quarantining bad records."""

    def __init__(
        self,
        landing_file: LandingFile,
        source: SourceConfig,
        limits: IngestConfig,
        batch_id: str,
        ingested_at: datetime,
        quarantine: QuarantineSink,
    ):
        self.file = landing_file
        self.source = source
        self.limits = limits
        self.batch_id = batch_id
        self.ingested_at = ingested_at
        self.quarantine = quarantine
        self.stats = quarantine.stats

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Bronze rows of the file, block by block."""
        self.stats.files += 1
        try:
            files, path = filesystem(self.file.uri, storage_options_from_env())
            raw = files.open(path, "rb")
        except FileNotFoundError:
            self.quarantine.add(
                self.file, None, Reason.FILE_MISSING, "file vanished before it could be read"
            )
            return
        except OSError as error:
            self.quarantine.add(self.file, None, Reason.UNREADABLE_FILE, f"cannot open: {error}")
            return
        with raw:
            if self.source.format == "warc":
                yield from self._warc(raw)
            elif self.source.format == "html" and self.file.uri.lower().endswith(".parquet"):
                yield from self._html_parquet(raw)
            elif self.source.format == "html":
                yield from self._html_file(raw)
            elif self.source.format == "parquet":
                yield from self._parquet(raw)
            else:
                yield from self._jsonl(_decompressing(raw, self.file.uri))
            self.stats.bytes_read += raw.tell() if hasattr(raw, "tell") else 0

    def _jsonl(self, stream: IO[bytes] | _ZstdStream) -> Iterator[pa.RecordBatch]:
        limit = self.limits.max_record_bytes
        line = 0
        blocks = _line_blocks(stream, self.limits.read_block_bytes, limit)
        for item in prefetched(blocks, depth=2):
            if isinstance(item, bytes):
                batches, lines = self._jsonl_block(_Block(line, item))
                line += lines
                yield from batches
            elif isinstance(item, _Oversized):
                detail = f"record of {item.size} bytes exceeds ingest.max_record_bytes={limit}"
                self.quarantine.add(
                    self.file, line, Reason.OVERSIZED_RECORD, detail, item.prefix, item.size
                )
                line += 1
            else:
                self.quarantine.add(self.file, line, item.reason, item.detail, item.partial or None)

    def _jsonl_block(self, block: _Block) -> tuple[list[pa.RecordBatch], int]:
        """Bronze rows of a block of whole lines, and how many lines it held."""
        data = block.data
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        starts = np.concatenate(([0], ends[:-1] + 1))
        lengths = ends - starts
        fast = lengths.min(initial=1) > 0 and lengths.max(initial=0) <= self.limits.max_record_bytes
        # Arrow's JSON parser passes invalid UTF-8 inside strings through unchecked.
        if fast and _valid_utf8(data):
            parsed = self._arrow_parse(data, int(lengths.max()), len(ends))
            if parsed is not None:
                # Chunk by chunk as Arrow parsed them: joining the chunks would copy the texts.
                batches, first = [], 0
                for chunk in parsed.to_batches():
                    batches.append(self._fast_rows(chunk, block, first, starts, ends))
                    first += chunk.num_rows
                return batches, len(ends)
        batch = self._line_by_line(block, starts, ends)
        return ([] if batch is None else [batch]), len(ends)

    def _arrow_parse(self, data: bytes, longest: int, lines: int) -> pa.Table | None:
        text_field = self.source.text_field
        options = pa_json.ParseOptions(
            explicit_schema=pa.schema([(text_field, pa.string())]),
            unexpected_field_behavior="infer",
        )
        read = pa_json.ReadOptions(block_size=max(1 << 22, longest + 2))
        try:
            # A BufferReader lends Arrow the block in place: no copy, and its reader threads
            # never wait for the GIL to call a Python file's read().
            parsed = pa_json.read_json(
                pa.BufferReader(data), read_options=read, parse_options=options
            )
        except (pa.ArrowInvalid, UnicodeDecodeError, pa.ArrowNotImplementedError):
            return None
        if parsed.num_rows != lines:
            return None
        id_field = self.source.id_field
        if id_field and id_field in parsed.column_names:
            try:
                _string_column(parsed[id_field].combine_chunks())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None
        return parsed

    def _fast_rows(
        self,
        chunk: pa.RecordBatch,
        block: _Block,
        first: int,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> pa.RecordBatch:
        """Bronze rows of a chunk of Arrow's parse, whose first row is the block's line `first`."""
        texts = chunk.column(self.source.text_field)
        id_field = self.source.id_field
        ids = (
            _string_column(chunk.column(id_field))
            if id_field and id_field in chunk.schema.names
            else pa.nulls(len(texts), pa.string())
        )
        missing = pc.is_null(texts)
        blank = pc.fill_null(_blank(texts), False)
        bad = pc.or_(missing, blank)
        bad_rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
        start = block.first_line + first
        records = np.arange(start, start + len(texts), dtype=np.int64)
        if not len(bad_rows):
            return self._bronze(texts, ids, records)
        for index in bad_rows:
            line = first + int(index)
            raw = block.data[starts[line] : ends[line]]
            if missing[index].as_py():
                reason, detail = Reason.TEXT_MISSING, f"no {self.source.text_field!r} or null"
            else:
                reason, detail = Reason.TEXT_EMPTY, "text is empty or only whitespace"
            self.quarantine.add(self.file, start + int(index), reason, detail, raw)
        keep = pc.invert(bad)
        return self._bronze(
            pc.filter(texts, keep), pc.filter(ids, keep), records[keep.to_numpy(False)]
        )

    def _line_by_line(
        self, block: _Block, starts: np.ndarray, ends: np.ndarray
    ) -> pa.RecordBatch | None:
        texts: list[str] = []
        ids: list[str | None] = []
        records: list[int] = []
        text_field, id_field = self.source.text_field, self.source.id_field
        limit = self.limits.max_record_bytes
        for offset, (start, end) in enumerate(zip(starts, ends, strict=True)):
            raw = block.data[start:end]
            record = block.first_line + offset
            if not raw.strip():
                continue  # a blank line is not a record
            outcome = _parse_record(raw, text_field, id_field, limit)
            if isinstance(outcome, tuple):
                texts.append(outcome[0])
                ids.append(outcome[1])
                records.append(record)
            else:
                self.quarantine.add(self.file, record, outcome.reason, outcome.detail, raw)
        if not texts:
            return None
        return self._bronze(
            pa.array(texts, pa.string()),
            pa.array(ids, pa.string()),
            np.array(records, dtype=np.int64),
        )

    def _parquet(self, raw: IO[bytes]) -> Iterator[pa.RecordBatch]:
        try:
            parquet = pq.ParquetFile(raw)
        except (pa.ArrowException, OSError) as error:
            self.quarantine.add(
                self.file, None, Reason.UNREADABLE_FILE, f"not a readable Parquet file: {error}"
            )
            return
        names = parquet.schema_arrow.names
        text_field, id_field = self.source.text_field, self.source.id_field
        columns = [name for name in (text_field, id_field) if name and name in names]
        first = 0
        try:
            for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=columns):
                yield from self._parquet_batch(batch, first)
                first += batch.num_rows
        except (pa.ArrowException, OSError) as error:
            self.quarantine.add(
                self.file,
                first,
                Reason.CORRUPT_FILE,
                f"Parquet read failed at row {first}: {error}",
            )

    def _parquet_batch(self, batch: pa.RecordBatch, first: int) -> Iterator[pa.RecordBatch]:
        text_field, id_field = self.source.text_field, self.source.id_field
        size = batch.num_rows
        records = np.arange(first, first + size, dtype=np.int64)
        if text_field not in batch.schema.names:
            for record in records:
                self.quarantine.add(
                    self.file, int(record), Reason.TEXT_MISSING, f"no {text_field!r} column"
                )
            return
        texts = batch[text_field]
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            for record in records:
                self.quarantine.add(
                    self.file,
                    int(record),
                    Reason.TEXT_NOT_STRING,
                    f"{text_field!r} column is {texts.type}, not a string",
                )
            return
        ids = (
            _string_column(batch[id_field])
            if id_field and id_field in batch.schema.names
            else pa.nulls(size, pa.string())
        )
        lengths = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
        missing = pc.is_null(texts).to_numpy(zero_copy_only=False)
        blank = pc.fill_null(_blank(texts), True).to_numpy(zero_copy_only=False) & ~missing
        oversized = lengths > self.limits.max_record_bytes
        for index in np.flatnonzero(missing | blank | oversized):
            if missing[index]:
                reason, detail = Reason.TEXT_MISSING, f"{text_field!r} is null"
            elif oversized[index]:
                reason = Reason.OVERSIZED_RECORD
                detail = (
                    f"text of {lengths[index]} bytes exceeds "
                    f"ingest.max_record_bytes={self.limits.max_record_bytes}"
                )
            else:
                reason, detail = Reason.TEXT_EMPTY, "text is empty or only whitespace"
            value = texts[index].as_py()
            raw = value.encode("utf-8")[:PREVIEW_BYTES] if value else None
            self.quarantine.add(
                self.file, int(records[index]), reason, detail, raw, int(lengths[index])
            )
        keep = ~(missing | blank | oversized)
        if keep.any():
            mask = pa.array(keep)
            yield self._bronze(pc.filter(texts, mask), pc.filter(ids, mask), records[keep])

    def _warc(self, raw: IO[bytes]) -> Iterator[pa.RecordBatch]:
        """Pages of a gzipped WARC/WET file; every broken or non-HTML record quarantined."""
        pages: list[WebPage] = []
        for item in prefetched(warc_pages(raw, self.limits.max_record_bytes), depth=64):
            if isinstance(item, WebReject):
                self._quarantine_web(item)
                continue
            pages.append(item)
            if len(pages) >= _WEB_BATCH_PAGES:
                yield self._web_rows(pages)
                pages = []
        if pages:
            yield self._web_rows(pages)

    def _html_file(self, raw: IO[bytes]) -> Iterator[pa.RecordBatch]:
        """A file that is one HTML page: record 0, its main text."""
        body = raw.read(self.limits.max_record_bytes + 1)
        if len(body) > self.limits.max_record_bytes:
            detail = f"page exceeds ingest.max_record_bytes={self.limits.max_record_bytes}"
            self.quarantine.add(self.file, 0, Reason.OVERSIZED_RECORD, detail, body)
            return
        text = html_page_text(body, None)
        if isinstance(text, WebReject):
            self.quarantine.add(self.file, 0, text.reason, text.detail, text.raw)
            return
        yield self._web_rows([WebPage(0, 0, text, None, None, "text/html", None)])

    def _html_parquet(self, raw: IO[bytes]) -> Iterator[pa.RecordBatch]:
        """A Parquet file with a column of HTML (`text_field`) and maybe one of URLs."""
        html_field, url_field = self.source.text_field, self.source.url_field
        try:
            parquet = pq.ParquetFile(raw)
        except (pa.ArrowException, OSError) as error:
            detail = f"not a readable Parquet file: {error}"
            self.quarantine.add(self.file, None, Reason.UNREADABLE_FILE, detail)
            return
        names = parquet.schema_arrow.names
        if html_field not in names:
            detail = f"no {html_field!r} column of HTML; set the source's text_field"
            self.quarantine.add(self.file, None, Reason.TEXT_MISSING, detail)
            return
        columns = [name for name in (html_field, url_field) if name and name in names]
        record = 0
        for batch in parquet.iter_batches(batch_size=_WEB_BATCH_PAGES, columns=columns):
            pages = []
            urls = batch[url_field].to_pylist() if url_field in columns else [None] * len(batch)
            for html, url in zip(batch[html_field].to_pylist(), urls, strict=True):
                body = html.encode("utf-8") if isinstance(html, str) else html
                if not body:
                    self.quarantine.add(self.file, record, Reason.TEXT_MISSING, "no HTML")
                else:
                    text = html_page_text(body, "text/html; charset=utf-8")
                    if isinstance(text, WebReject):
                        self.quarantine.add(self.file, record, text.reason, text.detail, text.raw)
                    else:
                        pages.append(WebPage(record, 0, text, url, None, "text/html", None))
                record += 1
            if pages:
                yield self._web_rows(pages, offsets=False)

    def _quarantine_web(self, reject: WebReject) -> None:
        where = f"WARC record {reject.record} at byte {reject.offset}"
        if reject.record_id:
            where += f" ({reject.record_id})"
        self.quarantine.add(
            self.file, reject.record, reject.reason, f"{where}: {reject.detail}", reject.raw
        )

    def _web_rows(self, pages: list[WebPage], offsets: bool = True) -> pa.RecordBatch:
        """Bronze rows of extracted pages, with their web provenance."""
        web = {
            "url": pa.array([page.url for page in pages], pa.string()),
            "fetched_at": pa.array([page.fetched_at for page in pages], _INGESTED_AT_TYPE),
            "content_type": pa.array([page.content_type for page in pages], pa.string()),
            "warc_record_id": pa.array([page.record_id for page in pages], pa.string()),
            "source_offset": pa.array(
                [page.offset if offsets else None for page in pages], pa.int64()
            ),
        }
        return self._bronze(
            pa.array([page.text for page in pages], pa.large_string()),
            web["warc_record_id"],
            np.array([page.record for page in pages], dtype=np.int64),
            web,
        )

    def _bronze(
        self,
        texts: pa.Array,
        ids: pa.Array,
        records: np.ndarray,
        web: dict[str, pa.Array] | None = None,
    ) -> pa.RecordBatch:
        """Bronze rows for valid texts: provenance columns, ids and hashes added."""
        texts = pc.cast(texts, pa.large_string())
        size = len(texts)
        self.stats.records_read += size
        self.stats.rows_written += size
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[
            texts.offset : texts.offset + size + 1
        ]
        data_buffer = texts.buffers()[2]
        data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
        hashes = _sha256_hex(data, offsets.tolist())
        constant = {
            "batch_id": self.batch_id,
            "source": self.source.name,
            "domain": self.source.domain,
            "license": self.source.license,
            "source_uri": self.file.uri,
        }
        columns: dict[str, pa.Array] = {
            "doc_id": pa.array(doc_ids(self.file.uri, records.tolist()), pa.string()),
            **{name: pa.array([value] * size, pa.string()) for name, value in constant.items()},
            "source_record": pa.array(records, pa.int64()),
            "source_id": ids,
            "text": texts,
            "text_sha256": pa.array(hashes, pa.string()),
            "text_bytes": pa.array(np.diff(offsets), pa.int64()),
            "ingested_at": pa.array([self.ingested_at] * size, _INGESTED_AT_TYPE),
        }
        for name in _WEB_COLUMNS:
            given = web.get(name) if web is not None else None
            columns[name] = (
                given
                if given is not None
                else pa.nulls(size, BRONZE_DOCUMENTS.schema.field(name).type)
            )
        return pa.RecordBatch.from_arrays(
            [columns[name] for name in BRONZE_DOCUMENTS.schema.names],
            schema=BRONZE_DOCUMENTS.schema,
        )


def _sha256_hex_range(data: memoryview, bounds: list[int]) -> list[str]:
    return [
        hashlib.sha256(data[start:end]).hexdigest() for start, end in itertools.pairwise(bounds)
    ]


def _sha256_hex(data: memoryview, bounds: list[int]) -> list[str]:
    """sha256 hex digests of `data[bounds[i]:bounds[i + 1]]`, hashed on all cores.

    hashlib releases the GIL for inputs over 2 KiB, so threads hash documents in parallel.
    """
    count = len(bounds) - 1
    if count < 2 * _HASH_CHUNK:
        return _sha256_hex_range(data, bounds)
    pieces = [bounds[start : start + _HASH_CHUNK + 1] for start in range(0, count, _HASH_CHUNK)]
    # A pool per call, only for large batches: starting a few threads costs far less than
    # hashing thousands of documents, and no thread outlives the call.
    workers = min(len(pieces), os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sha256") as pool:
        parts = list(pool.map(partial(_sha256_hex_range, data), pieces))
    return [digest for part in parts for digest in part]


@dataclass(frozen=True)
class _Rejected:
    reason: str
    detail: str


def _parse_record(
    raw: bytes, text_field: str, id_field: str | None, limit: int
) -> tuple[str, str | None] | _Rejected:
    """(text, source_id) of one JSON line, or why it cannot be used."""
    if len(raw) > limit:
        return _Rejected(
            Reason.OVERSIZED_RECORD,
            f"record of {len(raw)} bytes exceeds ingest.max_record_bytes={limit}",
        )
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _Rejected(Reason.INVALID_UTF8, f"invalid UTF-8 at byte {error.start}")
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return _Rejected(Reason.MALFORMED_JSON, f"{error.msg} at column {error.colno}")
    except RecursionError:
        # Nesting deeper than Python's parser recurses; Arrow's parser (the fast path) reads
        # it, so the record gets the same outcome whichever path its block takes.
        value = _arrow_record(raw, text_field, id_field)
        if value is None:
            return _Rejected(Reason.MALFORMED_JSON, "nested too deeply to parse")
    if not isinstance(value, dict):
        return _Rejected(
            Reason.NOT_AN_OBJECT, f"a record is a JSON object, got {type(value).__name__}"
        )
    text = value.get(text_field)
    if text is None:
        return _Rejected(Reason.TEXT_MISSING, f"no {text_field!r} or null")
    if not isinstance(text, str):
        return _Rejected(
            Reason.TEXT_NOT_STRING, f"{text_field!r} is a JSON {type(text).__name__}, not a string"
        )
    if not text.strip():
        return _Rejected(Reason.TEXT_EMPTY, "text is empty or only whitespace")
    source_id = value.get(id_field) if id_field else None
    if source_id is not None and not isinstance(source_id, str):
        source_id = json.dumps(source_id, ensure_ascii=False)
    # Only a \uD800–\uDFFF escape can put a lone surrogate into a string decoded from valid
    # UTF-8; such a string is valid JSON but cannot be stored as UTF-8.
    if b"\\ud" in raw or b"\\uD" in raw:
        for name, field_value in ((text_field, text), (id_field, source_id)):
            problem = _lone_surrogate(field_value)
            if problem:
                return _Rejected(Reason.INVALID_UNICODE, f"{name!r} {problem}")
    return text, source_id


def _arrow_record(raw: bytes, text_field: str, id_field: str | None) -> dict[str, Any] | None:
    """The text and id fields of one JSON line parsed by Arrow (None if Arrow cannot parse it)."""
    options = pa_json.ParseOptions(
        explicit_schema=pa.schema([(text_field, pa.string())]), unexpected_field_behavior="infer"
    )
    read = pa_json.ReadOptions(block_size=max(1 << 22, len(raw) + 2))
    try:
        parsed = pa_json.read_json(io.BytesIO(raw + b"\n"), read, options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.num_rows != 1:
        return None
    names = [name for name in (text_field, id_field) if name and name in parsed.column_names]
    return {name: parsed[name][0].as_py() for name in names}


def _lone_surrogate(value: str | None) -> str | None:
    """Where `value` holds a lone UTF-16 surrogate (not encodable as UTF-8), else None."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            f"holds a lone surrogate U+{ord(value[error.start]):04X} at character {error.start}, "
            "which is not valid Unicode text"
        )
    return None


def read_landing_files(
    files: list[tuple[LandingFile, SourceConfig]],
    limits: IngestConfig,
    batch_id: str,
    ingested_at: datetime,
    quarantine: QuarantineSink,
) -> Iterator[pa.RecordBatch]:
    """Bronze record batches of every file in turn; bad records go to `quarantine`.

    Batches are produced one ahead of the consumer, so reading overlaps with writing.
    """

    def every_file() -> Iterator[pa.RecordBatch]:
        for landing_file, source in files:
            reader = _FileReader(landing_file, source, limits, batch_id, ingested_at, quarantine)
            yield from reader.batches()

    return prefetched(every_file(), depth=1)
