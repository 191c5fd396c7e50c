import hashlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import CleanConfig, load_recipe
from lakehouse.storage import PROJECT_DIR
from lakehouse.tables import SILVER_SIGNALS
from lakehouse.whatif import first_rules
from spark_jobs.clean import SILVER_COLUMNS, clean_documents, signal_rows
from spark_jobs.normalization import normalize_text
from spark_jobs.quality_signals import SIGNAL_COLUMNS, document_signals
from tests.spark_cluster import spark  # noqa: F401  (fixture)

GOOD = "\n".join(
    [
        "The history of the town is long and it has been told many times by the people who "
        "live there. Most of them agree that the river was the reason the first houses were "
        "built on its banks.",
        "Trade with the villages upstream made the merchants rich, and with their money they "
        "paid for the bridge, the school and a hall for the council to meet in.",
        "Today the old market square is still the heart of the place, with the church on one "
        "side and a row of small shops on the other. Visitors come in summer to walk along the "
        "water and to eat in the cafes that line the quay.",
        "In winter it is quiet. The boats are pulled up onto the shore, the shops close early "
        "and only the bakery keeps its lights on until late in the evening.",
    ]
)


def bronze(spark: SparkSession, texts: list[str], domain: str = "prose") -> DataFrame:  # noqa: F811
    rows = [
        {
            "doc_id": f"d{index:03d}",
            "batch_id": "b1",
            "source": "notes",
            "domain": domain,
            "license": "CC0-1.0",
            "source_uri": "file:///notes.jsonl",
            "source_record": index,
            "source_id": None,
            "text": text,
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "text_bytes": len(text.encode()),
        }
        for index, text in enumerate(texts)
    ]
    schema = (
        "doc_id string, batch_id string, source string, domain string, license string, "
        "source_uri string, source_record long, source_id string, text string, "
        "text_sha256 string, text_bytes long"
    )
    return spark.createDataFrame(rows, schema)


def outcomes(spark: SparkSession, texts: list[str], config: CleanConfig) -> list[dict]:  # noqa: F811
    cleaned = clean_documents(bronze(spark, texts), config)
    return [row.asDict(recursive=True) for row in cleaned.orderBy("doc_id").collect()]


@pytest.mark.slow
def test_good_prose_is_kept_with_signals_and_redacted_pii(spark: SparkSession) -> None:  # noqa: F811
    text = GOOD + "\nWrite to jane@example.org or call +44 20 7946 0321 for the tour."
    (row,) = outcomes(spark, [text], CleanConfig())
    assert row["rejection"] is None, row["rejection"]
    assert row["outcome"] == "kept"
    assert row["lang"] == "en" and row["lang_score"] > 0.65
    assert "<EMAIL>" in row["text"] and "<PHONE>" in row["text"]
    assert (row["pii_email"], row["pii_phone"], row["pii_ipv4"]) == (1, 1, 0)
    assert row["text_sha256"] == hashlib.sha256(row["text"].encode()).hexdigest()
    assert row["gopher_word_count"] > 50 and row["c4_sentences"] >= 5
    assert set(SILVER_COLUMNS) <= set(row)


def test_bad_input_is_rejected_with_a_reason_and_no_row_is_lost(spark: SparkSession) -> None:  # noqa: F811
    texts = [
        ("x" * 99 + " ") * 12_000,  # over 1 MB of text
        " \n\t \u3000 \n",  # only whitespace
        "!!! ... ??? --- ,,, ;;; ::: !!! ... ??? --- ,,, ;;;",  # only punctuation
        "Hello world. Привет мир. こんにちは世界。 مرحبا بالعالم. " * 20,  # mixed scripts
        GOOD
        + "\n"
        + "z" * 100_000
        + "\n"
        + GOOD.replace("river", "stream").replace("bakery", "tavern"),  # 100k-char line
        "Dies ist ein deutscher Satz über das Wetter, der ganz normal ist. " * 10,
    ]
    rows = outcomes(spark, texts, CleanConfig())
    assert len(rows) == len(texts)
    rules = [row["rejection"]["rule"] if row["rejection"] else None for row in rows]
    assert rules[0] == "text_too_large"
    assert rows[0]["rejection"]["value"] == 1_200_000
    assert rows[0]["rejection"]["threshold"] == 1_000_000
    assert rules[1] == "empty_after_normalization"
    assert rules[2] is not None and rules[2].startswith(("language_", "gopher_"))
    assert rules[3] is not None
    # The 100k-character word makes the mean word length absurd (Gopher); C4 drops its line.
    assert rules[4] == "gopher_above_avg_word_length"
    assert rows[4]["c4_lines_removed"] == 1
    assert rules[5] == "language_not_allowed"
    assert rows[5]["rejection"]["detail"].startswith("lang=de")
    assert all(row["text"] is None for row in rows if row["rejection"])


