"""Provenance queries: where a document came from and what each stage did with it, which runs
produced a table version, and why rows were dropped.

Everything is read from the tables themselves (the ledger, the rejections table, the Delta commit
metadata and `ops/batches`), so a stage added to the funnel is traced as soon as it records its
ledger rows and rejections.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import Catalog, TableVersion
from lakehouse.exports import export_locations
from lakehouse.ledger import LedgerEntry, ledger_entries
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
    TABLES,
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
    plan_id: str | None = None
    """The approved plan whose recipe the stage ran with, when it ran with one."""


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
    # Web provenance (WARC and HTML sources); None for other sources.
    url: str | None = None
    fetched_at: str | None = None
    content_type: str | None = None
    warc_record_id: str | None = None
    source_offset: int | None = None
    stages: list[StageOutcome] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    consumption: list[dict[str, Any]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)

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


def _web_provenance(document: dict[str, Any] | None) -> dict[str, Any]:
    """URL, fetch date (ISO 8601), content type, WARC record id and offset of a bronze row."""
    row = document or {}
    fetched = row.get("fetched_at")
    return {
        "url": row.get("url"),
        "fetched_at": fetched.isoformat() if fetched is not None else None,
        "content_type": row.get("content_type"),
        "warc_record_id": row.get("warc_record_id"),
        "source_offset": row.get("source_offset"),
    }


def trace(catalog: Catalog, doc_id: str) -> DocumentTrace:
    """Raw file and record of `doc_id`, then each stage's outcome: kept, quarantined, rejected."""
    if not DOC_ID_PATTERN.match(doc_id):
        raise ProvenanceError(f"doc id {doc_id!r} is malformed: expected 32 lowercase hex chars")
    document = _one_row(catalog, BRONZE_DOCUMENTS, doc_id)
    quarantined = None if document else _one_row(catalog, BRONZE_QUARANTINE, doc_id)
    origin = document or quarantined
    if origin is None:
        raise NotFoundError(
            f"no document {doc_id} in bronze/documents or bronze/quarantine; find one with: "
            "funnel sql 'select doc_id, source from bronze.documents limit 5'"
        )
    result = DocumentTrace(
        doc_id=doc_id,
        batch_id=origin["batch_id"],
        source=origin["source"],
        source_uri=origin["source_uri"],
        source_record=origin["source_record"],
        source_id=(document or {}).get("source_id"),
        text_sha256=(document or {}).get("text_sha256"),
        **_web_provenance(document),
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
        if outcome.table is not None and outcome.version is not None:
            commit = catalog.commit_at(outcome.table, outcome.version)
            outcome.plan_id = commit.plan_id if commit is not None else None
        result.stages.append(outcome)
        if outcome.outcome != "kept":
            break
    result.releases = release_membership(catalog, doc_id)
    result.consumption = training_consumption(catalog, doc_id)
    result.exports = [asdict(found) for found in export_locations(catalog.root, doc_id)]
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
    """A job (one stage of one run), a table version, a model artifact, or a raw landing file."""

    id: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class LineageGraph:
    """Jobs and the dataset versions they read and wrote, as nodes and edges.

    Edges run from what was read to the job that read it, and from a job to what it wrote."""

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

    def parents(self) -> dict[str, list[str]]:
        """node id → the ids of the nodes with an edge into it."""
        found: dict[str, list[str]] = defaultdict(list)
        for source, target in self.edges:
            found[target].append(source)
        return found

    def cycle(self) -> list[str] | None:
        """One cycle of node ids when the edges hold one, else None."""
        children: dict[str, list[str]] = defaultdict(list)
        for source, target in self.edges:
            children[source].append(target)
        state: dict[str, int] = {}
        for start in self.nodes:
            if start in state:
                continue
            path = [start]
            stack = [iter(children.get(start, []))]
            state[start] = 1
            while stack:
                following = next(stack[-1], None)
                if following is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(following) == 1:
                    return [*path[path.index(following) :], following]
                elif following not in state:
                    state[following] = 1
                    path.append(following)
                    stack.append(iter(children.get(following, [])))
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "nodes": [vars(node) for node in self.nodes.values()],
            "edges": [{"from": source, "to": target} for source, target in self.edges],
        }


class LineageCycleError(RuntimeError):
    """Commit metadata that claims a job read what it (or a later job) wrote."""


