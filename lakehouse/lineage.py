"""OpenLineage events for every table version the funnel writes, and every check it runs on one.

A materialization is an OpenLineage run: START, then COMPLETE or FAIL (with the error message).
Its job is the asset key (`bronze/documents`), its parent the Dagster run; its inputs and outputs
are Delta tables (namespace from the table URI's scheme and location, name its path) with the
schema, dataSource, version (the Delta version), outputStatistics, columnLineage and
dataQualityAssertions facets, and `funnel_rejections`, a facet of rejection counts by rule with
its own JSON Schema (`lakehouse/schemas/`).

Events always go to files under `<root>/_lineage/` (one JSON file per event, an object on an
object-store root, written with the lake's storage options) and, when
`OPENLINEAGE_URL` is set, also over HTTP to that endpoint (Marquez-compatible). Emission never
fails a data run: a transport that fails is logged and the event stays in the file.
`FUNNEL_LINEAGE=off` turns emission off.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import attr
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.generated import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.generated.base import RunFacet, set_producer
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.transport import Transport
from openlineage.client.uuid import generate_new_uuid

from lakehouse.artifacts import Artifact
from lakehouse.catalog import Catalog
from lakehouse.storage import filesystem, is_remote_uri, storage_options_from_env
from lakehouse.tables import TableSpec

log = logging.getLogger("funnel.lineage")

LINEAGE_SWITCH_ENV = "FUNNEL_LINEAGE"
URL_ENV = "OPENLINEAGE_URL"
ENDPOINT_ENV = "OPENLINEAGE_ENDPOINT"
NAMESPACE_ENV = "OPENLINEAGE_NAMESPACE"
DEFAULT_NAMESPACE = "funnel"
LINEAGE_DIR = "_lineage"
HTTP_TIMEOUT_SECONDS = 5.0
PRODUCER = "https://funnel-lakehouse.invalid/funnel"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# The `.invalid` host is reserved and never resolves: the URL is an identifier that maps to the
# schema file shipped in `lakehouse/schemas/`, which validators register under it.
REJECTIONS_SCHEMA_URL = (
    "https://funnel-lakehouse.invalid/spec/facets/1-0-0/RejectionCountsRunFacet.json"
    "#/$defs/RejectionCountsRunFacet"
)
REJECTIONS_FACET = "funnel_rejections"
RECIPE_SCHEMA_URL = (
    "https://funnel-lakehouse.invalid/spec/facets/1-0-0/RecipeRunFacet.json#/$defs/RecipeRunFacet"
)
RECIPE_FACET = "funnel_recipe"

# Facets name the funnel as their producer, like the events that carry them.
set_producer(PRODUCER)


def lineage_enabled() -> bool:
    """False when `FUNNEL_LINEAGE` is `off` (or `0`, `false`, `no`)."""
    return os.environ.get(LINEAGE_SWITCH_ENV, "on").strip().lower() not in {
        "off",
        "0",
        "false",
        "no",
    }


def job_namespace() -> str:
    """Namespace of the funnel's jobs: `OPENLINEAGE_NAMESPACE`, default `funnel`."""
    return os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE


def lineage_dir(root: str) -> str:
    """Where the file transport writes: `<root>/_lineage`."""
    return f"{root.rstrip('/')}/{LINEAGE_DIR}"


@attr.define
class RejectionCountsRunFacet(RunFacet):
    """Rows a stage dropped in this run, by rule, and rows it quarantined, by reason."""

    stage: str
    batchId: str | None
    rejected: dict[str, int] = attr.field(factory=dict)
    quarantined: dict[str, int] = attr.field(factory=dict)
    _additional_skip_redact: ClassVar[list[str]] = ["stage", "batchId"]

    @staticmethod
    def _get_schema() -> str:
        return REJECTIONS_SCHEMA_URL


