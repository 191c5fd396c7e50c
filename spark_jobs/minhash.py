"""MinHash signatures and LSH band keys of documents, computed with NumPy over Arrow batches.

A document's shingles are its lower-cased word n-grams (words: runs of Unicode letters and
digits). A document with fewer words than one shingle is a single shingle of all its words; a
document without any word has no signature and takes part in exact dedup only.

Everything is vectorized: words are found byte by byte in the lower-cased UTF-8 (Arrow's regex
kernel first turns non-ASCII separators into spaces), hashed eight bytes at a time (a polynomial
over the UTF-8 bytes), combined into 64-bit shingle hashes, and each of the
`bands × rows_per_band` permutations is a multiply-add hash (`a·x + b mod 2⁶⁴`, keeping the high
32 bits) whose minimum over a document's shingles is taken with `np.minimum.reduceat`.
A band key is a 64-bit hash of the band's `rows_per_band` values: two documents share a band
exactly when they share that key (barring a 2⁻⁶⁴ collision).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, IntegerType, LongType, StructField, StructType

from lakehouse.recipe import DedupConfig

# Non-ASCII characters that separate words (ASCII ones are classified byte by byte).
_NON_ASCII_SEPARATORS = r"[^\p{L}\p{N}\x00-\x7f]+"
# Text bytes hashed at a time inside one Arrow batch, and shingles per permutation block: both
# bound the worker's memory (a block is `SHINGLE_BLOCK × hashes × 8` bytes, 7 MiB at 112).
TEXT_CHUNK_BYTES = 8 * 1024 * 1024
SHINGLE_BLOCK = 8192

_U64 = np.uint64
_WORD_BASE = _U64(0x100000001B3)
_SHINGLE_BASE = _U64(0x9E3779B97F4A7C15)
_EMPTY_MIN = np.iinfo(np.uint64).max
_BYTE_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the whole 64-bit output."""
    z = values + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


@dataclass(frozen=True)
class DocumentWords:
    """Word hashes of a run of documents in document order; document `d` has `counts[d]` words."""

    hashes: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class _WordSpans:
    """Where the words are in the lower-cased UTF-8 bytes of a run of texts."""

    data: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    counts: np.ndarray


def _word_spans(texts: pa.Array) -> _WordSpans:
    """Byte spans of each text's words: runs of ASCII letters and digits and non-ASCII letters.

    The text is lower-cased, non-ASCII characters that are neither letters nor digits (curly
    quotes, dashes, no-break spaces, …) become spaces, and the rest is classified byte by byte.
    """
    lowered = pc.utf8_lower(pc.fill_null(texts.cast(pa.large_string()), ""))
    offsets, data = _buffers(lowered)
    if data.size and data.max() >= 0x80:
        lowered = pc.replace_substring_regex(lowered, _NON_ASCII_SEPARATORS, " ")
        offsets, data = _buffers(lowered)
    if not data.size:
        empty = np.zeros(0, np.int64)
        return _WordSpans(data, empty, empty, np.zeros(len(texts), np.int64))
    is_word = (data >= 0x80) | ((data - 48) < 10) | (((data | 0x20) - 97) < 26)
    first = offsets[:-1][offsets[:-1] < offsets[1:]]
    last = offsets[1:][offsets[:-1] < offsets[1:]] - 1
    starts = np.empty_like(is_word)
    starts[0] = is_word[0]
    np.greater(is_word[1:], is_word[:-1], out=starts[1:])
    starts[first] = is_word[first]
    ends = np.empty_like(is_word)
    ends[-1] = is_word[-1]
    np.greater(is_word[:-1], is_word[1:], out=ends[:-1])
    ends[last] = is_word[last]
    start_positions = np.flatnonzero(starts)
    counts = np.diff(np.searchsorted(start_positions, offsets)).astype(np.int64)
    return _WordSpans(data, start_positions, np.flatnonzero(ends) + 1, counts)