def parse_table_ref(reference: str) -> tuple[str, int | None]:
    """`layer/name` or `layer/name@VERSION` → (table key, version or None for the latest)."""
    table, _, version = reference.partition("@")
    key = table_spec(table).key
    if not version:
        return key, None
    if not version.isdigit():
        raise ProvenanceError(f"{reference!r}: the version after '@' must be a number")
    return key, int(version)


# Where each table sits left to right: landing files, bronze, silver, gold, review, release,
# training; jobs sit between what they read and what they wrote.
_TABLE_RANKS = {
    "bronze/": 2,
    "silver/documents": 4,
    "silver/signals": 4,
    "silver/": 6,
    "models/": 6,
    "gold/scored_documents": 8,
    "gold/embeddings": 8,
    "gold/release_candidate": 10,
    "review/": 12,
    "gold/releases": 14,
    "serving/": 16,
    "gold/": 8,
}
_STAGE_RANKS = {"ingest": 1, "clean": 3, "dedup": 5, "decontaminate": 5, "score": 7}
_STAGE_RANKS |= {"curate": 9, "review": 11}
_STAGE_RANKS |= {"release": 13, "serve": 15, "train": 5}
_LAYERS = {0: "landing", 2: "bronze", 4: "silver", 6: "silver", 8: "gold", 10: "gold"}
_LAYERS |= {12: "review", 14: "release", 16: "training"}


def table_rank(table: str) -> int:
    """A table's column, left to right (landing files are 0); ops tables rank -1."""
    if table.startswith("ops/"):
        return -1
    for prefix, rank in _TABLE_RANKS.items():
        if table == prefix or (prefix.endswith("/") and table.startswith(prefix)):
            return rank
    return 8


def stage_rank(stage: str | None) -> int:
    """A job's column: between the tables its stage reads and those it writes."""
    return _STAGE_RANKS.get(stage or "", 7)


@dataclass(frozen=True)
class JobRecord:
    """One stage of one run, as its commits describe it."""

    run_id: str
    stage: str
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    committed_at: str = ""
    recipe_sha256: str | None = None
    code_version: str | None = None
    batch_ids: tuple[str, ...] = ()
    artifacts: tuple[tuple[str, str, str], ...] = ()
    """(name, sha256, uri) of each model artifact the job applied."""


def job_records(commits: Iterable[TableVersion]) -> list[JobRecord]:
    """Group commits into jobs: one per (run, stage, pinned inputs), oldest first.

    A stage retried inside one run pins its inputs again; an attempt that pinned other
    versions is another job, so no job both reads and writes one version."""
    grouped: dict[tuple[str, str, tuple[tuple[str, int], ...]], list[TableVersion]] = {}
    for commit in sorted(commits, key=lambda item: (item.timestamp, item.table, item.version)):
        if not commit.run_id or not commit.stage:
            continue
        inputs = tuple(sorted(commit.input_versions.items()))
        grouped.setdefault((commit.run_id, commit.stage, inputs), []).append(commit)
    jobs = []
    for (run_id, stage, inputs), items in grouped.items():
        first = items[0]
        artifacts = {
            (artifact.name, artifact.sha256, artifact.uri)
            for item in items
            for artifact in item.artifacts
        }
        jobs.append(
            JobRecord(
                run_id=run_id,
                stage=stage,
                inputs=inputs,
                outputs=tuple(sorted((item.table, item.version) for item in items)),
                committed_at=first.timestamp.isoformat(timespec="seconds"),
                recipe_sha256=first.recipe_sha256,
                code_version=first.code_version,
                artifacts=tuple(sorted(artifacts)),
            )
        )
    return jobs


def _dataset_id(table: str, version: int) -> str:
    return f"{table}@{version}"


def _job_ids(jobs: Sequence[JobRecord]) -> list[str]:
    """`job:RUN:STAGE`, with `#N` from the second attempt of a stage in one run on."""
    seen: Counter[tuple[str, str]] = Counter()
    ids = []
    for job in jobs:
        seen[(job.run_id, job.stage)] += 1
        attempt = seen[(job.run_id, job.stage)]
        ids.append(f"job:{job.run_id}:{job.stage}" + (f"#{attempt}" if attempt > 1 else ""))
    return ids