@attr.define
class RecipeRunFacet(RunFacet):
    """The recipe a stage ran with, and the approved plan it was written from (if any)."""

    recipeSha256: str
    planId: str | None = None
    _additional_skip_redact: ClassVar[list[str]] = ["recipeSha256", "planId"]

    @staticmethod
    def _get_schema() -> str:
        return RECIPE_SCHEMA_URL


@dataclass(frozen=True)
class DatasetRef:
    """An OpenLineage dataset identity: namespace and name."""

    namespace: str
    name: str


def dataset_ref(uri: str) -> DatasetRef:
    """Namespace from the URI's scheme and location, name its path.

    `/data/lake/bronze/documents` → (`file`, `/data/lake/bronze/documents`);
    `s3://bucket/lake/bronze/documents` → (`s3://bucket`, `lake/bronze/documents`).
    """
    if is_remote_uri(uri):
        parsed = urlparse(uri)
        return DatasetRef(f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/"))
    return DatasetRef("file", os.path.abspath(uri.removeprefix("file://")))


def table_ref(catalog: Catalog, spec: TableSpec) -> DatasetRef:
    """The dataset identity of a lakehouse table."""
    return dataset_ref(catalog.uri(spec))


@dataclass(frozen=True)
class ColumnSource:
    """An input column an output column is computed from, and how."""

    dataset: DatasetRef
    column: str
    transformation: str
    subtype: str = "IDENTITY"
    kind: str = "DIRECT"


@dataclass(frozen=True)
class TableOutput:
    """A table version a run wrote, with what the event says about it."""

    spec: TableSpec
    version: int
    batch_id: str | None = None
    column_lineage: Mapping[str, Sequence[ColumnSource]] = field(default_factory=dict)


@dataclass(frozen=True)
class TableInput:
    """A pinned table version a run read (or a check examined), with its assertions."""

    spec: TableSpec
    version: int
    assertions: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class FileInput:
    """A landing location a run read raw records from."""

    uri: str
    fields: Sequence[str] = ()
    description: str = ""


@dataclass(frozen=True)
class RunIdentity:
    """Who a lineage run is: its job (a stage, or an asset check), its own run id and the
    Dagster run above."""

    job: str
    parent_job: str
    parent_run_id: str
    run_id: str = field(default_factory=lambda: str(generate_new_uuid()))
    job_type: str = "ASSET"
    recipe_sha256: str | None = None
    plan_id: str | None = None


def _schema_facet(schema: pa.Schema) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(
                name=column.name,
                type=str(column.type),
                description=(column.metadata or {}).get(b"doc", b"").decode() or None,
                ordinal_position=position,
            )
            for position, column in enumerate(schema, start=1)
        ]
    )


def _datasource_facet(ref: DatasetRef) -> datasource_dataset.DatasourceDatasetFacet:
    uri = ref.namespace if "://" in ref.namespace else f"{ref.namespace}://"
    return datasource_dataset.DatasourceDatasetFacet(name=ref.namespace, uri=uri)


def output_statistics(
    catalog: Catalog, spec: TableSpec, version: int, batch_id: str | None
) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    """Rows, bytes and files of the batch in a table version, from the Delta log (no data read)."""
    delta = DeltaTable(
        catalog.uri(spec), version=version, storage_options=catalog.storage_options or None
    )
    actions = pa.table(delta.get_add_actions(flatten=True))
    partition = "partition.batch_id"
    if batch_id is not None and partition in actions.column_names:
        actions = actions.filter(pc.equal(actions[partition], batch_id))
    rows = int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
    size = int(pc.sum(actions["size_bytes"]).as_py() or 0) if actions.num_rows else 0
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=rows, size=size, fileCount=actions.num_rows
    )


def _column_lineage_facet(
    lineage: Mapping[str, Sequence[ColumnSource]],
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=source.dataset.namespace,
                        name=source.dataset.name,
                        field=source.column,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type=source.kind,
                                subtype=source.subtype,
                                description=source.transformation,
                                masking=False,
                            )
                        ],
                    )
                    for source in sources
                ]
            )
            for column, sources in lineage.items()
        }
    )


