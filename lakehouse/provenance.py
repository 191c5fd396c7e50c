"""Provenance queries: where a document came from and what each stage did with it, which runs
produced a table version, and why rows were dropped.

Everything is read from the tables themselves (the ledger, the rejections table, the Delta commit
metadata and `ops/batches`), so a stage added to the funnel is traced as soon as it records its
ledger rows and rejections.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import Catalog
from lakehouse.releases import list_releases
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    BRONZE_QUARANTINE,
    GOLD_RELEASE_CANDIDATE,
    GOLD_RELEASES,
    OPS_BATCHES,
    OPS_LEDGER,
    OPS_REJECTIONS,
    SERVING_CONSUMPTION,
    table_spec,
)

DOC_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
EXAMPLES = 3


class ProvenanceError(ValueError):
    """A malformed question: a doc id or table reference that cannot be looked up."""


class NotFoundError(LookupError):
    """A well-formed doc id or table version that the lakehouse does not hold."""


def _ledger(catalog: Catalog, batch_id: str | None = None) -> list[dict[str, Any]]:
    """Ledger rows (optionally of one batch) in the order they were recorded."""
    where = {"batch_id": batch_id} if batch_id else None
    rows = catalog.read(OPS_LEDGER, where=where).to_pylist()
    return sorted(rows, key=lambda row: (row["recorded_at"], row["stage"]))


@dataclass
class StageOutcome:
    """What one stage did with a document."""

    stage: str
    outcome: str
    table: str | None = None
    version: int | None = None
    run_id: str | None = None
    rule: str | None = None
    value: float | None = None
    threshold: float | None = None
    detail: str | None = None


@dataclass
class DocumentTrace:
    """A document's origin and its outcome at every stage that has seen its batch."""

    doc_id: str
    batch_id: str
    source: str
    source_uri: str
    source_record: int | None
    source_id: str | None
    text_sha256: str | None
    stages: list[StageOutcome] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    consumption: list[dict[str, Any]] = field(default_factory=list)

    def table_versions(self) -> dict[str, int]:
        """Every table version the trace read, by table."""
        return {
            outcome.table: outcome.version
            for outcome in self.stages
            if outcome.table is not None and outcome.version is not None
        }


def _one_row(catalog: Catalog, table: Any, doc_id: str) -> dict[str, Any] | None:
    if not catalog.exists(table):
        return None
    rows = catalog.read(table, where={"doc_id": doc_id}).to_pylist()
    return rows[0] if rows else None


def trace(catalog: Catalog, doc_id: str) -> DocumentTrace:
    """Raw file and record of `doc_id`, then each stage's outcome: kept, quarantined, rejected."""
    if not DOC_ID_PATTERN.match(doc_id):
        raise ProvenanceError(f"doc id {doc_id!r} is malformed: expected 32 lowercase hex chars")
    document = _one_row(catalog, BRONZE_DOCUMENTS, doc_id)
    quarantined = None if document else _one_row(catalog, BRONZE_QUARANTINE, doc_id)
    origin = document or quarantined
    if origin is None:
        raise NotFoundError(f"no document {doc_id} in bronze/documents or bronze/quarantine")
    result = DocumentTrace(
        doc_id=doc_id,
        batch_id=origin["batch_id"],
        source=origin["source"],
        source_uri=origin["source_uri"],
        source_record=origin["source_record"],
        source_id=(document or {}).get("source_id"),
        text_sha256=(document or {}).get("text_sha256"),
    )
    rejections = {}
    if catalog.exists(OPS_REJECTIONS):
        for row in catalog.read(OPS_REJECTIONS, where={"doc_id": doc_id}).to_pylist():
            rejections[row["stage"]] = row
    for entry in _ledger(catalog, result.batch_id):
        stage = entry["stage"]
        outcome = StageOutcome(
            stage=stage,
            outcome="absent",
            table=entry["output_table"],
            version=entry["output_version"],
            run_id=entry["run_id"],
        )
        rejected = rejections.get(stage)
        if rejected is not None:
            outcome.outcome = "rejected"
            outcome.rule = rejected["rule"]
            outcome.value = rejected["value"]
            outcome.threshold = rejected["threshold"]
            outcome.detail = rejected["detail"]
            outcome.version = entry["rejections_version"]
            outcome.table = OPS_REJECTIONS.key
        elif _holds(catalog, entry["output_table"], entry["output_version"], doc_id):
            outcome.outcome = "kept"
        elif entry["quarantine_table"] and _holds(
            catalog, entry["quarantine_table"], entry["quarantine_version"], doc_id
        ):
            outcome.outcome = "quarantined"
            outcome.table = entry["quarantine_table"]
            outcome.version = entry["quarantine_version"]
            row = _one_row(catalog, table_spec(entry["quarantine_table"]), doc_id) or {}
            outcome.rule = row.get("reason")
            outcome.detail = row.get("detail")
        result.stages.append(outcome)
        if outcome.outcome != "kept":
            break
    result.releases = release_membership(catalog, doc_id)
    result.consumption = training_consumption(catalog, doc_id)
    return result


