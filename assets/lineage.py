"""Lineage for Dagster assets and checks: one decorator line per asset.

`@with_lineage(STAGE, column_lineage=...)` under an asset decorator makes every materialization
an OpenLineage run (START, then COMPLETE per table written, or FAIL with the error if the asset
raises), and adds `dagster/column_lineage` and the stage's rejection counts to each
`MaterializeResult`. Everything else it needs comes from the lakehouse: the table version from
the result's `delta_version`, the input versions from that version's Delta commit, the rejection
counts from the stage's ledger row.
"""

import functools
import inspect
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.resources import LakehouseResource
from lakehouse.artifacts import Artifact
from lakehouse.batches import batch_files
from lakehouse.catalog import Catalog
from lakehouse.ledger import LedgerEntry, ledger_entries
from lakehouse.lineage import (
    ColumnSource,
    FileInput,
    LineageEmitter,
    RunIdentity,
    RunState,
    TableInput,
    TableOutput,
    artifact_dataset,
    artifact_output,
    dataset_ref,
    error_facets,
    file_dataset,
    input_dataset,
    lineage_enabled,
    output_dataset,
    rejection_facets,
    run_event,
    table_ref,
)
from lakehouse.recipe import LoadedRecipe
from lakehouse.tables import OPS_REJECTIONS, TABLES, TableSpec, table_spec

log = logging.getLogger("funnel.lineage")

LANDING = "landing"
"""The source of a column read from raw landing records rather than from a table."""


@dataclass(frozen=True)
class Derived:
    """An output column is computed from `column` of `source` by `transformation`.

    `source` is a table key or `LANDING`; for `LANDING`, `column` may name a recipe source
    field (`text_field`, `id_field`) that holds the raw record's field name.
    """

    source: str
    column: str
    transformation: str
    subtype: str = "IDENTITY"


ColumnLineage = Mapping[str, Mapping[str, Sequence[Derived]]]


def _table_of(key: dg.AssetKey) -> TableSpec | None:
    return TABLES.get("/".join(key.path))