def output_dataset(catalog: Catalog, output: TableOutput, *, complete: bool) -> OutputDataset:
    """An output table with its facets; statistics and versions only once it is written."""
    ref = table_ref(catalog, output.spec)
    facets: dict[str, Any] = {
        "schema": _schema_facet(output.spec.schema),
        "dataSource": _datasource_facet(ref),
    }
    output_facets: dict[str, Any] = {}
    if complete:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(output.version)
        )
        if output.column_lineage:
            facets["columnLineage"] = _column_lineage_facet(output.column_lineage)
        output_facets["outputStatistics"] = output_statistics(
            catalog, output.spec, output.version, output.batch_id
        )
    return OutputDataset(ref.namespace, ref.name, facets=facets, outputFacets=output_facets)


def input_dataset(catalog: Catalog, table: TableInput) -> InputDataset:
    """An input table version with its facets (and GX assertions, when a check examined it)."""
    ref = table_ref(catalog, table.spec)
    facets: dict[str, Any] = {
        "schema": _schema_facet(table.spec.schema),
        "dataSource": _datasource_facet(ref),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(table.version)
        ),
    }
    input_facets: dict[str, Any] = {}
    if table.assertions:
        input_facets["dataQualityAssertions"] = (
            data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                assertions=[
                    data_quality_assertions_dataset.Assertion(**assertion)
                    for assertion in table.assertions
                ]
            )
        )
    return InputDataset(ref.namespace, ref.name, facets=facets, inputFacets=input_facets)


def file_dataset(landing: FileInput) -> InputDataset:
    """A landing location as an input dataset, with the raw fields that were read."""
    ref = dataset_ref(landing.uri)
    facets: dict[str, Any] = {"dataSource": _datasource_facet(ref)}
    if landing.fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, description=landing.description)
                for name in landing.fields
            ]
        )
    return InputDataset(ref.namespace, ref.name, facets=facets)


def artifact_dataset(artifact: Artifact) -> InputDataset:
    """A model artifact a run applied, as an input dataset versioned by its sha256."""
    ref = dataset_ref(artifact.uri)
    facets: dict[str, Any] = {
        "dataSource": _datasource_facet(ref),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=artifact.sha256
        ),
    }
    return InputDataset(ref.namespace, ref.name, facets=facets)


def artifact_output(artifact: Artifact) -> OutputDataset:
    """A model artifact a training run produced, as an output dataset versioned by its sha256."""
    ref = dataset_ref(artifact.uri)
    facets: dict[str, Any] = {
        "dataSource": _datasource_facet(ref),
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=artifact.sha256
        ),
    }
    return OutputDataset(ref.namespace, ref.name, facets=facets)


def _run_facets(identity: RunIdentity) -> dict[str, Any]:
    recipe = {}
    if identity.recipe_sha256 is not None:
        recipe[RECIPE_FACET] = RecipeRunFacet(identity.recipe_sha256, identity.plan_id)
    return recipe | {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=identity.parent_run_id),
            job=parent_run.Job(namespace=job_namespace(), name=identity.parent_job),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=identity.parent_run_id),
                job=parent_run.RootJob(namespace=job_namespace(), name=identity.parent_job),
            ),
        ),
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=metadata.version("dagster"),
            name="Dagster",
            openlineageAdapterVersion=metadata.version("openlineage-python"),
        ),
    }


def run_event(
    state: RunState,
    identity: RunIdentity,
    *,
    inputs: Iterable[InputDataset] = (),
    outputs: Iterable[OutputDataset] = (),
    run_facets: Mapping[str, Any] | None = None,
) -> RunEvent:
    """One OpenLineage RunEvent of a funnel job."""
    facets = _run_facets(identity) | dict(run_facets or {})
    return RunEvent(
        eventType=state,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=identity.run_id, facets=facets),
        job=Job(
            namespace=job_namespace(),
            name=identity.job,
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="DAGSTER", jobType=identity.job_type
                )
            },
        ),
        inputs=list(inputs),
        outputs=list(outputs),
        producer=PRODUCER,
    )