def release_membership(catalog: Catalog, doc_id: str) -> list[dict[str, Any]]:
    """The published releases that ship `doc_id`, oldest first: name, the candidate version it
    pins, and the document's domain, tokens and weight in it."""
    if not catalog.exists(GOLD_RELEASES):
        return []
    shipped = []
    for manifest in list_releases(catalog):
        rows = catalog.read(
            GOLD_RELEASE_CANDIDATE,
            manifest.candidate_version,
            where={"doc_id": doc_id},
            columns=["domain", "tokens", "weight"],
        ).to_pylist()
        shipped.extend(
            {
                "release": manifest.name,
                "candidate_version": manifest.candidate_version,
                "published_at": manifest.published_at.isoformat(),
            }
            | row
            for row in rows
        )
    return shipped


def training_consumption(catalog: Catalog, doc_id: str) -> list[dict[str, Any]]:
    """When training runs consumed `doc_id`: run, release, step, kept, weight, time."""
    if not catalog.exists(SERVING_CONSUMPTION):
        return []
    columns = ["run_name", "release", "step", "kept", "weight", "consumed_at"]
    rows = catalog.read(SERVING_CONSUMPTION, where={"doc_id": doc_id}, columns=columns)
    ordered = sorted(rows.to_pylist(), key=lambda row: (row["consumed_at"], row["step"]))
    return [row | {"consumed_at": row["consumed_at"].isoformat()} for row in ordered]


def _holds(catalog: Catalog, table: str, version: int | None, doc_id: str) -> bool:
    if version is None:
        return False
    spec = table_spec(table)
    if "doc_id" not in spec.schema.names:
        return False
    return catalog.count(spec, version, where={"doc_id": doc_id}) > 0


@dataclass
class LineageNode:
    """A table version, a run, or a raw landing file."""

    id: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class LineageGraph:
    """Dataset versions, the runs that produced them and the raw files, as nodes and edges."""

    target: str
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: LineageNode) -> str:
        """Add a node once; returns its id."""
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, source: str, target: str) -> None:
        """An edge from what was read (or run) to what it produced."""
        if (source, target) not in self.edges:
            self.edges.append((source, target))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "nodes": [vars(node) for node in self.nodes.values()],
            "edges": [{"from": source, "to": target} for source, target in self.edges],
        }


def parse_table_ref(reference: str) -> tuple[str, int | None]:
    """`layer/name` or `layer/name@VERSION` → (table key, version or None for the latest)."""
    table, _, version = reference.partition("@")
    key = table_spec(table).key
    if not version:
        return key, None
    if not version.isdigit():
        raise ProvenanceError(f"{reference!r}: the version after '@' must be a number")
    return key, int(version)


def lineage_graph(catalog: Catalog, reference: str) -> LineageGraph:
    """The runs (with recipe sha and code version) and inputs behind a table version, back to
    the raw landing files, one branch per batch present in that version."""
    table, version = parse_table_ref(reference)
    latest = catalog.version(table)
    if latest is None:
        raise NotFoundError(f"table {table} has not been written yet")
    pinned = latest if version is None else version
    if pinned > latest:
        raise NotFoundError(f"table {table} has no version {pinned} (latest: {latest})")
    graph = LineageGraph(target=f"{table}@{pinned}")
    history = {entry.version: entry for entry in catalog.history(table)}
    target = graph.add(
        LineageNode(f"{table}@{pinned}", "dataset", f"{table}@{pinned}", {"table": table})
    )
    ledger = _ledger(catalog)
    batches: dict[str, dict[str, Any]] = {}
    for entry in ledger:
        for column, version_column in (
            ("output_table", "output_version"),
            ("quarantine_table", "quarantine_version"),
        ):
            written = entry[version_column]
            if entry[column] == table and written is not None and written <= pinned:
                batches[entry["batch_id"]] = entry | {"written": written}
    if not batches:
        commit = history.get(pinned)
        if commit is not None and commit.run_id:
            run = _run_node(graph, commit.run_id, commit, None)
            graph.link(run, target)
        return graph
    for batch_id, entry in sorted(batches.items()):
        _add_batch_lineage(graph, catalog, table, entry["written"], batch_id, target, ledger)
    return graph


def _run_node(graph: LineageGraph, run_id: str, commit: Any, batch_id: str | None) -> str:
    return graph.add(
        LineageNode(
            f"run:{run_id}",
            "run",
            f"{commit.stage or 'run'} {run_id[:8]}",
            {
                "run_id": run_id,
                "stage": commit.stage,
                "batch_id": batch_id,
                "recipe_sha256": commit.recipe_sha256,
                "code_version": commit.code_version,
                "committed_at": commit.timestamp.isoformat(timespec="seconds"),
            },
        )
    )


def _dataset_node(graph: LineageGraph, table: str, version: int) -> str:
    """The node of `table@version` (added once); returns its id."""
    reference = f"{table}@{version}"
    return graph.add(LineageNode(reference, "dataset", reference, {"table": table}))


