"""The stage runner: the one place that does a stage's choreography.

A stage is one declaration (`Stage`): the tables it reads, each pinned to the version the
upstream stage's recorded outcome names; the tables it writes; its operator, engine, pool and
column lineage. `stage_asset(stage)` makes it a Dagster asset whose step is `run_stage`:

    pin inputs through the ledger → run the operator → commit each output table → commit the
    rejections → verify conservation on the committed versions → commit the ledger row(s)
    (from here on the outcome is visible) → emit lineage → report metadata

Readers pin through the ledger, so a stage stopped between two commits is never seen half done:
readers and the next run see the previous outcome until a rerun records a new one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, TypeVar

import dagster as dg
import pyarrow as pa

from assets.lineage import ColumnLineage, MaterializationLineage
from assets.partitions import batches
from assets.resources import LakehouseResource
from assets.run_processes import claim_run
from assets.tables import asset_key, table_metadata
from lakehouse.artifacts import Artifact
from lakehouse.catalog import Catalog, CommitInfo, StagedFiles
from lakehouse.leases import hold
from lakehouse.ledger import (
    LedgerEntry,
    LostRowsError,
    committed_batches,
    committed_rows,
    ledger_entries,
    record_entries,
)
from lakehouse.recipe import LoadedRecipe
from lakehouse.storage import filesystem, leases_folder
from lakehouse.tables import OPS_LEDGER, OPS_REJECTIONS, TableSpec

T = TypeVar("T")
OWNERS = ["team:data-engineering"]
# A run tagged with this re-runs its stages even when their recorded outcome is up to date.
FORCE_TAG = "funnel/force"
# Under the data root: stages' private scratch (`StageRun.lake_scratch`), removed after each run.
SCRATCH_FOLDER = "_scratch"
# Packages whose source decides what a stage computes: a change there is a new code version.
# (The stage's own module counts too; the runner and the storage plumbing do not.)
_OPERATOR_PACKAGES = ("spark_jobs.", "gpu_jobs.", "lakehouse.recipe", "lakehouse.rules")
_REJECTION_COLUMNS = ["doc_id", "rule", "value", "threshold", "detail"]
_KINDS = {"pyarrow": {"pyarrow", "delta"}, "spark": {"spark", "delta"}, "torch": {"torch", "delta"}}


class StageInputError(RuntimeError):
    """A table a stage reads has no recorded outcome to read yet."""


@dataclass(frozen=True)
class Input:
    """A table a stage reads, and the stage whose recorded outcome pins its version.

    `stage=None` reads the latest version: tables people write (review decisions, blocklist)
    have no ledger. `required` inputs must hold an outcome for the batch being run.
    """

    table: TableSpec
    stage: str | None
    required: bool = True


@dataclass(frozen=True)
class Stage:
    """One stage of the funnel, declared once; the asset, its checks' targets, its lineage and
    its code version are derived from this."""

    name: str
    description: str
    group: str
    engine: str
    inputs: tuple[Input, ...]
    outputs: tuple[TableSpec, ...]
    """Tables written, in commit order; the first is the output conservation is checked on."""
    operator: Callable[[StageRun], StageResult]
    partitioned: bool = True
    """Per batch (a Dagster partition), or rebuilt whole from every batch's outcome."""
    rejects: bool = True
    quarantine: TableSpec | None = None
    recorded: bool = True
    """Whether the outcome is recorded in the ledger (stages that write one table need not)."""
    pool: str | None = None
    resources: tuple[str, ...] = ("lakehouse",)
    deps: tuple[dg.AssetKey, ...] = ()
    column_lineage: ColumnLineage = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    settings: tuple[str, ...] = ()
    """Recipe sections the result depends on: a change there re-runs the stage."""
    fingerprint_of: Callable[[StageRun], Any] | None = None
    """What else decides the result besides table inputs (ingest: the batch's landing files)."""
    automation: dg.AutomationCondition | None = None
    """When the daemon materializes the stage by itself (None: when a job or sensor asks)."""
    one_batch_at_a_time: bool = False
    """For stages that compare a batch with every other batch's outcome (dedup, score): two
    batches run at once would each miss the other's documents."""

    @property
    def output(self) -> TableSpec:
        """The stage's main output: what conservation is checked on."""
        return self.outputs[0]

    def code_version(self) -> str:
        """A hash of this declaration and of the source of the operator and every operator
        module it uses: it changes exactly when what the stage computes may have changed."""
        return source_code_version(self.operator, self._declaration())

    def _declaration(self) -> str:
        return repr(
            (
                self.name,
                self.engine,
                [(item.table.key, item.stage, item.required) for item in self.inputs],
                [spec.key for spec in self.outputs],
                self.partitioned,
                self.rejects,
                self.quarantine.key if self.quarantine else None,
                self.recorded,
            )
        )