def _lakehouse_argument(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> LakehouseResource:
    for value in (*args, *kwargs.values()):
        if isinstance(value, LakehouseResource):
            return value
    raise TypeError("with_lineage needs the asset to take a LakehouseResource parameter")


def _context_argument(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    for value in (*args, *kwargs.values()):
        if isinstance(value, dg.AssetExecutionContext | dg.AssetCheckExecutionContext):
            return value
    raise TypeError("with_lineage needs the asset's context parameter")


class MaterializationLineage:
    """The lineage run of one stage step: one OpenLineage job per stage (not per table), its
    parent the Dagster run, with every table the step materializes among its outputs."""

    def __init__(
        self,
        stage: str,
        context: dg.AssetExecutionContext,
        lakehouse: LakehouseResource,
        column_lineage: ColumnLineage,
    ):
        self.stage = stage
        self.context = context
        self.catalog = lakehouse.catalog()
        self.recipe = lakehouse.recipe()
        self.column_lineage = column_lineage
        self.batch_id = context.partition_key if context.has_partition_key else None
        self.emitter = LineageEmitter.from_env(lakehouse.root) if lineage_enabled() else None
        self.identity = RunIdentity(
            job=stage,
            parent_job=context.run.job_name,
            parent_run_id=context.run.run_id,
            recipe_sha256=self.recipe.sha256,
            plan_id=self.recipe.recipe.plan,
        )
        self.keys = sorted(context.selected_asset_keys, key=lambda key: key.path)
        self.finished: set[dg.AssetKey] = set()
        self.inputs: dict[tuple[str, str, str], Any] = {}
        self.outputs: list[Any] = []
        self.done = False

    def _emit(self, event: Any) -> None:
        if self.emitter is not None:
            failed = self.emitter.emit(event)
            if failed:
                self.context.log.warning(
                    f"lineage for {event.job.name} not delivered by {', '.join(failed)}; "
                    f"kept in {self.emitter.folder}"
                )

    def start(self) -> None:
        """START of the stage's job, naming every table the step will write."""
        outputs = []
        for key in self.keys:
            spec = _table_of(key)
            if spec is not None:
                output = TableOutput(spec, version=-1, batch_id=self.batch_id)
                outputs.append(output_dataset(self.catalog, output, complete=False))
        self._emit(run_event(RunState.START, self.identity, outputs=outputs))

    def complete(self, result: dg.MaterializeResult) -> dg.MaterializeResult:
        """Record the result's table among the job's outputs (COMPLETE goes out with the last
        one); returns the result with lineage metadata added."""
        key = result.asset_key or (self.keys[0] if self.keys else None)
        spec = _table_of(key) if key is not None else None
        metadata = dict(result.metadata or {})
        version_value = metadata.get("delta_version")
        version = getattr(version_value, "value", version_value)
        if spec is None and key is not None and "training_tables" in metadata:
            self._training_lineage(key, metadata)
        if spec is not None and version is not None:
            derivations = self.column_lineage.get(spec.key, {})
            sources = self._column_sources(derivations)
            if sources:
                metadata["dagster/column_lineage"] = _dagster_column_lineage(derivations, sources)
            entry = self._ledger_entry()
            rejected, _quarantined = _rejection_counts(self.catalog, self.stage, entry)
            if entry is not None and spec.key == entry.output_table:
                metadata["rejections_by_rule"] = dg.MetadataValue.json(
                    dict(sorted(rejected.items()))
                )
            for dataset in self._inputs(spec, int(version), sources):
                self.inputs.setdefault(_identity(dataset), dataset)
            output = TableOutput(spec, int(version), self.batch_id, self._ol_lineage(sources))
            self.outputs.append(output_dataset(self.catalog, output, complete=True))
        if key is not None:
            self.finished.add(key)
        if not self.done and self.finished >= set(self.keys):
            self._complete()
        return result._replace(metadata=metadata)

    def _training_lineage(self, key: dg.AssetKey, metadata: Mapping[str, Any]) -> None:
        """A trained model's lineage: the pinned table versions it learnt from as inputs (the
        `training_tables` metadata: table → versions; `training_files`: other files read), the
        stored artifact as output."""
        training = getattr(metadata["training_tables"], "value", metadata["training_tables"])
        for table, versions in sorted(training.items()):
            for version in sorted(set(versions)):
                dataset = input_dataset(self.catalog, TableInput(table_spec(table), version))
                self.inputs.setdefault(_identity(dataset), dataset)
        # Files read besides tables (the hand-written reference prose).
        files = metadata.get("training_files")
        for uri in getattr(files, "value", files) or []:
            dataset = file_dataset(FileInput(str(uri), description="hand-written reference prose"))
            self.inputs.setdefault(_identity(dataset), dataset)
        uri = getattr(metadata["artifact_uri"], "value", metadata["artifact_uri"])
        artifact = Artifact(
            name=key.path[-1],
            sha256=str(metadata["sha256"]),
            uri=str(uri),
            size_bytes=int(getattr(metadata["size_bytes"], "value", metadata["size_bytes"])),
        )
        self.outputs.append(artifact_output(artifact))

    def _complete(self) -> None:
        self.done = True
        rejected, quarantined = _rejection_counts(self.catalog, self.stage, self._ledger_entry())
        self._emit(
            run_event(
                RunState.COMPLETE,
                self.identity,
                inputs=list(self.inputs.values()),
                outputs=self.outputs,
                run_facets=rejection_facets(self.stage, self.batch_id, rejected, quarantined),
            )
        )

    def fail(self, error: BaseException) -> None:
        """FAIL of the stage's job, with the error message, unless it already completed."""
        if not self.done:
            self.done = True
            self._emit(run_event(RunState.FAIL, self.identity, run_facets=error_facets(error)))

    def _ledger_entry(self) -> LedgerEntry | None:
        if self.batch_id is None:
            return None
        entries = ledger_entries(self.catalog, stage=self.stage, batch_id=self.batch_id)
        return entries[-1] if entries else None

    def _column_sources(
        self, derivations: Mapping[str, Sequence[Derived]]
    ) -> dict[str, list[tuple[str, ColumnSource]]]:
        """Each output column's inputs as (Dagster dependency name, OpenLineage column source)."""
        landing = _landing_sources(self.catalog, self.recipe, self.batch_id)
        resolved: dict[str, list[tuple[str, ColumnSource]]] = {}
        for column, derived in derivations.items():
            for item in derived:
                if item.source == LANDING:
                    for name, (uri, fields) in landing.items():
                        field_name = fields.get(item.column, item.column)
                        if field_name is None:
                            continue
                        source = ColumnSource(
                            dataset_ref(uri), field_name, item.transformation, item.subtype
                        )
                        resolved.setdefault(column, []).append((f"{LANDING}/{name}", source))
                else:
                    ref = table_ref(self.catalog, table_spec(item.source))
                    source = ColumnSource(ref, item.column, item.transformation, item.subtype)
                    resolved.setdefault(column, []).append((item.source, source))
        return resolved

    @staticmethod
    def _ol_lineage(
        sources: Mapping[str, list[tuple[str, ColumnSource]]],
    ) -> dict[str, list[ColumnSource]]:
        return {column: [source for _, source in items] for column, items in sources.items()}

    def _inputs(
        self, spec: TableSpec, version: int, sources: Mapping[str, list[tuple[str, ColumnSource]]]
    ) -> list[Any]:
        """Input tables and model artifacts pinned by the output version's commit, plus landing."""
        inputs: list[Any] = []
        latest = self.catalog.version(spec)
        limit = None if latest is None else latest - version + 1
        commit = next(
            (entry for entry in self.catalog.history(spec, limit) if entry.version == version),
            None,
        )
        for table, input_version in sorted((commit.input_versions if commit else {}).items()):
            if table in TABLES:
                inputs.append(
                    input_dataset(self.catalog, TableInput(table_spec(table), input_version))
                )
        landing_fields: dict[str, list[str]] = {}
        for items in sources.values():
            for dependency, source in items:
                if dependency.startswith(f"{LANDING}/"):
                    fields = landing_fields.setdefault(source.dataset.name, [])
                    if source.column not in fields:
                        fields.append(source.column)
        landing = _landing_sources(self.catalog, self.recipe, self.batch_id)
        for _name, (uri, _fields) in sorted(landing.items()):
            fields = landing_fields.get(dataset_ref(uri).name, [])
            inputs.append(file_dataset(FileInput(uri, fields, "raw record field")))
        if commit is not None:
            inputs.extend(artifact_dataset(artifact) for artifact in commit.artifacts)
        return inputs


def _identity(dataset: Any) -> tuple[str, str, str]:
    """namespace, name and version of a dataset: one table read at two versions is two inputs."""
    version = (dataset.facets or {}).get("version")
    return dataset.namespace, dataset.name, getattr(version, "datasetVersion", "") or ""


def _landing_sources(
    catalog: Catalog, recipe: LoadedRecipe, batch_id: str | None
) -> dict[str, tuple[str, dict[str, str | None]]]:
    """The batch's recipe sources: name → (landing glob, source field names)."""
    if batch_id is None:
        return {}
    names = sorted({landing_file.source for landing_file in batch_files(catalog, batch_id)})
    found = {}
    for name in names:
        source = recipe.recipe.source(name)
        fields = {"text_field": source.text_field, "id_field": source.id_field}
        found[name] = (recipe.source_glob(source), fields)
    return found


def _dagster_column_lineage(
    derivations: Mapping[str, Sequence[Derived]],
    sources: Mapping[str, list[tuple[str, ColumnSource]]],
) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(
                    asset_key=dg.AssetKey(dependency.split("/")), column_name=source.column
                )
                for dependency, source in sources.get(column, [])
            ]
            for column in derivations
            if sources.get(column)
        }
    )


