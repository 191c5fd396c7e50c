"""The table catalog: table name → location, plus versioned reads and writes with commit metadata.

Every write goes through `Catalog.write`, which commits with the custom metadata that makes a table
version explainable (run id, stage, recipe sha256, code version, input table versions, model
artifacts applied). Every read
names the version it reads, so a stage never reads a table that is being written.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as fs
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction

from lakehouse.artifacts import Artifact
from lakehouse.storage import is_remote_uri, resolve_root, storage_options_from_env
from lakehouse.tables import TABLES, TableSpec, table_spec

log = logging.getLogger("funnel.catalog")

METADATA_PREFIX = "funnel."
# Smaller files and row groups than delta-rs's defaults: measured faster for wide text rows, and
# they keep the writer's memory flat (benchmarks/ingest.py).
TARGET_FILE_BYTES = 32 * 1024 * 1024
ROW_GROUP_ROWS = 8192
_HISTORY_SEARCH = 50
# Tries of a conditional insert that keeps losing to concurrent commits.
_COMMIT_ATTEMPTS = 10
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/+=-]+$")


class CorruptTableError(RuntimeError):
    """A table whose Delta log cannot be read (a damaged or truncated commit file)."""


class StoreUnreachableError(RuntimeError):
    """An object-store root that refuses or does not answer (no such bucket, bad credentials,
    wrong endpoint)."""


def _store_message(table: str | TableSpec, uri: str, error: OSError) -> str:
    name = table.key if isinstance(table, TableSpec) else table
    text = str(error)
    code = re.search(r"<Code>(\w+)</Code>", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cause = code.group(1) if code else (lines[0] if lines else type(error).__name__)
    return (
        f"table {name} at {uri}: the object store refused the request ({cause}); check that "
        "FUNNEL_ROOT names an existing bucket and that FUNNEL_STORAGE_OPTIONS holds its endpoint, "
        "region and credentials"
    )


_LOG_DAMAGE = ("json error", "parse", "truncated", "invalid", "checkpoint", "eof")


def _is_log_damage(error: DeltaError) -> bool:
    text = str(error).lower()
    return any(sign in text for sign in _LOG_DAMAGE)


def _corrupt_table_message(table: str | TableSpec, uri: str, error: DeltaError) -> str:
    name = table.key if isinstance(table, TableSpec) else table
    cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"table {name} at {uri} has a damaged Delta log ({cause}): restore the damaged commit "
        f"file under {uri}/_delta_log from a backup, or remove it if it is the newest one, left "
        "by an interrupted write"
    )


@dataclass(frozen=True)
class CommitInfo:
    """Who and what produced a table version; stored in the Delta commit."""

    run_id: str
    stage: str
    recipe_sha256: str
    code_version: str
    input_versions: Mapping[str, int] = field(default_factory=dict)
    artifacts: Sequence[Artifact] = ()
    """Model artifacts the stage applied (trained heads), each pinned by its sha256."""
    fingerprint: str | None = None
    """Hash of what decides the stage's result (inputs, recipe settings, code version)."""
    plan_id: str | None = None
    """The approved plan whose recipe the stage ran with (`funnel run --plan`)."""

    def as_metadata(self) -> dict[str, str]:
        """The commit's custom metadata, every key prefixed with `funnel.`."""
        artifacts = {}
        if self.artifacts:
            artifacts[f"{METADATA_PREFIX}artifacts"] = json.dumps(
                [asdict(artifact) for artifact in self.artifacts], sort_keys=True
            )
        if self.fingerprint is not None:
            artifacts[f"{METADATA_PREFIX}fingerprint"] = self.fingerprint
        if self.plan_id is not None:
            artifacts[f"{METADATA_PREFIX}plan_id"] = self.plan_id
        return {
            f"{METADATA_PREFIX}run_id": self.run_id,
            f"{METADATA_PREFIX}stage": self.stage,
            f"{METADATA_PREFIX}recipe_sha256": self.recipe_sha256,
            f"{METADATA_PREFIX}code_version": self.code_version,
            f"{METADATA_PREFIX}input_versions": json.dumps(
                dict(self.input_versions), sort_keys=True
            ),
            **artifacts,
        }