def test_thresholds_come_from_the_recipe(spark: SparkSession) -> None:  # noqa: F811
    strict = CleanConfig.model_validate(
        {"gopher_quality": {"min_doc_words": 10_000}, "language": {"allow": ["en", "de"]}}
    )
    rows = outcomes(spark, [GOOD, "Dies ist ein deutscher Satz über das Wetter. " * 3], strict)
    first, second = (row["rejection"] for row in rows)
    assert first["rule"] == "gopher_short_doc" and first["threshold"] == 10_000
    assert first["value"] == rows[0]["gopher_word_count"]
    assert second["rule"].startswith("gopher_") and second["detail"].startswith("also: ")
    relaxed = CleanConfig.model_validate(
        {
            "gopher_quality": {"enabled": False},
            "gopher_repetition": {"enabled": False},
            "c4": {"enabled": False},
            "fineweb": {"enabled": False},
            "language": {"allow": ["de"], "min_score": 0.1},
        }
    )
    rows = outcomes(spark, ["Dies ist ein deutscher Satz über das Wetter. " * 3], relaxed)
    assert rows[0]["rejection"] is None
    assert rows[0]["gopher_word_count"] is not None  # signals are stored even when not used


@pytest.mark.parametrize("tokenizer", ["spacy", "whitespace"])
def test_both_tokenizers_keep_plain_prose(spark: SparkSession, tokenizer: str) -> None:  # noqa: F811
    config = CleanConfig.model_validate({"tokenizer": tokenizer})
    (row,) = outcomes(spark, [GOOD], config)
    assert row["rejection"] is None


def test_rejected_documents_are_measured_too(spark: SparkSession) -> None:  # noqa: F811
    german = ["Dies ist ein deutscher Satz über das Wetter, der ganz normal ist. " * 10] * 3
    rows = outcomes(spark, [*german, " \n "], CleanConfig())
    assert [row["rejection"]["rule"] for row in rows[:3]] == ["language_not_allowed"] * 3
    # Signals of every family are stored for rejected documents: re-thresholding needs no Spark.
    expected, _ = document_signals(normalize_text(german[0]), CleanConfig())
    assert expected["gopher_word_count"] > 50 and expected["fineweb_lines"] == 1
    for row in rows[:3]:
        assert {name: row[name] for name in SIGNAL_COLUMNS} == expected
    assert rows[0]["rejection"]["detail"].startswith("lang=de; also: ")
    assert all(row["text_bytes"] > 0 and row["normalized_chars"] > 0 for row in rows[:3])
    empty = rows[3]
    assert empty["rejection"]["rule"] == "empty_after_normalization"
    assert (empty["normalized_chars"], empty["lang"], empty["lang_score"]) == (0, "und", 0.0)
    assert empty["gopher_word_count"] is None  # nothing to measure


