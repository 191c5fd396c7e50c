import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

import spark_jobs.minhash as minhash
from lakehouse.recipe import DedupConfig
from lakehouse.shingles import shingles, words
from spark_jobs.minhash import (
    MinHasher,
    document_words,
    estimated_jaccard,
    minhash_signatures,
    shingle_hashes,
    signature_batches,
)
from tests.spark_cluster import spark

__all__ = ["spark"]

CONFIG = DedupConfig()
TRICKY = [
    "The quick, brown fox!",
    "Ünïcode-Wörter: ÄBC_def 12³ “Quoted” — dash… naïve café",
    "abcdefgh abcdefghi abcdefghij 0123456789abcdefghijklmnop x",
    "  leading and trailing spaces  ",
    "one",
    "",
    "!!! ??? ...",
    "tab\tseparated\nlines\r\nand — dashes",
    "日本語のテキスト と 中文 text mixed",
]


def _texts(values: list[str | None]) -> pa.Array:
    return pa.array(values, pa.large_string())


def _jaccard(first: str, second: str) -> float:
    a, b = shingles(first, 5), shingles(second, 5)
    return len(a & b) / len(a | b)


def test_words_are_lowercased_runs_of_letters_and_digits() -> None:
    assert words("The quick, brown fox!") == ["the", "quick", "brown", "fox"]
    assert words("snake_case x2 Ärger—naïve") == ["snake", "case", "x2", "ärger", "naïve"]
    assert words("!!! ...") == []


def test_shingles_of_short_and_empty_documents() -> None:
    assert shingles("a b c d e f", 5) == {("a", "b", "c", "d", "e"), ("b", "c", "d", "e", "f")}
    assert shingles("Hello, world", 5) == {("hello", "world")}
    assert shingles("", 5) == set()
    assert shingles("— …", 5) == set()


def test_vectorized_shingles_match_the_reference_definition() -> None:
    values, per_doc = shingle_hashes(document_words(_texts([*TRICKY, None])), 5)
    offsets = np.r_[0, np.cumsum(per_doc)]
    for index, text in enumerate([*TRICKY, ""]):
        hashed = set(values[offsets[index] : offsets[index + 1]].tolist())
        assert len(hashed) == len(shingles(text, 5)), text


def test_word_hashes_see_every_byte_of_long_words() -> None:
    hashed = document_words(_texts(["abcdefghX abcdefghY abcdefgh abcdefghX"])).hashes
    assert len(set(hashed.tolist())) == 3
    assert hashed[0] == hashed[3]


def test_equal_word_sequences_have_equal_signatures() -> None:
    hasher = MinHasher.from_config(CONFIG)
    signatures, present = hasher.text_signatures(
        _texts(["The quick brown fox jumps over", "the QUICK brown fox — jumps over!", "", None])
    )
    assert signatures.shape == (4, 112) and signatures.dtype == np.uint32
    assert present.tolist() == [True, True, False, False]
    assert np.array_equal(signatures[0], signatures[1])


def test_estimate_is_close_to_the_true_jaccard() -> None:
    base = [f"w{i}" for i in range(200)]
    changed = list(base)
    for position in (20, 60, 100, 140, 180):
        changed[position] = "other"
    first, second = " ".join(base), " ".join(changed)
    truth = _jaccard(first, second)  # 5 edits × 5 shingles: 171 shared of 196 + 25 new
    assert truth == pytest.approx(171 / 221)
    signatures, _ = MinHasher.from_config(CONFIG).text_signatures(_texts([first, second]))
    assert estimated_jaccard(signatures[0], signatures[1]) == pytest.approx(truth, abs=0.12)
    unrelated, _ = MinHasher.from_config(CONFIG).text_signatures(
        _texts([first, " ".join(f"x{i}" for i in range(200))])
    )
    assert estimated_jaccard(unrelated[0], unrelated[1]) < 0.05


def test_seed_chooses_the_permutations() -> None:
    texts = _texts(["a b c d e f g h i j k l m n o p"])
    same, _ = MinHasher.from_config(DedupConfig(seed=1)).text_signatures(texts)
    again, _ = MinHasher.from_config(DedupConfig(seed=1)).text_signatures(texts)
    other, _ = MinHasher.from_config(DedupConfig(seed=2)).text_signatures(texts)
    assert np.array_equal(same, again)
    assert not np.array_equal(same, other)


def test_band_keys_match_exactly_when_the_band_matches() -> None:
    hasher = MinHasher.from_config(CONFIG)
    signatures, _ = hasher.text_signatures(_texts(["a b c d e f g h", "z y x w v u t s"]))
    mixed = signatures[1].copy()
    mixed[:8] = signatures[0][:8]
    keys = hasher.band_keys(np.stack([signatures[0], signatures[1], mixed]))
    assert keys.shape == (3, 14) and keys.dtype == np.int64
    assert keys[2, 0] == keys[0, 0]
    assert (keys[2, 1:] == keys[1, 1:]).all()
    assert (keys[0] != keys[1]).all()


def test_chunked_batches_give_the_same_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = pa.RecordBatch.from_pydict(
        {"doc_id": [f"d{i}" for i in range(len(TRICKY))], "text": _texts(TRICKY)}
    )
    hasher = MinHasher.from_config(CONFIG)
    whole = pa.Table.from_batches(
        list(signature_batches(iter([batch]), hasher, ["doc_id"], "text"))
    )
    monkeypatch.setattr(minhash, "TEXT_CHUNK_BYTES", 16)
    pieces = list(signature_batches(iter([batch]), hasher, ["doc_id"], "text"))
    assert len(pieces) > 3
    assert pa.Table.from_batches(pieces).equals(whole)
    assert whole["signature"].null_count == 2  # the empty text and the punctuation-only one


def test_spark_operator_adds_signature_and_band_keys(spark: SparkSession) -> None:
    rows = [
        ("a", "The quick brown fox jumps over"),
        ("b", "the quick brown fox jumps over"),
        ("c", ""),
    ]
    df = spark.createDataFrame(rows, "doc_id string, text string")
    result = {row.doc_id: row for row in minhash_signatures(df, CONFIG).collect()}
    assert minhash_signatures(df, CONFIG).columns == ["doc_id", "signature", "band_keys"]
    assert len(result["a"].signature) == 112 and len(result["a"].band_keys) == 14
    assert result["a"].signature == result["b"].signature
    assert result["c"].signature is None and result["c"].band_keys is None
    expected, _ = MinHasher.from_config(CONFIG).text_signatures(_texts([rows[0][1]]))
    assert np.array(result["a"].signature, np.int32).view(np.uint32).tolist() == (
        expected[0].tolist()
    )