@dataclass(frozen=True)
class TableVersion:
    """One commit of a table, with the funnel metadata it carries (empty for foreign writers)."""

    table: str
    version: int
    timestamp: datetime
    operation: str
    rows_added: int | None
    run_id: str | None
    stage: str | None
    recipe_sha256: str | None
    code_version: str | None
    input_versions: dict[str, int]
    artifacts: list[Artifact] = field(default_factory=list)
    fingerprint: str | None = None
    plan_id: str | None = None


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file written under a table's location by someone other than delta-rs (Spark
    executors): its path relative to the table, size, rows and write time (ms since epoch)."""

    path: str
    size: int
    rows: int
    modified: int


@dataclass
class StagedFiles:
    """Parquet files already under a table's location, all of one partition, to be committed
    as they are (no rewrite): `Catalog.write` records them in one Delta commit."""

    partition: dict[str, str]
    files: list[WrittenFile]
    committed: bool = False

    @property
    def rows(self) -> int:
        """Rows in all the files."""
        return sum(written.rows for written in self.files)


def sql_literal(value: str) -> str:
    """A quoted SQL string literal for a predicate; only plain identifiers-like values pass."""
    if not _SAFE_VALUE.match(value):
        raise ValueError(f"refusing to use {value!r} in a table predicate: unexpected characters")
    return f"'{value}'"


class Catalog:
    """Tables of one lakehouse root."""

    def __init__(self, root: str | None = None, storage_options: dict[str, str] | None = None):
        self.root = resolve_root(root)
        self.storage_options = (
            storage_options if storage_options is not None else storage_options_from_env()
        )

    def __repr__(self) -> str:
        return f"Catalog({self.root!r})"

    @property
    def is_remote(self) -> bool:
        """True when the root is an object-store URI."""
        return is_remote_uri(self.root)

    def uri(self, table: str | TableSpec) -> str:
        """Location of a table: `<root>/<layer>/<name>`."""
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        return f"{self.root}/{spec.layer}/{spec.name}"

    def _delta(self, table: str | TableSpec, version: int | None = None) -> DeltaTable:
        uri = self.uri(table)
        try:
            return DeltaTable(uri, version=version, storage_options=self.storage_options or None)
        except TableNotFoundError:
            raise
        except DeltaError as error:
            if _is_log_damage(error):
                raise CorruptTableError(_corrupt_table_message(table, uri, error)) from error
            raise
        except OSError as error:
            if self.is_remote:
                raise StoreUnreachableError(_store_message(table, uri, error)) from error
            raise

    def exists(self, table: str | TableSpec) -> bool:
        """Whether the table has at least one commit."""
        return self.version(table) is not None

    def version(self, table: str | TableSpec) -> int | None:
        """The latest committed version, or None when the table was never written."""
        try:
            return self._delta(table).version()
        except TableNotFoundError:
            return None

    def existing_tables(self) -> list[TableSpec]:
        """Specs of the catalog's tables that have been written, in catalog order."""
        return [spec for spec in TABLES.values() if self.exists(spec)]

    def write(
        self,
        table: str | TableSpec,
        data: pa.Table | pa.RecordBatchReader | StagedFiles,
        commit: CommitInfo,
        *,
        replace: Mapping[str, str | Sequence[str]] | None = None,
        overwrite: bool = False,
    ) -> int:
        """Commit `data` to a table and return the new version.

        With `replace` (column → value, or → list of values), rows matching those values are
        replaced atomically (re-running a batch replaces its rows); with `overwrite`, the new
        version holds only `data` (earlier versions stay readable by time travel); otherwise
        the data is appended. A commit that loses to a concurrent writer is tried again on the
        new version (in-memory tables and staged files only: a stream cannot be read twice).
        `StagedFiles` are committed as they are (`commit_files`).
        """
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        if isinstance(data, StagedFiles):
            return self.commit_files(spec, data, commit, replace=replace, overwrite=overwrite)
        predicate = _predicate(replace) if replace else None
        attempts = _COMMIT_ATTEMPTS if isinstance(data, pa.Table) else 1
        for attempt in range(1, attempts + 1):
            try:
                write_deltalake(
                    self.uri(spec),
                    _conform(data, spec.schema),
                    mode="overwrite" if predicate or overwrite else "append",
                    predicate=predicate,
                    partition_by=list(spec.partition_by) or None,
                    storage_options=self.storage_options or None,
                    commit_properties=CommitProperties(custom_metadata=commit.as_metadata()),
                    target_file_size=TARGET_FILE_BYTES,
                    writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
                )
            except CommitFailedError as conflict:
                if attempt == attempts:
                    raise
                log.warning(
                    f"{spec.key}: commit conflict ({conflict}); attempt {attempt + 1} of "
                    f"{attempts} on the new version"
                )
                time.sleep(0.05 * attempt)
                continue
            break
        return self._committed_version(spec, commit)

    def commit_files(
        self,
        table: str | TableSpec,
        staged: StagedFiles,
        commit: CommitInfo,
        *,
        replace: Mapping[str, str | Sequence[str]] | None = None,
        overwrite: bool = False,
    ) -> int:
        """Commit Parquet files already written under the table's location, in one Delta
        commit, and return the new version.

        `replace` may name partition columns only (the files of those partitions are removed in
        the same commit); `overwrite` removes every earlier file. A commit that loses to a
        concurrent writer is tried again on the new version: the files do not change.
        """
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        filters = []
        for column, value in sorted((replace or {}).items()):
            if column not in spec.partition_by:
                raise ValueError(
                    f"{spec.key}: staged files can replace whole partitions only, and "
                    f"{column!r} is not a partition column of the table"
                )
            filters.append(
                (column, "=", value) if isinstance(value, str) else (column, "in", list(value))
            )
        actions = [
            AddAction(
                written.path,
                written.size,
                dict(staged.partition),
                written.modified,
                True,
                json.dumps({"numRecords": written.rows}),
            )
            for written in staged.files
        ]
        properties = CommitProperties(custom_metadata=commit.as_metadata())
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            if not self.exists(spec):
                self._create(spec, properties)
            try:
                self._delta(spec).create_write_transaction(
                    actions,
                    mode="overwrite" if filters or overwrite else "append",
                    schema=spec.schema,
                    partition_by=list(spec.partition_by) or None,
                    partition_filters=filters or None,
                    commit_properties=properties,
                )
            except CommitFailedError as conflict:
                if attempt == _COMMIT_ATTEMPTS:
                    raise
                log.warning(f"{spec.key}: commit conflict ({conflict}); attempt {attempt + 1}")
                time.sleep(0.05 * attempt)
                continue
            break
        staged.committed = True
        return self._committed_version(spec, commit)

    def _create(self, spec: TableSpec, properties: CommitProperties) -> None:
        """Create the empty table; losing a creation race to another writer is fine."""
        try:
            DeltaTable.create(
                self.uri(spec),
                spec.schema,
                mode="ignore",
                partition_by=list(spec.partition_by) or None,
                storage_options=self.storage_options or None,
                commit_properties=properties,
            )
        except DeltaError:
            if not self.exists(spec):
                raise  # not a creation race: a real error

    def insert_absent(
        self, table: str | TableSpec, data: pa.Table, commit: CommitInfo, key: str
    ) -> int | None:
        """Append the rows of `data` whose `key` the table does not hold yet, atomically.

        A Delta MERGE that inserts only unmatched rows: a writer racing with another commit that
        added rows fails to commit and tries again against the new version, so two writers can
        never both insert the same key. Returns the new version, or None when every key was
        already there (nothing is committed then).
        """
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        source = _conform(data, spec.schema)
        properties = CommitProperties(custom_metadata=commit.as_metadata())
        for _ in range(_COMMIT_ATTEMPTS):
            if not self.exists(spec):
                self._create(spec, properties)
            merge = self._delta(spec).merge(
                source,
                predicate=f"target.{key} = source.{key}",
                source_alias="source",
                target_alias="target",
                commit_properties=properties,
                writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
            )
            try:
                metrics = merge.when_not_matched_insert_all().execute()
            except CommitFailedError:
                continue  # a concurrent commit added rows: decide again on the new version
            if not metrics["num_target_rows_inserted"]:
                return None
            return self._committed_version(spec, commit)
        raise RuntimeError(
            f"{spec.key}: {_COMMIT_ATTEMPTS} attempts to insert lost to concurrent writers"
        )

    def _committed_version(self, spec: TableSpec, commit: CommitInfo) -> int:
        """The version our write created: the newest commit carrying this run and stage.

        Reading the latest version instead could return another writer's later commit.
        """
        for entry in self.history(spec, limit=_HISTORY_SEARCH):
            if entry.run_id == commit.run_id and entry.stage == commit.stage:
                return entry.version
        raise RuntimeError(f"write to {spec.key} by run {commit.run_id} left no commit")

    def dataset(self, table: str | TableSpec, version: int) -> ds.Dataset:
        """A pyarrow dataset of a pinned table version (lazy: files are read on scan).

        A local table's files are read through pyarrow's own filesystem. delta-rs's default,
        a Python filesystem that calls into its Rust object store, leaves pyarrow's scanner
        I/O threads inside that handler; at interpreter exit the process then aborts now and
        then ("terminate called without an active exception", rc 134) after a correct result.
        Object stores keep delta-rs's handler: it carries the lake's storage options.
        """
        delta = self._delta(table, version)
        if is_remote_uri(self.root):
            return delta.to_pyarrow_dataset()
        local = fs.SubTreeFileSystem(self.uri(table), fs.LocalFileSystem())
        return delta.to_pyarrow_dataset(filesystem=local)

    def read(
        self,
        table: str | TableSpec,
        version: int | None = None,
        *,
        where: Mapping[str, str] | None = None,
        columns: Iterable[str] | None = None,
    ) -> pa.Table:
        """Rows of a table version (latest when None), optionally filtered by column equality."""
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        pinned = self.version(spec) if version is None else version
        if pinned is None:
            return spec.schema.empty_table()
        return _filtered_table(self.dataset(spec, pinned), where, columns)

    def count(
        self, table: str | TableSpec, version: int, *, where: Mapping[str, str] | None = None
    ) -> int:
        """Row count of a pinned table version, optionally filtered by column equality."""
        dataset = self.dataset(table, version)
        if not where:
            return dataset.count_rows()
        return _filtered_table(dataset, where, list(where)).num_rows

    def history(self, table: str | TableSpec, limit: int | None = None) -> list[TableVersion]:
        """Commits of a table, newest first, with their funnel metadata."""
        spec = table if isinstance(table, TableSpec) else table_spec(table)
        return [_table_version(spec.key, entry) for entry in self._delta(spec).history(limit)]

    def commit_at(self, table: str | TableSpec, version: int) -> TableVersion | None:
        """The commit that created `version` of a table (None when it is gone from the log)."""
        latest = self.version(table)
        if latest is None or version > latest:
            return None
        return next(
            (
                entry
                for entry in self.history(table, latest - version + 1)
                if entry.version == version
            ),
            None,
        )

    def row_count(self, table: str | TableSpec, version: int | None = None) -> int:
        """Rows in a table version, from the Delta log statistics (no data files read)."""
        delta = self._delta(table, version)
        actions = pa.table(delta.get_add_actions(flatten=True))
        return int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0