def test_signal_rows_are_written_to_silver_signals(
    spark: SparkSession,  # noqa: F811
    tmp_path: Path,
) -> None:
    texts = [GOOD, "Dies ist ein deutscher Satz über das Wetter. " * 3, ""]
    cleaned = clean_documents(bronze(spark, texts), CleanConfig())
    rows = signal_rows(cleaned)
    assert rows.columns == SILVER_SIGNALS.schema.names
    catalog = Catalog(str(tmp_path / "lake"))
    commit = CommitInfo("run-1", "clean", "a" * 64, "test")
    version = catalog.write(SILVER_SIGNALS, rows.toArrow(), commit, replace={"batch_id": "b1"})
    stored = {row["doc_id"]: row for row in catalog.read(SILVER_SIGNALS, version).to_pylist()}
    assert len(stored) == 3
    assert stored["d000"]["rule"] is None and stored["d000"]["gopher_word_count"] > 50
    assert stored["d001"]["rule"] == "language_not_allowed"
    assert stored["d001"]["lang"] == "de" and stored["d001"]["gopher_stop_words"] == 0
    assert stored["d002"]["rule"] == "empty_after_normalization"
    assert stored["d000"]["text_bytes"] == len(GOOD.encode())
    # The Arrow evaluator of `funnel whatif` takes the same decisions from the stored signals.
    table = catalog.read(SILVER_SIGNALS, version)
    assert first_rules(table, CleanConfig()).to_pylist() == table["rule"].to_pylist()


def test_url_rules_drop_web_documents_by_their_url(spark: SparkSession) -> None:  # noqa: F811
    from pyspark.sql import functions as F

    from lakehouse.url_lists import UrlLists

    urls = [
        "https://news.example/town",
        "https://www.spam.example/town",
        "https://news.example/casino-town",
        "ftp://news.example/town",
        "not a url",
        None,
    ]
    texts = [GOOD] * len(urls)
    frame = bronze(spark, texts)
    mapping = F.create_map(*[F.lit(x) for i, url in enumerate(urls) for x in (f"d{i:03d}", url)])
    frame = frame.withColumn("url", mapping[F.col("doc_id")])
    lists = UrlLists(
        blocked_domains=frozenset({"spam.example"}), banned_words=frozenset({"casino"})
    )
    rows = clean_documents(frame, CleanConfig(), lists).orderBy("doc_id").collect()
    rules = [row["rejection"]["rule"] if row["rejection"] else None for row in rows]
    assert rules == [
        None,
        "url_blocked_domain",
        "url_banned_word",
        "url_not_http",
        "url_malformed",
        None,
    ]
    assert rows[2]["url_banned_words"] == 1 and rows[5]["url_banned_words"] is None
    disabled = CleanConfig.model_validate({"url": {"enabled": False}})
    kept = clean_documents(frame, disabled, lists).where("rejection is null").count()
    assert kept == len(urls)


SOURCE_FILE = """import os


def read_settings(path):
    \"\"\"Read key=value lines.\"\"\"
    settings = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


class Cache:
    def __init__(self):
        self.items = {}

    def get(self, key):
        return self.items.get(key)
"""


def _code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


CODE_PROFILE = {"profiles": {"code": {"domains": ["code"], "families": ["normalize", "code"]}}}


def test_code_is_judged_by_the_code_profile_and_keeps_every_line(spark: SparkSession) -> None:  # noqa: F811
    minified = "var a=function(b){return b};" * 80
    texts = [SOURCE_FILE, minified]
    prose_rules = clean_documents(bronze(spark, texts, "code"), CleanConfig()).orderBy("doc_id")
    assert [row.outcome for row in prose_rules.collect()] == ["rejected", "rejected"]
    config = CleanConfig.model_validate(CODE_PROFILE)
    cleaned = clean_documents(bronze(spark, texts, "code"), config).orderBy("doc_id").collect()
    kept, long_line = cleaned
    assert kept.outcome == "kept" and kept.rejection is None
    # C4's line rules do not run on code: short lines such as `import os` stay.
    assert _code_lines(kept.text) == _code_lines(SOURCE_FILE)
    assert long_line.rejection.rule == "code_long_line"
    assert long_line.rejection.value == len(minified)
    assert long_line.rejection.detail.startswith("profile=code")
    # Prose in another domain is still judged by the default rules.
    prose = clean_documents(bronze(spark, [GOOD, SOURCE_FILE]), config).orderBy("doc_id")
    assert [row.outcome for row in prose.collect()] == ["kept", "rejected"]