def _rejection_counts(
    catalog: Catalog, stage: str, entry: LedgerEntry | None
) -> tuple[Counter[str], Counter[str]]:
    """Rows the stage rejected by rule and quarantined by reason for the entry's batch."""
    rejected: Counter[str] = Counter()
    quarantined: Counter[str] = Counter()
    if entry is None:
        return rejected, quarantined
    batch = {"batch_id": entry.batch_id}
    if entry.rejections_version is not None:
        rows = catalog.read(
            OPS_REJECTIONS,
            entry.rejections_version,
            where=batch | {"stage": stage},
            columns=["rule"],
        )
        rejected.update(rows["rule"].to_pylist())
    if entry.quarantine_table is not None and entry.quarantine_version is not None:
        spec = table_spec(entry.quarantine_table)
        if "reason" in spec.schema.names:
            rows = catalog.read(spec, entry.quarantine_version, where=batch, columns=["reason"])
            quarantined.update(rows["reason"].to_pylist())
    return rejected, quarantined


def with_lineage(
    stage: str, column_lineage: ColumnLineage | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an asset's compute function (under the Dagster decorator) to emit lineage.

    The function must take the asset context and a `LakehouseResource`, and return or yield
    `MaterializeResult`s whose metadata carries `delta_version` (as `table_metadata` does).
    """
    declared = column_lineage or {}

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
                lineage = MaterializationLineage(
                    stage,
                    _context_argument(args, kwargs),
                    _lakehouse_argument(args, kwargs),
                    declared,
                )
                lineage.start()
                try:
                    for item in function(*args, **kwargs):
                        if isinstance(item, dg.MaterializeResult):
                            item = lineage.complete(item)
                        yield item
                except Exception as error:
                    lineage.fail(error)
                    raise

            return generator

        @functools.wraps(function)
        def returning(*args: Any, **kwargs: Any) -> Any:
            lineage = MaterializationLineage(
                stage, _context_argument(args, kwargs), _lakehouse_argument(args, kwargs), declared
            )
            lineage.start()
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                lineage.fail(error)
                raise
            if isinstance(result, dg.MaterializeResult):
                return lineage.complete(result)
            if isinstance(result, tuple):
                return tuple(
                    lineage.complete(item) if isinstance(item, dg.MaterializeResult) else item
                    for item in result
                )
            return result

        return returning

    return decorate


def emit_check_lineage(
    context: dg.AssetCheckExecutionContext,
    lakehouse: LakehouseResource,
    check_name: str,
    table: TableInput,
) -> None:
    """A check's lineage run: START and COMPLETE of `table@version` with its assertions."""
    if not lineage_enabled():
        return
    emitter = LineageEmitter.from_env(lakehouse.root)
    identity = RunIdentity(
        job=f"{table.spec.key}:{check_name}",
        parent_job=context.run.job_name,
        parent_run_id=context.run.run_id,
        job_type="ASSET_CHECK",
    )
    catalog = lakehouse.catalog()
    for state in (RunState.START, RunState.COMPLETE):
        inputs = [
            input_dataset(
                catalog,
                table if state == RunState.COMPLETE else TableInput(table.spec, table.version),
            )
        ]
        failed = emitter.emit(run_event(state, identity, inputs=inputs))
        if failed:
            context.log.warning(f"lineage for {identity.job} not delivered by {', '.join(failed)}")