def _predicate(replace: Mapping[str, str | Sequence[str]]) -> str:
    """A Delta predicate matching rows whose columns hold the given value(s)."""
    terms = []
    for column, value in sorted(replace.items()):
        if isinstance(value, str):
            terms.append(f"{column} = {sql_literal(value)}")
        else:
            listed = ", ".join(sql_literal(item) for item in sorted(set(value)))
            terms.append(f"{column} IN ({listed})")
    return " AND ".join(terms)


def _equality_filter(where: Mapping[str, str] | None) -> pc.Expression | None:
    expression = None
    for column, value in (where or {}).items():
        term = pc.field(column) == value
        expression = term if expression is None else expression & term
    return expression


def _filtered_table(
    dataset: ds.Dataset, where: Mapping[str, str] | None, columns: Iterable[str] | None
) -> pa.Table:
    """Rows of `dataset` whose columns equal `where`'s values.

    The filter is pushed down to the scan; files that delta-rs rewrote (delete, merge) store
    strings as Arrow string views, which the pushed-down comparison cannot handle, so those
    scans filter batch by batch after casting instead.
    """
    names = list(columns) if columns is not None else None
    try:
        return dataset.to_table(columns=names, filter=_equality_filter(where))
    except pa.ArrowNotImplementedError:
        pass
    wanted = list(dict.fromkeys([*(names or dataset.schema.names), *(where or {})]))
    schema = pa.schema([dataset.schema.field(name) for name in wanted])
    kept = []
    for batch in dataset.to_batches(columns=wanted):
        table = pa.Table.from_batches([batch]).cast(schema)
        mask = None
        for column, value in (where or {}).items():
            term = pc.equal(table[column], value)
            mask = term if mask is None else pc.and_(mask, term)
        kept.append(table.filter(mask) if mask is not None else table)
    result = pa.concat_tables(kept) if kept else schema.empty_table()
    return result.select(names or dataset.schema.names)