def error_facets(error: BaseException) -> dict[str, Any]:
    """The errorMessage run facet of a failed run."""
    return {
        "errorMessage": error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error)),
        )
    }


def rejection_facets(
    stage: str, batch_id: str | None, rejected: Mapping[str, int], quarantined: Mapping[str, int]
) -> dict[str, Any]:
    """The custom `funnel_rejections` run facet."""
    return {
        REJECTIONS_FACET: RejectionCountsRunFacet(
            stage=stage,
            batchId=batch_id,
            rejected=dict(sorted(rejected.items())),
            quarantined=dict(sorted(quarantined.items())),
        )
    }


class LakeFileTransport(Transport):
    """Writes each event as its own JSON file in the lineage folder, local or object store.

    One new file per event, named by time and a random suffix, so concurrent writers (runs on
    different machines) never write the same object and no append is needed: object stores
    have none. A write that fails raises; it never falls back to a local path.
    """

    kind = "funnel_file"

    def __init__(self, folder: str, storage_options: Mapping[str, str] | None = None):
        self.folder = folder
        self.files, self.path = filesystem(folder, storage_options)

    def emit(self, event: Any) -> None:
        """Write `event` to a new file `event-<utc time>-<random>.json` under the folder."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S.%f")
        name = posixpath.join(self.path, f"event-{stamp}-{generate_new_uuid().hex[:8]}.json")
        if not is_remote_uri(self.folder):
            os.makedirs(self.path, exist_ok=True)
        with self.files.open(name, "w") as handle:
            handle.write(Serde.to_json(event) + "\n")


class LineageEmitter:
    """Sends events to the lineage folder and, with `OPENLINEAGE_URL`, to an HTTP endpoint."""

    def __init__(
        self,
        root: str,
        url: str | None = None,
        endpoint: str | None = None,
        storage_options: Mapping[str, str] | None = None,
    ):
        self.root = root
        self.folder = lineage_dir(root)
        self.url = url
        self._clients: list[tuple[str, OpenLineageClient]] = []
        options = storage_options_from_env() if storage_options is None else storage_options
        self._add("file", LakeFileTransport(self.folder, options))
        if url:
            config = HttpConfig(
                url=url,
                endpoint=endpoint or "api/v1/lineage",
                timeout=HTTP_TIMEOUT_SECONDS,
                retry={"total": 1, "backoff_factor": 0.1, "status_forcelist": [502, 503, 504]},
            )
            self._add(f"http {url}", HttpTransport(config))

    @classmethod
    def from_env(cls, root: str) -> LineageEmitter:
        """The emitter configured by `OPENLINEAGE_URL` and `OPENLINEAGE_ENDPOINT`."""
        return cls(root, os.environ.get(URL_ENV) or None, os.environ.get(ENDPOINT_ENV) or None)

    def _add(self, name: str, transport: Transport) -> None:
        self._clients.append((name, OpenLineageClient(transport=transport)))

    def emit(self, event: RunEvent) -> list[str]:
        """Send one event everywhere; returns the transports that failed (each one logged)."""
        failed = []
        for name, client in self._clients:
            try:
                client.emit(event)
            except Exception as error:
                failed.append(name)
                log.warning(
                    "lineage event %s of %s not delivered by %s: %s",
                    event.eventType.value if event.eventType else "?",
                    event.job.name,
                    name,
                    error,
                )
        return failed


def read_events(
    root: str, storage_options: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every event in the lineage folder, oldest first (by event time)."""
    options = storage_options_from_env() if storage_options is None else storage_options
    files, path = filesystem(lineage_dir(root), options)
    if not files.exists(path):
        return []
    events = []
    for name in sorted(files.glob(posixpath.join(path, "*.json"))):
        with files.open(name, "r") as handle:
            for line in handle:
                if line.strip():
                    events.append(json.loads(line))
    return sorted(events, key=lambda event: event.get("eventTime", ""))
