"""Differential test: keep/drop decisions against DataTrove, the filters FineWeb ran.

English documents of the bundled sample (prose, man pages, licenses, code, crawled pages with
junk), normalized once and given to both. Each filter family is compared on its own; FineWeb's
filter sees the text after C4's line rules, as in FineWeb's pipeline.
"""

import gzip
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.recipe import CleanConfig
from lakehouse.rules import RULES_BY_NAME
from spark_jobs.decisions import profile_fired_rules
from spark_jobs.normalization import normalize_text
from spark_jobs.quality_signals import SIGNAL_COLUMNS, document_signals
from tests.spark_cluster import spark  # noqa: F401  (fixture)

datatrove = pytest.importorskip("datatrove")
pytest.importorskip("spacy")

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
STRIDE = 8  # every 8th English document keeps the test to about a minute on 2 cores
MIN_AGREEMENT = 0.98


def english_documents() -> list[str]:
    """Normalized texts of the sample's English documents (every STRIDE-th one)."""
    wanted: set[tuple[str, int]] = set()
    with gzip.open(SAMPLE / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["lang"] == "en":
                wanted.add((record["file"], record["record"]))
    texts = []
    for path in sorted((SAMPLE / "landing").glob("*/*.jsonl.gz")):
        relative = path.relative_to(SAMPLE / "landing").as_posix()
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if (relative, index) in wanted:
                    texts.append(normalize_text(json.loads(line)["text"]))
    return [text for text in texts[::STRIDE] if text]


def datatrove_decisions(texts: list[str]) -> dict[str, list[bool]]:
    """Keep (True) or drop per family, by DataTrove with FineWeb's settings."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    repetition, quality = GopherRepetitionFilter(), GopherQualityFilter()
    c4, fineweb = C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter()
    kept: dict[str, list[bool]] = {name: [] for name in ("gopher_repetition", "gopher_quality")}
    kept |= {"c4": [], "fineweb": []}
    c4_texts: list[str | None] = []
    for index, text in enumerate(texts):
        kept["gopher_repetition"].append(repetition.filter(Document(text, str(index))) is True)
        kept["gopher_quality"].append(quality.filter(Document(text, str(index))) is True)
        document = Document(text, str(index))
        c4_kept = c4.filter(document) is True
        kept["c4"].append(c4_kept)
        c4_texts.append(document.text if c4_kept else None)
        fineweb_kept = (
            fineweb.filter(Document(c4_texts[-1], str(index))) is True if c4_kept else None
        )
        kept["fineweb"].append(fineweb_kept)  # type: ignore[arg-type]
    return kept


def funnel_decisions(spark: SparkSession, texts: list[str]) -> dict[str, list[bool]]:  # noqa: F811
    """Keep or drop per family from funnel's signals and its SQL decision rules."""
    config = CleanConfig()
    rows = [
        dict(document_signals(text, config)[0], position=index) for index, text in enumerate(texts)
    ]
    schema = ", ".join(
        ["position long", *(f"{name} {kind}" for name, kind in SIGNAL_COLUMNS.items())]
    )
    frame = spark.createDataFrame(
        [{name: row.get(name) for name in ["position", *SIGNAL_COLUMNS]} for row in rows], schema
    )
    families = ("gopher_repetition", "gopher_quality", "c4", "fineweb")
    fired = frame.select(
        "position",
        F.transform(profile_fired_rules(config, families), lambda rule: rule["rule"]).alias(
            "rules"
        ),
    )
    by_position = {row.position: row.rules for row in fired.collect()}
    family_of = {name: rule.family for name, rule in RULES_BY_NAME.items()}
    return {
        family: [
            all(family_of[name] != family for name in by_position[index])
            for index in range(len(texts))
        ]
        for family in families
    }


@pytest.mark.slow
def test_keep_drop_agreement_with_datatrove_per_filter_family(spark: SparkSession) -> None:  # noqa: F811
    texts = english_documents()
    assert len(texts) > 700
    theirs = datatrove_decisions(texts)
    ours = funnel_decisions(spark, texts)
    report = {}
    for family in theirs:
        pairs = [
            (mine, reference)
            for mine, reference in zip(ours[family], theirs[family], strict=True)
            if reference is not None
        ]
        agreement = sum(mine == reference for mine, reference in pairs) / len(pairs)
        report[family] = (round(agreement, 4), len(pairs), sum(not r for _, r in pairs))
    print("agreement (share, documents, dropped by DataTrove):", report)
    for family, (agreement, documents, dropped) in report.items():
        assert documents > 300 and dropped > 0, (family, report)
        assert agreement >= MIN_AGREEMENT, (family, report)