def _with_optional_columns(data: pa.Table | pa.RecordBatch, schema: pa.Schema) -> Any:
    """`data` with a null column for every nullable column of `schema` it does not have (a
    writer that predates a new optional column still writes)."""
    for column in schema:
        if column.name not in data.schema.names and column.nullable:
            data = data.append_column(column.name, pa.nulls(data.num_rows, column.type))
    return data


def _conform(data: pa.Table | pa.RecordBatchReader, schema: pa.Schema) -> Any:
    """Data cast to the table's schema (column order and types), streaming readers lazily."""
    if isinstance(data, pa.Table):
        return _with_optional_columns(data, schema).select(schema.names).cast(schema)

    def batches() -> Iterable[pa.RecordBatch]:
        for batch in data:
            yield _with_optional_columns(batch, schema).select(schema.names).cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _table_version(table: str, entry: dict[str, Any]) -> TableVersion:
    metrics = entry.get("operationMetrics") or {}
    inputs = entry.get(f"{METADATA_PREFIX}input_versions")
    artifacts = entry.get(f"{METADATA_PREFIX}artifacts")
    return TableVersion(
        table=table,
        version=int(entry["version"]),
        timestamp=datetime.fromtimestamp(entry["timestamp"] / 1000, tz=UTC),
        operation=str(entry.get("operation", "")),
        rows_added=metrics.get("num_added_rows"),
        run_id=entry.get(f"{METADATA_PREFIX}run_id"),
        stage=entry.get(f"{METADATA_PREFIX}stage"),
        recipe_sha256=entry.get(f"{METADATA_PREFIX}recipe_sha256"),
        code_version=entry.get(f"{METADATA_PREFIX}code_version"),
        input_versions=json.loads(inputs) if inputs else {},
        artifacts=[Artifact(**item) for item in json.loads(artifacts)] if artifacts else [],
        fingerprint=entry.get(f"{METADATA_PREFIX}fingerprint"),
        plan_id=entry.get(f"{METADATA_PREFIX}plan_id"),
    )
