from pyspark.sql import SparkSession

from spark_jobs.boilerplate import remove_boilerplate_lines
from tests.spark_cluster import spark  # noqa: F401  (fixture)

COOKIE = "We use cookies to improve your experience on this site."
NAV = "Home | News | Sport | Weather | Contact us"


def _documents(spark: SparkSession, texts: list[str]):  # type: ignore[no-untyped-def]  # noqa: F811
    rows = [(f"d{index}", text) for index, text in enumerate(texts)]
    return spark.createDataFrame(rows, "doc_id string, text string")


def test_lines_shared_by_too_many_documents_are_removed_and_counted(
    spark: SparkSession,  # noqa: F811
) -> None:
    places = ["river", "bridge", "market"]
    texts = [
        f"{NAV}\nStory {n}: the {place} closed for the night in town {n}.\n\n{COOKIE}"
        for n, place in enumerate(places)
    ]
    texts.append("Story 7: the river closed for the night in town 7.")
    texts.append("A page of its own without any shared lines at all, written once.")
    texts.append(None)  # type: ignore[arg-type]
    prior = spark.createDataFrame(
        [(hash_of(spark, COOKIE.upper()), 1)], "line_hash long, documents long"
    )
    result = remove_boilerplate_lines(_documents(spark, texts), prior, 2, 20)
    rows = {row["doc_id"]: row for row in result.documents.collect()}
    # NAV is in 3 documents (> 2); COOKIE in 3 here plus 1 before (the count ignores case).
    assert rows["d0"]["text"] == "Story 0: the river closed for the night in town 0."
    assert rows["d0"]["boilerplate_lines_removed"] == 2
    assert rows["d4"]["boilerplate_lines_removed"] == 0 and rows["d4"]["text"] == texts[4]
    assert rows["d5"]["boilerplate_lines_removed"] == 0 and rows["d5"]["text"] is None
    counts = {row["line_hash"]: row["documents"] for row in result.index.collect()}
    # d0's and d3's story lines differ only in digits: normalized alike, they count as one.
    assert sorted(counts.values()) == [1, 1, 1, 2, 3, 3]
    assert counts[hash_of(spark, NAV)] == 3


def test_without_a_threshold_lines_are_counted_but_kept(spark: SparkSession) -> None:  # noqa: F811
    texts = [f"{NAV}\nStory {n} is here." for n in range(4)]
    result = remove_boilerplate_lines(_documents(spark, texts), None, None, 20)
    assert {row["text"] for row in result.documents.collect()} == set(texts)
    assert {row["documents"] for row in result.index.collect()} == {4}


def hash_of(spark: SparkSession, line: str) -> int:  # noqa: F811
    from pyspark.sql import functions as F

    from spark_jobs.boilerplate import normalized_line

    frame = spark.createDataFrame([(line,)], "line string")
    return frame.select(F.xxhash64(normalized_line(F.col("line")))).first()[0]