def test_a_page_mostly_removed_by_c4_line_rules_is_dropped(spark: SparkSession) -> None:  # noqa: F811
    banner = [
        "Our partners use cookies to measure how visitors move between pages.",
        "Please turn on JavaScript in your browser settings to see the map.",
        "Read our privacy policy to learn which data we keep about you.",
        "You can change your cookie choices later from the page footer.",
        "These terms of use apply to every visitor of the site and its shop.",
        "Without JavaScript the search box and the calendar stay empty.",
        "By clicking accept you agree that we use cookies for statistics.",
        "The gallery needs JavaScript to load the pictures of the harbour.",
        "Advertising partners may use cookies to show offers elsewhere.",
        "See the terms of use for the rules of the comment section.",
        "Accept all",
        "Reject all",
        "Settings",
        "Home",
        "About us",
        "Contact",
    ]
    page = "\n".join([*banner, GOOD])
    config = CleanConfig.model_validate({"c4": {"max_removed_chars_frac": 0.4}})
    (row,) = outcomes(spark, [page], config)
    assert row["rejection"]["rule"] == "c4_mostly_removed_lines"
    assert row["rejection"]["value"] > 0.4 and row["rejection"]["threshold"] == 0.4
    (kept,) = outcomes(spark, [GOOD], config)
    assert kept["outcome"] == "kept"


def _multilingual() -> ModuleType:
    """The sample's hand-written paragraphs in ten languages (data/sample_sources)."""
    sys.path.insert(0, str(PROJECT_DIR / "data"))
    try:
        from sample_sources import multilingual
    finally:
        sys.path.remove(str(PROJECT_DIR / "data"))
    return multilingual


@pytest.mark.slow
def test_each_language_is_filtered_by_its_own_settings(spark: SparkSession) -> None:  # noqa: F811
    paragraphs = _multilingual()
    documents = []
    for lang, text in paragraphs.GOOD.items():
        documents.append((lang, "good", text))
        documents.extend((lang, kind, junk) for kind, junk in paragraphs.junk(lang).items())
    clean = load_recipe(PROJECT_DIR / "recipes" / "default.yaml").recipe.clean
    assert set(paragraphs.LANGUAGES) <= set(clean.language.allow)
    assert set(paragraphs.LANGUAGES) <= set(clean.languages)
    texts = [text for _, _, text in documents]
    multilingual = outcomes(spark, texts, clean)
    # The same recipe without its per-language settings: every language filtered as English.
    english_only = outcomes(spark, texts, clean.model_copy(update={"languages": {}}))
    by_key = {}
    for (lang, kind, _), row, english in zip(documents, multilingual, english_only, strict=True):
        by_key[(lang, kind)] = (row, english)
        assert row["lang"] == lang, (lang, kind, row["lang"])
        if kind == "good":
            assert row["rejection"] is None, (lang, row["rejection"])
            # Gopher's English stop words are absent from every one of these languages; zh
            # and ja are not split into words at all (a clause is one spaCy-style token).
            expected = "gopher_top_2_gram" if lang in ("zh", "ja") else "gopher_too_few_stop_words"
            assert english["rejection"]["rule"] == expected, (lang, english["rejection"])
        else:
            rule = paragraphs.JUNK_RULES[kind]
            assert row["rejection"]["rule"] == rule, (lang, kind, row["rejection"])
    # A rejection records the threshold of the document's language, not the family default.
    assert by_key[("zh", "too_short")][0]["rejection"]["threshold"] == 100.0
    assert by_key[("de", "too_short")][0]["rejection"]["threshold"] == 50.0
    zh_good, zh_english = by_key[("zh", "good")]
    assert zh_good["gopher_word_count"] > 100 > zh_english["gopher_word_count"]
    de_good, de_english = by_key[("de", "good")]
    assert de_good["gopher_stop_words"] > 2 and de_english["gopher_stop_words"] == 0