def source_code_version(function: Callable[..., Any], declaration: str = "") -> str:
    """A hash of `declaration` and of the source of `function`'s module and, transitively, of
    every operator module it refers to (16 hex digits)."""
    digest = hashlib.sha256(declaration.encode())
    for module in sorted(_operator_modules(function), key=lambda m: m.__name__):
        digest.update(module.__name__.encode())
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def _operator_modules(operator: Callable[..., Any]) -> set[ModuleType]:
    """The operator's module and, transitively, the operator modules it refers to."""
    import sys

    found: dict[str, ModuleType] = {}
    pending = [operator.__module__]
    while pending:
        name = pending.pop()
        module = sys.modules.get(name)
        if module is None or name in found:
            continue
        found[name] = module
        for value in vars(module).values():
            referenced = value.__name__ if isinstance(value, ModuleType) else None
            referenced = referenced or getattr(value, "__module__", None)
            if isinstance(referenced, str) and referenced.startswith(_OPERATOR_PACKAGES):
                pending.append(referenced)
    return set(found.values())


class Lazy(Generic[T]):
    """A value the runner asks for only when it needs it, after the writes before it: a
    stream's counts are known once the stream has been written."""

    def __init__(self, compute: Callable[[], T]):
        self._compute = compute

    def get(self) -> T:
        """The value (computed on every call)."""
        return self._compute()


def _resolve(value: T | Lazy[T]) -> T:
    return value.get() if isinstance(value, Lazy) else value