def build_lineage(
    jobs: Sequence[JobRecord],
    *,
    extra_inputs: Mapping[int, Iterable[tuple[str, int]]] | None = None,
    landing: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    target: str = "",
) -> LineageGraph:
    """The whole lineage graph of `jobs`: each job's recorded inputs (plus `extra_inputs`, by
    job index: the per-batch versions its ledger pin resolved to) into it, its outputs out of
    it, and the landing files of an ingest job's batches (`landing`: batch id → file rows)."""
    graph = LineageGraph(target=target)
    for index, (job, job_id) in enumerate(zip(jobs, _job_ids(jobs), strict=True)):
        graph.add(
            LineageNode(
                job_id,
                "job",
                f"{job.stage} {job.run_id[:8]}",
                {
                    "run_id": job.run_id,
                    "stage": job.stage,
                    "batch_ids": list(job.batch_ids),
                    "recipe_sha256": job.recipe_sha256,
                    "code_version": job.code_version,
                    "committed_at": job.committed_at,
                    "layer": _LAYERS.get(stage_rank(job.stage) + 1, "gold"),
                    "rank": stage_rank(job.stage),
                },
            )
        )
        written = set(job.outputs)
        read = list(job.inputs) + list((extra_inputs or {}).get(index, ()))
        for table, version in read:
            if (table, version) in written:
                continue
            graph.link(_dataset(graph, table, version), job_id)
        for name, sha256, uri in job.artifacts:
            model = graph.add(
                LineageNode(
                    f"model:{name}@{sha256[:12]}",
                    "model",
                    f"{name}@{sha256[:12]}",
                    {"name": name, "sha256": sha256, "uri": uri, "layer": "gold", "rank": 6},
                )
            )
            graph.link(model, job_id)
        for table, version in job.outputs:
            graph.link(job_id, _dataset(graph, table, version))
        if job.stage == "ingest":
            for batch_id in job.batch_ids:
                for row in (landing or {}).get(batch_id, ()):
                    graph.link(_file(graph, row, batch_id), job_id)
    return graph


def _dataset(graph: LineageGraph, table: str, version: int) -> str:
    rank = table_rank(table)
    return graph.add(
        LineageNode(
            _dataset_id(table, version),
            "dataset",
            _dataset_id(table, version),
            {
                "table": table,
                "version": version,
                "layer": "ops" if rank < 0 else _LAYERS.get(rank, "gold"),
                "rank": rank,
            },
        )
    )


def _file(graph: LineageGraph, row: Mapping[str, Any], batch_id: str) -> str:
    uri = row["file_uri"]
    attributes = {
        "uri": uri,
        "source": row.get("source"),
        "bytes": row.get("file_bytes"),
        "batch_id": batch_id,
        "layer": "landing",
        "rank": 0,
    }
    return graph.add(LineageNode(f"file:{uri}", "file", uri.rsplit("/", 1)[-1], attributes))


def upstream(graph: LineageGraph, target: str, depth: int | None = None) -> LineageGraph:
    """The part of `graph` that `target` comes from, at most `depth` jobs back (None: all)."""
    parents = graph.parents()
    hops = {target: 0}
    frontier = [target]
    while frontier:
        following = []
        for node_id in frontier:
            for parent in parents.get(node_id, []):
                jobs = hops[node_id] + (graph.nodes[parent].kind == "job")
                if depth is not None and jobs > depth:
                    continue
                if parent not in hops:
                    hops[parent] = jobs
                    following.append(parent)
        frontier = following
    result = LineageGraph(target=target)
    for node_id, node in graph.nodes.items():
        if node_id in hops:
            result.add(node)
    result.edges = [(a, b) for a, b in graph.edges if a in hops and b in hops]
    return result


def lineage_graph(catalog: Catalog, reference: str, depth: int | None = None) -> LineageGraph:
    """The jobs (one per stage per run, with recipe sha and code version) and dataset versions
    behind a table version, back to the raw landing files (at most `depth` jobs back)."""
    table, version = parse_table_ref(reference)
    latest = catalog.version(table)
    if latest is None:
        raise NotFoundError(
            f"table {table} has not been written yet; run `funnel run` first "
            "(`funnel tables` lists what exists)"
        )
    pinned = latest if version is None else version
    if pinned > latest:
        raise NotFoundError(
            f"table {table} has no version {pinned} (latest: {latest}); "
            f"try `funnel history {table}`"
        )
    graph = full_lineage(catalog)
    target = _dataset(graph, table, pinned)
    found = upstream(graph, target, depth)
    loop = found.cycle()
    if loop is not None:
        raise LineageCycleError(f"commit metadata forms a cycle: {' → '.join(loop)}")
    return found


