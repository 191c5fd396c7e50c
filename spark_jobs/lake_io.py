"""Spark reads and writes the lake's Parquet files on its executors: no shared disk, no JVM
filesystem packages (no hadoop-aws, no delta-spark).

`read_parquet` spreads the URIs of a pinned table version's files over the executors; each one
opens its files with pyarrow, using the lake's storage options shipped with the task, inside a
`mapInArrow`. `write_parts` has every task write its rows as one Parquet file per target,
straight under the target table's location (`<table>/batch_id=<id>/part-<uuid>.parquet`), and
hand back the file's path, size and row count; the driver then commits exactly those files with
delta-rs (`Catalog.write` of `StagedFiles`). A local lake and an object-store lake take the same
path: only the filesystem pyarrow opens differs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.catalog import StagedFiles, WrittenFile
from lakehouse.storage import arrow_filesystem

# Rows per Arrow batch a reader task hands to Spark: bounded memory per task for wide text rows.
READ_BATCH_ROWS = 4096
_FILE_COLUMNS = pa.schema(
    [
        pa.field("target", pa.string()),
        pa.field("path", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("modified", pa.int64()),
    ]
)


def _spark_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every string as a plain string: what the Spark schema derived from it
    maps back to, and a type every reader (Spark, delta-rs, pyarrow) takes."""
    return pa.schema(
        [
            field.with_type(pa.string())
            if pa.types.is_large_string(field.type) or pa.types.is_string_view(field.type)
            else field
            for field in schema
        ]
    )


def read_parquet(
    spark: SparkSession,
    files: Sequence[str],
    schema: pa.Schema,
    storage_options: Mapping[str, str] | None = None,
) -> DataFrame:
    """The rows of Parquet `files` (local paths or object-store URIs) in `schema`'s columns,
    read by the executors themselves. A column of `schema` missing from a file is null."""
    schema = _spark_arrow_schema(schema)
    spark_schema = from_arrow_schema(schema)
    if not files:
        return spark.createDataFrame([], spark_schema)
    options = dict(storage_options or {})
    names = schema.names

    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for uri in batch.column("uri").to_pylist():
                filesystem, path = arrow_filesystem(uri, options)
                parquet = pq.ParquetFile(filesystem.open_input_file(path))
                present = [name for name in names if name in parquet.schema_arrow.names]
                for rows in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=present):
                    yield _conformed(rows, schema)

    uris = spark.createDataFrame([(uri,) for uri in files], "uri string")
    return uris.repartition(len(files)).mapInArrow(read, spark_schema)


def _conformed(rows: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`rows` in `schema`'s columns and types; absent columns as nulls."""
    columns = [
        rows.column(field.name).cast(field.type)
        if field.name in rows.schema.names
        else pa.nulls(rows.num_rows, field.type)
        for field in schema
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class PartTarget:
    """Rows of a DataFrame that become Parquet files of one Delta table (one partition)."""

    key: str
    """The table key (`silver/documents`)."""
    location: str
    """The table's URI; files go under `<location>/<partition path>/`."""
    schema: pa.Schema
    """The columns and types of the files: the table's schema without its partition columns."""
    partition: Mapping[str, str] = field(default_factory=dict)
    """Partition column → value of every row written (the partition path)."""
    where: str | None = None
    """A boolean column of the DataFrame choosing the rows to write; every row when None."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """File column → DataFrame column, where the names differ."""

    def folder(self) -> str:
        """The partition folder, relative to the table's location."""
        return "/".join(f"{name}={value}" for name, value in self.partition.items())


class _PartWriter:
    """One task's Parquet file of one target, opened at the first row."""

    def __init__(self, target: PartTarget, options: Mapping[str, str]):
        self.target = target
        self.options = options
        self.relative = "/".join(
            part for part in (target.folder(), f"part-{uuid.uuid4().hex}.parquet") if part
        )
        self.writer: pq.ParquetWriter | None = None
        self.filesystem = None
        self.path = ""
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        target = self.target
        if target.where is not None:
            batch = batch.filter(pc.fill_null(batch.column(target.where), False))
        if batch.num_rows == 0:
            return
        columns = [
            batch.column(target.columns.get(field.name, field.name)).cast(field.type)
            for field in target.schema
        ]
        rows = pa.RecordBatch.from_arrays(columns, schema=target.schema)
        if self.writer is None:
            self.filesystem, root = arrow_filesystem(target.location, self.options)
            self.path = f"{root.rstrip('/')}/{self.relative}"
            if isinstance(self.filesystem, pafs.LocalFileSystem):
                # Object stores have no folders; creating one there would leave marker objects.
                self.filesystem.create_dir(self.path.rsplit("/", 1)[0], recursive=True)
            self.writer = pq.ParquetWriter(
                self.path, target.schema, filesystem=self.filesystem, compression="zstd"
            )
        self.writer.write_batch(rows)
        self.rows += rows.num_rows

    def close(self) -> dict[str, object] | None:
        """The written file's description, or None when the task had no rows for it."""
        if self.writer is None or self.filesystem is None:
            return None
        self.writer.close()
        size = self.filesystem.get_file_info(self.path).size
        return {
            "target": self.target.key,
            "path": self.relative,
            "size": int(size or 0),
            "rows": self.rows,
            "modified": int(time.time() * 1000),
        }


def write_parts(
    df: DataFrame,
    targets: Sequence[PartTarget],
    storage_options: Mapping[str, str] | None = None,
) -> dict[str, StagedFiles]:
    """Write `df`'s rows as Parquet files of each target, in one pass over `df`, from the
    executors; returns the files of each target (by key), for the driver to commit.

    A failed or speculative task attempt may leave a file that no returned row names: it is
    never committed (Delta readers ignore it; `VACUUM` removes it).
    """
    options = dict(storage_options or {})
    chosen = list(targets)
    wanted = {
        target.columns.get(name, name) for target in chosen for name in target.schema.names
    } | {target.where for target in chosen if target.where is not None}
    spark_files = from_arrow_schema(_FILE_COLUMNS)

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        writers = [_PartWriter(target, options) for target in chosen]
        for batch in batches:
            for writer in writers:
                writer.write(batch)
        written = [info for writer in writers if (info := writer.close()) is not None]
        if written:
            yield pa.RecordBatch.from_pylist(written, schema=_FILE_COLUMNS)

    rows = df.select(*sorted(wanted)).mapInArrow(write, spark_files).collect()
    staged = {
        target.key: StagedFiles(partition=dict(target.partition), files=[]) for target in chosen
    }
    for row in rows:
        staged[row["target"]].files.append(
            WrittenFile(row["path"], row["size"], row["rows"], row["modified"])
        )
    return staged


def read_column(
    staged: StagedFiles, location: str, column: str, storage_options: Mapping[str, str] | None
) -> list[object]:
    """The values of one column of every file in `staged` (files under `location`), read on
    the driver (a single narrow column: cheap even for wide rows)."""
    filesystem, root = arrow_filesystem(location, storage_options)
    values: list[object] = []
    for written in staged.files:
        path = f"{root.rstrip('/')}/{written.path}"
        table = pq.read_table(filesystem.open_input_file(path), columns=[column])
        values.extend(table.column(column).to_pylist())
    return values