@dataclass
class StageResult:
    """What an operator hands back: rows to commit and what to say about them."""

    rows_in: int | Mapping[str, int] | Lazy[int] | Lazy[Mapping[str, int]]
    """Rows that reached the stage: a count (per-batch stages) or batch id → count."""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    """table key → rows (Arrow table or record batch reader, or Lazy of one)."""
    rejections: pa.Table | Lazy[pa.Table] | None = None
    """doc_id, rule, value, threshold, detail (and batch_id for whole-table stages)."""
    committed: Mapping[str, int] = field(default_factory=dict)
    """Tables the operator committed itself (checkpoints), by key → version."""
    metadata: Mapping[str, Any] | Lazy[Mapping[str, Any]] = field(default_factory=dict)
    """table key → extra materialization metadata of that table."""
    summary: str | Lazy[str] = ""
    artifacts: Sequence[Artifact] = ()
    cleanup: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class StageRun:
    """What an operator gets: the pinned inputs of one stage run, and where to read them."""

    stage: Stage
    catalog: Catalog
    loaded: LoadedRecipe
    run_id: str
    batch_id: str | None
    ledger_version: int | None
    pinned: dict[str, dict[str, int]]
    """input table key → batch id → version (one entry "*" for latest-version inputs)."""
    resources: Mapping[str, Any]
    log: Any
    scratch_locations: list[str] = field(default_factory=list)
    staged: list[tuple[TableSpec, StagedFiles]] = field(default_factory=list)

    def lake_scratch(self) -> str:
        """A private scratch location under the lake (`<root>/_scratch/…`), which every Spark
        executor reaches as it reaches the tables (a local root is one machine's disk, an
        object-store root any machine's); the runner removes it however the stage ends."""
        name = f"{self.stage.name}-{self.batch_id or 'all'}-{uuid.uuid4().hex[:12]}"
        location = f"{self.catalog.root}/{SCRATCH_FOLDER}/{name}"
        self.scratch_locations.append(location)
        return location

    def forget_on_failure(self, staged: StagedFiles, spec: TableSpec) -> None:
        """Remove `staged`'s files (written under `spec`'s location) if the run ends without
        committing them: no table ever names them then."""
        self.staged.append((spec, staged))

    def remove_leftovers(self) -> None:
        """Remove the scratch locations and the uncommitted staged files."""
        options = self.catalog.storage_options
        for location in self.scratch_locations:
            files, path = filesystem(location, options)
            if files.exists(path):
                files.rm(path, recursive=True)
        for spec, staged in self.staged:
            if staged.committed or not staged.files:
                continue
            files, root = filesystem(self.catalog.uri(spec), options)
            paths = [f"{root.rstrip('/')}/{written.path}" for written in staged.files]
            files.rm([path for path in paths if files.exists(path)])

    def version(self, spec: TableSpec) -> int | None:
        """The pinned version of an input for this run's batch (or the input's only version)."""
        versions = self.pinned.get(spec.key, {})
        if self.batch_id is not None and self.batch_id in versions:
            return versions[self.batch_id]
        distinct = set(versions.values())
        return max(distinct) if distinct else None

    def batch_rows(self, spec: TableSpec, columns: Sequence[str] | None = None) -> pa.Table:
        """This batch's rows of an input, as its recorded outcome holds them."""
        batch_id = self._batch()
        version = self.pinned.get(spec.key, {}).get(batch_id)
        if version is None:
            return _empty(spec, columns)
        return committed_rows(self.catalog, {batch_id: version}, spec, columns=columns)

    def batch_files(self, spec: TableSpec) -> list[str]:
        """Parquet files of this batch's rows of an input (for engines that read files)."""
        version = self.pinned.get(spec.key, {}).get(self._batch())
        return [] if version is None else self._files(spec, version, [self._batch()])

    def other_batch_files(self, spec: TableSpec) -> list[str]:
        """Parquet files of every other batch's recorded rows of an input."""
        by_version: dict[int, list[str]] = {}
        for batch_id, version in self.pinned.get(spec.key, {}).items():
            if batch_id != self.batch_id:
                by_version.setdefault(version, []).append(batch_id)
        return [
            uri
            for version, batch_ids in sorted(by_version.items())
            for uri in self._files(spec, version, batch_ids)
        ]

    def _files(self, spec: TableSpec, version: int, batch_ids: list[str]) -> list[str]:
        from deltalake import DeltaTable

        table = DeltaTable(
            self.catalog.uri(spec),
            version=version,
            storage_options=self.catalog.storage_options or None,
        )
        return table.file_uris(partition_filters=[("batch_id", "in", sorted(batch_ids))])

    def rows(
        self,
        spec: TableSpec,
        columns: Sequence[str] | None = None,
        *,
        other_batches: bool = False,
    ) -> pa.Table:
        """Every batch's recorded rows of an input (or those of the other batches only)."""
        versions = dict(self.pinned.get(spec.key, {}))
        if other_batches and self.batch_id is not None:
            versions.pop(self.batch_id, None)
        if not spec.partition_by or "*" in versions:
            version = max(versions.values(), default=None)
            if version is None:
                return _empty(spec, columns)
            return self.catalog.read(spec, version, columns=columns)
        return committed_rows(self.catalog, versions, spec, columns=columns)

    def input_versions(self) -> dict[str, int]:
        """The versions recorded in every commit of the run: each input's version for the
        batch (or its newest), and the ledger version that pins all of them exactly."""
        recorded = {key: self.version_by_key(key) for key in self.pinned}
        if self.ledger_version is not None:
            recorded[OPS_LEDGER.key] = self.ledger_version
        return {key: value for key, value in sorted(recorded.items()) if value is not None}

    def version_by_key(self, key: str) -> int | None:
        """`version` of an input named by its table key."""
        versions = self.pinned.get(key, {})
        if self.batch_id is not None and self.batch_id in versions:
            return versions[self.batch_id]
        return max(versions.values(), default=None)

    def commit_info(self, artifacts: Sequence[Artifact] = ()) -> CommitInfo:
        """The metadata of every commit this run makes."""
        return CommitInfo(
            run_id=self.run_id,
            stage=self.stage.name,
            recipe_sha256=self.loaded.sha256,
            code_version=self.stage.code_version(),
            input_versions=self.input_versions(),
            artifacts=tuple(artifacts),
            fingerprint=self.fingerprint(),
            plan_id=self.loaded.recipe.plan,
        )

    def fingerprint(self) -> str:
        """A hash of everything that decides this run's result: the pinned versions of its
        inputs (the stage's own earlier outputs excluded: they are context, not input), the
        recipe sections it reads, its code version, and what `fingerprint_of` adds."""
        own = {spec.key for spec in self.stage.outputs}
        recipe = self.loaded.recipe.model_dump(mode="json")
        facts = {
            "inputs": {
                key: sorted(versions.items())
                for key, versions in sorted(self.pinned.items())
                if key not in own
            },
            "settings": {section: recipe.get(section) for section in self.stage.settings},
            "code": self.stage.code_version(),
            "extra": self.stage.fingerprint_of(self) if self.stage.fingerprint_of else None,
        }
        encoded = json.dumps(facts, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

    def _batch(self) -> str:
        if self.batch_id is None:
            raise ValueError(f"stage {self.stage.name} is not run per batch")
        return self.batch_id


def _empty(spec: TableSpec, columns: Sequence[str] | None) -> pa.Table:
    names = list(columns) if columns is not None else spec.schema.names
    return pa.schema([spec.schema.field(name) for name in names]).empty_table()


def pin_inputs(
    stage: Stage,
    catalog: Catalog,
    loaded: LoadedRecipe,
    run_id: str,
    batch_id: str | None,
    resources: Mapping[str, Any],
    log: Any,
) -> StageRun:
    """Resolve every input of `stage` to versions, from one pinned version of the ledger."""
    ledger_version = catalog.version(OPS_LEDGER)
    pinned: dict[str, dict[str, int]] = {}
    for item in stage.inputs:
        if item.stage is None:
            latest = catalog.version(item.table)
            pinned[item.table.key] = {} if latest is None else {"*": latest}
        else:
            pinned[item.table.key] = committed_batches(
                catalog, item.stage, item.table, ledger_version
            )
        versions = pinned[item.table.key]
        missing = not versions or (batch_id is not None and batch_id not in versions)
        if item.required and missing and (item.stage is not None):
            where = f" for batch {batch_id}" if batch_id is not None else ""
            raise StageInputError(
                f"{stage.name}: {item.table.key} has no recorded {item.stage} outcome{where}; "
                f"run the {item.stage} stage first (funnel run)"
            )
    return StageRun(
        stage, catalog, loaded, run_id, batch_id, ledger_version, pinned, resources, log
    )


def _write_outputs(run: StageRun, result: StageResult, commit: CommitInfo) -> dict[str, int]:
    """Commit every output table not committed by the operator, in declaration order."""
    versions = dict(result.committed)
    for spec in run.stage.outputs:
        if spec.key in versions:
            continue
        if spec.key not in result.outputs:
            raise LostRowsError(f"{run.stage.name}: the operator returned no rows for {spec.key}")
        data = _resolve(result.outputs[spec.key])
        if run.batch_id is not None and "batch_id" in spec.partition_by:
            versions[spec.key] = run.catalog.write(
                spec, data, commit, replace={"batch_id": run.batch_id}
            )
        else:
            versions[spec.key] = run.catalog.write(spec, data, commit, overwrite=True)
    return versions


def _rejection_rows(run: StageRun, rejections: pa.Table, commit: CommitInfo) -> pa.Table:
    """Rejections with the stage, batch and run filled in, in `ops/rejections` columns."""
    size = rejections.num_rows
    columns = {name: rejections[name] for name in _REJECTION_COLUMNS}
    batch = rejections["batch_id"] if "batch_id" in rejections.column_names else None
    columns["batch_id"] = batch if batch is not None else pa.array([run.batch_id] * size)
    columns["stage"] = pa.array([run.stage.name] * size, pa.string())
    columns["run_id"] = pa.array([commit.run_id] * size, pa.string())
    return pa.table(columns).select(OPS_REJECTIONS.schema.names).cast(OPS_REJECTIONS.schema)


def _write_rejections(run: StageRun, rejections: pa.Table, commit: CommitInfo) -> int:
    rows = _rejection_rows(run, rejections, commit)
    replace: dict[str, str] = {"stage": run.stage.name}
    if run.batch_id is not None:
        replace["batch_id"] = run.batch_id
    return run.catalog.write(OPS_REJECTIONS, rows, commit, replace=replace)


def _batch_counts(
    catalog: Catalog, spec: TableSpec, version: int, batch_ids: Sequence[str]
) -> Counter[str]:
    """Rows per batch in a committed table version (only the batches asked for)."""
    if "batch_id" not in spec.schema.names:
        return Counter()
    rows = catalog.read(spec, version, columns=["batch_id"])
    counts = Counter(rows["batch_id"].to_pylist())
    return Counter({batch_id: counts[batch_id] for batch_id in batch_ids})


def conserved_entries(
    run: StageRun,
    rows_in: Mapping[str, int],
    versions: Mapping[str, int],
    rejected: Counter[str],
) -> list[LedgerEntry]:
    """One ledger row per batch, once every batch's rows are shown conserved in the committed
    versions: rows in = rows out + rejected + quarantined. LostRowsError otherwise, before
    anything is recorded."""
    stage = run.stage
    batch_ids = sorted(rows_in)
    output_version = versions[stage.output.key]
    rows_out = _batch_counts(run.catalog, stage.output, output_version, batch_ids)
    quarantined: Counter[str] = Counter()
    quarantine_version = None
    if stage.quarantine is not None:
        quarantine_version = versions[stage.quarantine.key]
        quarantined = _batch_counts(run.catalog, stage.quarantine, quarantine_version, batch_ids)
    entries = []
    for batch_id in batch_ids:
        entry = LedgerEntry(
            stage=stage.name,
            batch_id=batch_id,
            rows_in=rows_in[batch_id],
            rows_out=rows_out[batch_id],
            rows_rejected=rejected[batch_id],
            rows_quarantined=quarantined[batch_id],
            output_table=stage.output.key,
            output_version=output_version,
            run_id=run.run_id,
            quarantine_table=stage.quarantine.key if stage.quarantine else None,
            quarantine_version=quarantine_version,
            rejections_version=versions.get(OPS_REJECTIONS.key),
            table_versions=dict(versions),
        )
        if not entry.balanced:
            raise LostRowsError(
                f"{stage.name} batch {batch_id}: {entry.rows_in} rows in but "
                f"{entry.rows_out} in {stage.output.key}@{output_version} + "
                f"{entry.rows_rejected} rejected + {entry.rows_quarantined} quarantined; "
                "nothing recorded in the ledger"
            )
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class StageOutcome:
    """What a stage run committed: the version of each table, and the ledger rows."""

    versions: dict[str, int]
    entries: list[LedgerEntry]
    rejections: pa.Table


def commit_outcome(run: StageRun, result: StageResult) -> StageOutcome:
    """Commit outputs, then rejections, check conservation, then record the ledger row(s)."""
    commit = run.commit_info(result.artifacts)
    versions = _write_outputs(run, result, commit)
    rejections = _resolve(result.rejections)
    if rejections is None:
        rejections = _empty(OPS_REJECTIONS, _REJECTION_COLUMNS)
    if run.stage.rejects:
        versions[OPS_REJECTIONS.key] = _write_rejections(run, rejections, commit)
    if "batch_id" in rejections.column_names:
        rejected = Counter(rejections["batch_id"].to_pylist())
    else:
        rejected = Counter({run.batch_id: rejections.num_rows})
    raw_in = _resolve(result.rows_in)
    rows_in = {run.batch_id: raw_in} if isinstance(raw_in, int) else dict(raw_in)
    entries: list[LedgerEntry] = []
    if run.stage.recorded:
        entries = conserved_entries(run, rows_in, versions, rejected)  # type: ignore[arg-type]
        record_entries(
            run.catalog,
            entries,
            commit,
            whole_stage=None if run.stage.partitioned else run.stage.name,
        )
    return StageOutcome(versions, entries, rejections)


def _materializations(
    run: StageRun, result: StageResult, outcome: StageOutcome, seconds: float
) -> Iterator[dg.MaterializeResult]:
    """One MaterializeResult per output table: where, which version, how many rows, and the
    stage's counts on its main output."""
    extra = _resolve(result.metadata)
    batch = {"batch_id": run.batch_id} if run.batch_id is not None else {}
    for spec in run.stage.outputs:
        version = outcome.versions[spec.key]
        if run.batch_id is not None and "batch_id" in spec.schema.names:
            rows = run.catalog.count(spec, version, where=batch)
        else:
            rows = run.catalog.row_count(spec, version)
        metadata: dict[str, Any] = {**batch, **dict(extra.get(spec.key, {}))}
        if spec == run.stage.output:
            metadata |= _stage_counts(outcome.entries)
            metadata |= drop_tables(run, outcome)
            metadata |= {
                "input_versions": dg.MetadataValue.json(run.input_versions()),
                "recipe_sha256": run.loaded.sha256,
                "code_version": run.stage.code_version(),
                "seconds": round(seconds, 3),
            }
        yield dg.MaterializeResult(
            asset_key=asset_key(spec),
            metadata=table_metadata(run.catalog, spec, version, rows, **metadata),
        )


def drop_tables(run: StageRun, outcome: StageOutcome) -> dict[str, dg.MetadataValue]:
    """Two Markdown tables for the stage's main output: rows dropped per rule (quarantine
    reasons included), and per source the rows in, kept, dropped and the keep rate. A dropped
    row's source comes from the stage's input rows (joined on doc_id)."""
    output = run.stage.output
    batch = {"batch_id": run.batch_id} if run.batch_id is not None else None
    if "source" not in output.schema.names:
        return {}
    where = batch if batch and "batch_id" in output.schema.names else None
    written = run.catalog.read(
        output, outcome.versions[output.key], where=where, columns=["source"]
    )
    kept = Counter(written["source"].to_pylist())
    by_rule: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    origin: dict[str, str] = {}
    readable = [item.table for item in run.stage.inputs if item.table not in run.stage.outputs]
    for spec in readable:
        if {"doc_id", "source"} <= set(spec.schema.names):
            if run.batch_id is not None and spec.partition_by:
                rows = run.batch_rows(spec, ["doc_id", "source"])
            else:
                rows = run.rows(spec, ["doc_id", "source"])
            origin = dict(zip(rows["doc_id"].to_pylist(), rows["source"].to_pylist(), strict=True))
            break
    rejections = outcome.rejections
    for doc_id, rule in zip(
        rejections["doc_id"].to_pylist(), rejections["rule"].to_pylist(), strict=True
    ):
        by_rule[rule] += 1
        dropped[origin.get(doc_id, "(unknown)")] += 1
    for spec in run.stage.outputs:
        if spec != output and {"reason", "source"} <= set(spec.schema.names):
            where = batch if batch and "batch_id" in spec.schema.names else None
            rows = run.catalog.read(
                spec, outcome.versions[spec.key], where=where, columns=["reason", "source"]
            )
            by_rule.update(rows["reason"].to_pylist())
            dropped.update(rows["source"].to_pylist())
    total = sum(kept.values()) + sum(dropped.values())
    rules = ["| rule | dropped | share of rows in |", "|---|---:|---:|"] + [
        f"| {rule} | {count} | {count / total:.1%} |" for rule, count in by_rule.most_common()
    ]
    sources = ["| source | rows in | kept | dropped | keep rate |", "|---|---:|---:|---:|---:|"]
    for source in sorted(set(kept) | set(dropped)):
        rows_in = kept[source] + dropped[source]
        sources.append(
            f"| {source} | {rows_in} | {kept[source]} | {dropped[source]} | "
            f"{kept[source] / rows_in:.1%} |"
        )
    if not by_rule:
        rules.append("| (none) | 0 | 0.0% |")
    return {
        "drops_by_rule": dg.MetadataValue.md("\n".join(rules)),
        "keep_rate_by_source": dg.MetadataValue.md("\n".join(sources)),
    }


def _stage_counts(entries: Sequence[LedgerEntry]) -> dict[str, int]:
    if not entries:
        return {}
    return {
        "rows_in": sum(entry.rows_in for entry in entries),
        "rows_out": sum(entry.rows_out for entry in entries),
        "rows_rejected": sum(entry.rows_rejected for entry in entries),
        "rows_quarantined": sum(entry.rows_quarantined for entry in entries),
    }


def recorded_outcome(run: StageRun) -> StageOutcome | None:
    """The stage's recorded outcome when it was built from exactly what this run would build it
    from (same fingerprint); None when the stage has to run."""
    stage = run.stage
    entries: list[LedgerEntry] = []
    if stage.recorded:
        entries = [
            entry
            for entry in ledger_entries(run.catalog, stage=stage.name, version=run.ledger_version)
            if run.batch_id is None or entry.batch_id == run.batch_id
        ]
        if not entries:
            return None
        versions = dict(entries[-1].table_versions)
    else:
        versions = {spec.key: run.catalog.version(spec) for spec in stage.outputs}
    if any(versions.get(spec.key) is None for spec in stage.outputs):
        return None
    commit = run.catalog.commit_at(stage.output, versions[stage.output.key])
    if commit is None or commit.fingerprint != run.fingerprint():
        return None
    return StageOutcome(versions, entries, _empty(OPS_REJECTIONS, _REJECTION_COLUMNS))  # type: ignore[arg-type]


def run_stage(stage: Stage, context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """Run one stage for the context's batch (or whole): the choreography every stage shares."""
    started = time.perf_counter()
    claim_run(context)
    lakehouse: LakehouseResource = context.resources.lakehouse
    resources = {name: getattr(context.resources, name) for name in stage.resources}
    lineage = MaterializationLineage(stage.name, context, lakehouse, stage.column_lineage)
    lineage.start()
    batch_id = context.partition_key if stage.partitioned else None
    # One writer per stage and batch: a second run of the same work waits here, then finds the
    # first one's outcome up to date.
    lease = f"{stage.name}/{'all' if batch_id is None or stage.one_batch_at_a_time else batch_id}"
    try:
        with hold(
            leases_folder(lakehouse.root),
            lease,
            f"run {context.run_id}",
            on_wait=context.log.warning,
        ):
            run = pin_inputs(
                stage,
                lakehouse.catalog(),
                lakehouse.recipe(),
                context.run_id,
                batch_id,
                resources,
                context.log,
            )
            forced = context.run.tags.get(FORCE_TAG) == "true"
            outcome = None if forced else recorded_outcome(run)
            if outcome is not None:
                context.log.info(
                    f"{lease}: up to date (inputs {run.input_versions()}, recipe "
                    f"{run.loaded.sha256[:12]}, code {stage.code_version()} unchanged); "
                    f"nothing re-run"
                )
                result = StageResult(rows_in=0, metadata={stage.output.key: {"up_to_date": True}})
            else:
                result = None
                try:
                    result = stage.operator(run)
                    outcome = commit_outcome(run, result)
                finally:
                    for cleanup in result.cleanup if result is not None else ():
                        cleanup()
                    run.remove_leftovers()
                summary = _resolve(result.summary)
                if summary:
                    context.log.info(summary)
            materializations = list(
                _materializations(run, result, outcome, time.perf_counter() - started)
            )
    except Exception as error:
        lineage.fail(error)
        raise
    for materialization in materializations:
        yield lineage.complete(materialization)


def stage_asset(stage: Stage) -> dg.AssetsDefinition:
    """The Dagster asset of a stage: one spec per output table, computed by `run_stage`."""
    # A stage that reads its own earlier outcome (dedup's index) does not depend on itself.
    input_keys = [asset_key(item.table) for item in stage.inputs if item.table not in stage.outputs]
    specs = [
        dg.AssetSpec(
            asset_key(spec),
            deps=[*input_keys, *stage.deps],
            description=stage.descriptions.get(spec.key, stage.description),
            group_name=stage.group,
            kinds=_KINDS[stage.engine],
            owners=OWNERS,
            tags={"stage": stage.name},
            code_version=stage.code_version(),
            automation_condition=stage.automation,
        )
        for spec in stage.outputs
    ]

    @dg.multi_asset(
        name=f"{stage.name}_stage",  # jobs are named after stages; op names must differ
        specs=specs,
        partitions_def=batches if stage.partitioned else None,
        pool=stage.pool,
        can_subset=False,
        required_resource_keys=set(stage.resources) | {"lakehouse"},
    )
    def _stage(context) -> Iterator[dg.MaterializeResult]:  # type: ignore[no-untyped-def]
        # Left unannotated: Dagster reads the annotation, which is a string in this module.
        yield from run_stage(stage, context)

    return _stage