def _buffers(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (rebased to 0) and data bytes of a large_string array."""
    offsets = np.frombuffer(strings.buffers()[1], np.int64)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    data = np.frombuffer(strings.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def document_words(texts: pa.Array) -> DocumentWords:
    """A 64-bit hash of every word of each text (polynomial over its UTF-8 bytes, 8 at a time)."""
    spans = _word_spans(texts)
    lengths = spans.ends - spans.starts
    if not len(lengths):
        return DocumentWords(np.zeros(0, np.uint64), spans.counts)
    # Eight bytes at a time: element i of `blocks` is bytes i..i+7 (unaligned, little-endian).
    padded = np.concatenate([spans.data, np.zeros(8, np.uint8)])
    blocks = np.ndarray((len(spans.data) + 1,), "<u8", padded, 0, (1,))
    state = blocks[spans.starts] & _BYTE_MASKS[np.minimum(lengths, 8)]
    for k in range(8, int(lengths.max()), 8):
        longer = np.flatnonzero(lengths > k)
        tail = blocks[spans.starts[longer] + k] & _BYTE_MASKS[np.minimum(lengths[longer] - k, 8)]
        state[longer] = state[longer] * _WORD_BASE + tail
    hashes = _mix64(state ^ lengths.astype(np.uint64))
    return DocumentWords(hashes, spans.counts)


def shingle_hashes(doc_words: DocumentWords, size: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of each document's word `size`-grams, flattened, and the count per document.

    A document with 1 to `size - 1` words has one shingle of all its words.
    """
    hashes, counts = doc_words.hashes, doc_words.counts
    per_doc = np.where(counts >= size, counts - size + 1, np.minimum(counts, 1))
    doc_first = np.cumsum(counts) - counts
    starts = np.repeat(doc_first, per_doc) + (
        np.arange(int(per_doc.sum())) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
    )
    span = np.repeat(np.minimum(counts, size), per_doc)
    padded = np.concatenate([hashes, np.zeros(size, np.uint64)])
    combined = padded[starts].copy()
    factor = _U64(1)
    short = span < size
    for k in range(1, size):
        factor = _U64((int(factor) * int(_SHINGLE_BASE)) % 2**64)
        term = padded[starts + k] * factor
        if short.any():
            term[short & (span <= k)] = 0
        combined += term
    return _mix64(combined), per_doc.astype(np.int64)


@dataclass(frozen=True)
class MinHasher:
    """The hash permutations of a recipe's dedup section (the same seed gives the same ones)."""

    num_hashes: int
    bands: int
    rows_per_band: int
    shingle_size: int
    seed: int

    @classmethod
    def from_config(cls, config: DedupConfig) -> MinHasher:
        """The permutations for a recipe's `dedup:` section."""
        return cls(
            config.num_hashes, config.bands, config.rows_per_band, config.shingle_size, config.seed
        )

    @cached_property
    def _parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        top = np.iinfo(np.uint64).max
        multipliers = rng.integers(1, top, self.num_hashes, np.uint64, endpoint=True) | _U64(1)
        offsets = rng.integers(0, top, self.num_hashes, np.uint64, endpoint=True)
        band_weights = rng.integers(1, top, self.rows_per_band, np.uint64, endpoint=True) | _U64(1)
        return multipliers, offsets, band_weights

    def signatures(self, shingle_values: np.ndarray, per_doc: np.ndarray) -> np.ndarray:
        """(documents × num_hashes) uint32 MinHash values; rows without shingles are all 2³²−1."""
        multipliers, offsets, _ = self._parameters
        minima = np.full((len(per_doc), self.num_hashes), _EMPTY_MIN, np.uint64)
        owners = np.repeat(np.arange(len(per_doc)), per_doc)
        # Hashes × shingles: the reduction runs along contiguous memory, 4× faster than rows.
        block = np.empty((self.num_hashes, SHINGLE_BLOCK), np.uint64)
        for low in range(0, len(shingle_values), SHINGLE_BLOCK):
            high = min(low + SHINGLE_BLOCK, len(shingle_values))
            values = block[:, : high - low]
            np.multiply(multipliers[:, None], shingle_values[None, low:high], out=values)
            np.add(values, offsets[:, None], out=values)
            segment = owners[low:high]
            starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
            docs = segment[starts]
            reduced = np.minimum.reduceat(values, starts, axis=1).T
            minima[docs] = np.minimum(minima[docs], reduced)
        return (minima >> _U64(32)).astype(np.uint32)

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """(documents × bands) int64 keys, one hash of each band's `rows_per_band` values."""
        _, _, band_weights = self._parameters
        rows = signatures.reshape(len(signatures), self.bands, self.rows_per_band)
        combined = (rows.astype(np.uint64) * band_weights[None, None, :]).sum(
            axis=2, dtype=np.uint64
        )
        return _mix64(combined).view(np.int64)

    def text_signatures(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Signatures of texts and whether each has one (at least one word)."""
        values, per_doc = shingle_hashes(document_words(texts), self.shingle_size)
        return self.signatures(values, per_doc), per_doc > 0


def estimated_jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard."""
    return float(np.mean(first == second))


def _text_chunks(texts: pa.Array) -> Iterator[tuple[int, int]]:
    """[start, stop) row ranges of `texts` holding about TEXT_CHUNK_BYTES of text each."""
    sizes = pc.fill_null(pc.binary_length(texts), 0).to_numpy(zero_copy_only=False)
    total = np.cumsum(sizes)
    start = 0
    while start < len(texts):
        base = total[start - 1] if start else 0
        stop = int(np.searchsorted(total, base + TEXT_CHUNK_BYTES, side="right"))
        stop = max(stop, start + 1)
        yield start, min(stop, len(texts))
        start = stop


def _list_column(matrix: np.ndarray, present: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A list array of the matrix's rows, null where `present` is false."""
    width = matrix.shape[1]
    counts = np.where(present, width, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pa.array(matrix[present].reshape(-1), type_)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(~present, pa.bool_()))


def signature_batches(
    batches: Iterator[pa.RecordBatch], hasher: MinHasher, keys: Sequence[str], text: str
) -> Iterator[pa.RecordBatch]:
    """For each Arrow batch, its key columns plus `signature` and `band_keys` (see module)."""
    for batch in batches:
        texts = batch.column(text)
        for start, stop in _text_chunks(texts):
            part = batch.slice(start, stop - start)
            signatures, present = hasher.text_signatures(part.column(text))
            bands = hasher.band_keys(signatures)
            yield pa.RecordBatch.from_arrays(
                [
                    *(part.column(key) for key in keys),
                    _list_column(signatures.view(np.int32), present, pa.int32()),
                    _list_column(bands, present, pa.int64()),
                ],
                names=[*keys, "signature", "band_keys"],
            )


def minhash_signatures(
    df: DataFrame, config: DedupConfig, keys: Sequence[str] = ("doc_id",), text: str = "text"
) -> DataFrame:
    """`keys` plus `signature` (array<int>, bands × rows values) and `band_keys` (array<bigint>).

    Both are null for a document without words. Runs as an Arrow-vectorized `mapInArrow`.
    """
    hasher = MinHasher.from_config(config)
    schema = StructType(
        [
            *(df.schema[key] for key in keys),
            StructField("signature", ArrayType(IntegerType(), False), True),
            StructField("band_keys", ArrayType(LongType(), False), True),
        ]
    )
    key_names = list(keys)

    def _compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return signature_batches(batches, hasher, key_names, text)

    return df.select(*key_names, text).mapInArrow(_compute, schema)