def full_lineage(catalog: Catalog) -> LineageGraph:
    """Every job and dataset version of the lakehouse, from the commits of every table."""
    commits = [
        commit
        for spec in TABLES.values()
        if catalog.exists(spec)
        for commit in catalog.history(spec)
    ]
    jobs = job_records(commits)
    ledger_writes = {
        (commit.run_id, commit.stage): commit.version
        for commit in commits
        if commit.table == OPS_LEDGER.key
    }
    pinned_by: dict[int, list[LedgerEntry]] = {}
    enriched = []
    extra_inputs: dict[int, list[tuple[str, int]]] = {}
    for index, job in enumerate(jobs):
        written = dict(job.outputs).get(OPS_LEDGER.key, ledger_writes.get((job.run_id, job.stage)))
        batch_ids: tuple[str, ...] = ()
        if written is not None:
            entries = _ledger_at(catalog, written, pinned_by)
            batch_ids = tuple(
                sorted(
                    {
                        entry.batch_id
                        for entry in entries
                        if entry.run_id == job.run_id and entry.stage == job.stage
                    }
                )
            )
        enriched.append(replace(job, batch_ids=batch_ids))
        ledger_pin = dict(job.inputs).get(OPS_LEDGER.key)
        if ledger_pin is not None and len(batch_ids) > 1:
            extra_inputs[index] = _batch_inputs(
                _ledger_at(catalog, ledger_pin, pinned_by), job, batch_ids
            )
    landing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if catalog.exists(OPS_BATCHES):
        for row in catalog.read(OPS_BATCHES).to_pylist():
            landing[row["batch_id"]].append(row)
        for rows in landing.values():
            rows.sort(key=lambda row: row["file_uri"])
    return build_lineage(enriched, extra_inputs=extra_inputs, landing=landing)


def _ledger_at(
    catalog: Catalog, version: int, cache: dict[int, list[LedgerEntry]]
) -> list[LedgerEntry]:
    if version not in cache:
        cache[version] = ledger_entries(catalog, version=version)
    return cache[version]


def _batch_inputs(
    entries: Sequence[LedgerEntry], job: JobRecord, batch_ids: Sequence[str]
) -> list[tuple[str, int]]:
    """The version of each input table that a ledger pin gave each of the job's batches: what a
    stage reading every batch (curate) read, beyond the newest version its commits record."""
    found = []
    for table, _version in job.inputs:
        if table.startswith("ops/"):
            continue
        for entry in entries:
            version = entry.version_of(table)
            if entry.batch_id in batch_ids and version is not None:
                found.append((table, version))
    return sorted(set(found))


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


def dropped_examples(
    catalog: Catalog, per_rule: int = EXAMPLES, excerpt_chars: int = 300
) -> list[dict[str, Any]]:
    """Per stage and rule, most rows first: how many documents it dropped and a few of them
    (doc id, source, the signal's value, the threshold, detail and the start of the text)."""
    if not catalog.exists(OPS_REJECTIONS):
        return []
    columns = ["doc_id", "stage", "rule", "value", "threshold", "detail"]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in catalog.read(OPS_REJECTIONS, columns=columns).to_pylist():
        groups[(row["stage"], row["rule"])].append(row)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    shown = {
        row["doc_id"]: row
        for _, rows in ordered
        for row in sorted(rows, key=lambda row: row["doc_id"])[:per_rule]
    }
    texts = {}
    if shown and catalog.exists(BRONZE_DOCUMENTS):
        dataset = catalog.dataset(BRONZE_DOCUMENTS, catalog.version(BRONZE_DOCUMENTS))
        found = dataset.to_table(
            columns=["doc_id", "source", "text"], filter=pc.field("doc_id").isin(sorted(shown))
        )
        texts = {row["doc_id"]: row for row in found.to_pylist()}
    summary = []
    for (stage, rule), rows in ordered:
        examples = []
        for row in sorted(rows, key=lambda row: row["doc_id"])[:per_rule]:
            document = texts.get(row["doc_id"], {})
            text = document.get("text") or ""
            examples.append(
                row
                | {
                    "source": document.get("source"),
                    "excerpt": text[:excerpt_chars] + ("…" if len(text) > excerpt_chars else ""),
                }
            )
        summary.append({"stage": stage, "rule": rule, "count": len(rows), "examples": examples})
    return summary


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
