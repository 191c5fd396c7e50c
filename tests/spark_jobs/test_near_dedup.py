from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.recipe import DedupConfig
from spark_jobs.exact_dedup import exact_duplicate_keepers
from spark_jobs.near_dedup import band_candidates, near_duplicate_edges, signature_similarity
from tests.spark_cluster import spark

__all__ = ["spark"]

SCHEMA = "label string, signature array<int>, band_keys array<bigint>"


def test_bucket_members_link_to_the_smallest_member_only(spark: SparkSession) -> None:
    new = spark.createDataFrame(
        [("1b", [10, 20]), ("1c", [10, 21]), ("1d", [10, 22]), ("1e", [11, 23])],
        "label string, band_keys array<bigint>",
    )
    prior = spark.createDataFrame(
        [("0a", [99, 23]), ("0z", [98, 23]), ("0y", [97, 96])],
        "label string, band_keys array<bigint>",
    )
    edges = {(row.src, row.dst) for row in band_candidates(new, prior).collect()}
    # Band 0, key 10: a star on 1b (3 members, 2 edges, not 3). Band 1, key 23: 1e joins the
    # prior 0a; the two prior documents in that bucket are not compared with each other.
    assert edges == {("1c", "1b"), ("1d", "1b"), ("1e", "0a")}


def test_band_matches_are_kept_only_above_the_similarity_threshold(spark: SparkSession) -> None:
    config = DedupConfig(bands=2, rows_per_band=2, jaccard_threshold=0.7)
    new = spark.createDataFrame(
        [
            ("1a", [1, 2, 3, 4], [7, 8]),
            ("1b", [1, 2, 3, 5], [7, 9]),  # 3 of 4 values agree: 0.75
            ("1c", [1, 2, 6, 6], [7, 5]),  # 2 of 4 agree with 1a: 0.5
            ("1d", None, None),  # no words: never a candidate
        ],
        SCHEMA,
    )
    prior = spark.createDataFrame([], SCHEMA)
    edges = {
        (r.src, r.dst): r.similarity for r in near_duplicate_edges(new, prior, config).collect()
    }
    assert edges == {("1b", "1a"): 0.75}


def test_similarity_is_the_share_of_agreeing_values(spark: SparkSession) -> None:
    df = spark.createDataFrame([([1, 2, 3, 4], [1, 0, 3, 0])], "a array<int>, b array<int>")
    value = df.select(signature_similarity(F.col("a"), F.col("b"), 4).alias("s")).first()
    assert value is not None and value.s == 0.5


def test_exact_keeper_is_the_smallest_label_including_prior_documents(
    spark: SparkSession,
) -> None:
    new = spark.createDataFrame(
        [("1t2-b", "h1"), ("1t1-c", "h1"), ("1t1-a", "h2"), ("1t1-d", "h3")],
        "label string, text_sha256 string",
    )
    prior = spark.createDataFrame(
        [("0t9-z", "h2"), ("0t0-y", "h4")], "label string, text_sha256 string"
    )
    keepers = {row.label: row.keeper for row in exact_duplicate_keepers(new, prior).collect()}
    assert keepers == {"1t2-b": "1t1-c", "1t1-c": "1t1-c", "1t1-a": "0t9-z", "1t1-d": "1t1-d"}