def _add_batch_lineage(
    graph: LineageGraph,
    catalog: Catalog,
    table: str,
    version: int,
    batch_id: str,
    target: str,
    ledger: list[dict[str, Any]],
) -> None:
    """The run that wrote `table@version` for `batch_id`, linked to `target`, and what it read:
    input table versions (recursively, through the ledger) or, for ingest, the landing files."""
    commit = next((item for item in catalog.history(table) if item.version == version), None)
    if commit is None or not commit.run_id:
        return
    run = _run_node(graph, commit.run_id, commit, batch_id)
    written = _dataset_node(graph, table, version)
    if written != target:
        graph.link(written, target)
    graph.link(run, written)
    if commit.input_versions:
        for input_table, input_version in sorted(commit.input_versions.items()):
            node = _dataset_node(graph, input_table, input_version)
            graph.link(node, run)
            _add_upstream_lineage(
                graph, catalog, input_table, input_version, batch_id, node, ledger
            )
    else:
        _add_landing_files(graph, catalog, batch_id, run)


def _add_upstream_lineage(
    graph: LineageGraph,
    catalog: Catalog,
    table: str,
    version: int,
    batch_id: str,
    node: str,
    ledger: list[dict[str, Any]],
) -> None:
    """The lineage of the batch's latest ledger entry that wrote `table` at or before `version`."""
    upstream = [
        entry
        for entry in ledger
        if entry["batch_id"] == batch_id
        and entry["output_table"] == table
        and entry["output_version"] <= version
    ]
    if upstream:
        written = upstream[-1]["output_version"]
        _add_batch_lineage(graph, catalog, table, written, batch_id, node, ledger)


def _add_landing_files(graph: LineageGraph, catalog: Catalog, batch_id: str, run: str) -> None:
    """The batch's raw landing files (from `ops/batches`), each linked to the ingest run."""
    if not catalog.exists(OPS_BATCHES):
        return
    files = catalog.read(OPS_BATCHES, where={"batch_id": batch_id}).to_pylist()
    for landing_file in sorted(files, key=lambda row: row["file_uri"]):
        uri = landing_file["file_uri"]
        attributes = {
            "uri": uri,
            "source": landing_file["source"],
            "bytes": landing_file["file_bytes"],
            "batch_id": batch_id,
        }
        node = graph.add(LineageNode(f"file:{uri}", "file", uri.rsplit("/", 1)[-1], attributes))
        graph.link(node, run)


# (stage, rule, source, doc id or file URI, kind) of one dropped row.
_DroppedRow = tuple[str, str, str | None, str, str]


def rejection_summary(
    catalog: Catalog,
    *,
    stage: str | None = None,
    rule: str | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Rows dropped, grouped by stage, rule (or quarantine reason) and source, with examples."""
    groups: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for row_stage, row_rule, row_source, doc, kind in itertools.chain(
        _rejected_rows(catalog), _quarantined_rows(catalog)
    ):
        if stage and row_stage != stage:
            continue
        if rule and row_rule != rule:
            continue
        if source and row_source != source:
            continue
        groups[(row_stage, row_rule, row_source or "", kind)].append(doc)
    return [
        {
            "stage": key[0],
            "rule": key[1],
            "source": key[2],
            "kind": key[3],
            "count": len(docs),
            "examples": sorted(docs)[:EXAMPLES],
        }
        for key, docs in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    ]


def _rejected_rows(catalog: Catalog) -> Iterator[_DroppedRow]:
    """Every row of `ops/rejections`, with the source of its bronze document."""
    if not catalog.exists(OPS_REJECTIONS):
        return
    rejected = catalog.read(OPS_REJECTIONS, columns=["doc_id", "stage", "rule"])
    sources = _doc_sources(catalog)
    for row_stage, row_rule, doc in zip(
        rejected["stage"].to_pylist(),
        rejected["rule"].to_pylist(),
        rejected["doc_id"].to_pylist(),
        strict=True,
    ):
        yield row_stage, row_rule, sources.get(doc), doc, "rejected"


def _quarantined_rows(catalog: Catalog) -> Iterator[_DroppedRow]:
    """Every row of `bronze/quarantine`; a whole unreadable file is named by its URI."""
    if not catalog.exists(BRONZE_QUARANTINE):
        return
    quarantined = catalog.read(
        BRONZE_QUARANTINE, columns=["doc_id", "source", "reason", "source_uri"]
    )
    for reason, row_source, doc, uri in zip(
        quarantined["reason"].to_pylist(),
        quarantined["source"].to_pylist(),
        quarantined["doc_id"].to_pylist(),
        quarantined["source_uri"].to_pylist(),
        strict=True,
    ):
        yield "ingest", reason, row_source, doc or uri, "quarantined"


def _doc_sources(catalog: Catalog) -> dict[str, str]:
    """doc_id → source for every bronze document (two narrow columns)."""
    if not catalog.exists(BRONZE_DOCUMENTS):
        return {}
    table: pa.Table = catalog.read(BRONZE_DOCUMENTS, columns=["doc_id", "source"])
    return dict(
        zip(
            pc.cast(table["doc_id"], pa.string()).to_pylist(),
            table["source"].to_pylist(),
            strict=True,
        )
    )
