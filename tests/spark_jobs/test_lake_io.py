"""Spark reading and writing the lake's Parquet files on its executors, committed by delta-rs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import SILVER_DEDUP_INDEX
from spark_jobs.lake_io import PartTarget, read_column, read_parquet, write_parts
from tests.spark_cluster import spark  # noqa: F401  (fixture)

SCHEMA = pa.schema([pa.field("doc_id", pa.string()), pa.field("n", pa.int64())])


def test_executors_read_files_in_the_schema_missing_columns_as_nulls(
    tmp_path: Path,
    spark,  # noqa: F811
) -> None:
    # delta-rs rewrites store strings as string views; an older file lacks a column.
    pq.write_table(
        pa.table({"doc_id": pa.array(["a", "b"], pa.string_view()), "n": [1, 2]}),
        tmp_path / "one.parquet",
    )
    pq.write_table(pa.table({"doc_id": ["c"]}), tmp_path / "two.parquet")
    files = [str(tmp_path / "one.parquet"), str(tmp_path / "two.parquet")]
    rows = read_parquet(spark, files, SCHEMA).orderBy("doc_id").collect()
    assert [(row["doc_id"], row["n"]) for row in rows] == [("a", 1), ("b", 2), ("c", None)]
    assert read_parquet(spark, [], SCHEMA).count() == 0


def test_a_missing_file_fails_naming_it(tmp_path: Path, spark) -> None:  # noqa: F811
    missing = str(tmp_path / "gone.parquet")
    with pytest.raises(Exception, match=r"gone\.parquet"):
        read_parquet(spark, [missing], SCHEMA).collect()


def test_parts_written_by_executors_commit_as_one_table_version(
    tmp_path: Path,
    spark,  # noqa: F811
) -> None:
    catalog = Catalog(str(tmp_path / "lake"))
    rows = spark.range(0, 40, numPartitions=4).select(
        F.format_string("d%02d", "id").alias("doc_id"),
        F.current_timestamp().alias("ingested_at"),
        F.sha2(F.col("id").cast("string"), 256).alias("text_sha256"),
        F.lit(None).cast("array<int>").alias("signature"),
        F.lit(None).cast("array<bigint>").alias("band_keys"),
        (F.col("id") % 2 == 0).alias("even"),
    )
    schema = pa.schema([field for field in SILVER_DEDUP_INDEX.schema if field.name != "batch_id"])
    target = PartTarget(
        SILVER_DEDUP_INDEX.key,
        catalog.uri(SILVER_DEDUP_INDEX),
        schema,
        {"batch_id": "b1"},
        where="even",
    )
    staged = write_parts(rows, [target], {})[SILVER_DEDUP_INDEX.key]
    assert staged.rows == 20 and 1 <= len(staged.files) <= 4
    assert all(written.path.startswith("batch_id=b1/part-") for written in staged.files)
    commit = CommitInfo("r1", "dedup", "0", "t")
    version = catalog.write(SILVER_DEDUP_INDEX, staged, commit, replace={"batch_id": "b1"})
    table = catalog.read(SILVER_DEDUP_INDEX, version)
    assert table.num_rows == 20 == catalog.row_count(SILVER_DEDUP_INDEX, version)
    assert set(table["batch_id"].to_pylist()) == {"b1"}
    assert catalog.history(SILVER_DEDUP_INDEX)[0].run_id == "r1"
    assert sorted(read_column(staged, catalog.uri(SILVER_DEDUP_INDEX), "doc_id", {})) == sorted(
        f"d{index:02d}" for index in range(0, 40, 2)
    )
