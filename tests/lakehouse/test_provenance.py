"""The lineage graph built from commit metadata: jobs are (run, stage), datasets are table
versions, and whatever history the commits describe, the graph has no cycle."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from lakehouse.catalog import TableVersion
from lakehouse.provenance import build_lineage, job_records, upstream

# stage → (tables it reads, tables it writes); ops/ledger is read (the pin) and written by all.
STAGES = {
    "ingest": ((), ("bronze/documents", "bronze/quarantine")),
    "clean": (("bronze/documents",), ("silver/documents", "ops/rejections")),
    "dedup": (("silver/documents", "silver/unique_documents"), ("silver/unique_documents",)),
    "score": (("silver/unique_documents",), ("gold/scored_documents", "gold/embeddings")),
    "curate": (("gold/scored_documents",), ("gold/release_candidate",)),
}
START = datetime(2026, 1, 1, tzinfo=UTC)

# One step of a history: stage, which of a few runs it belongs to, whether it commits its
# ledger row (a stage killed before it does not), and how stale a version it reads.
steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(STAGES)),
        st.integers(0, 3),
        st.booleans(),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=30,
)


def _history(plan: list[tuple[str, int, bool, int]]) -> list[TableVersion]:
    """Commits of a simulated lakehouse: each job pins versions that exist when it starts
    (the latest, or an older one), then commits new versions of its outputs."""
    latest: dict[str, int] = {}
    commits: list[TableVersion] = []
    clock = START
    for stage, run, records, stale in plan:
        reads, writes = STAGES[stage]
        pinned = {
            table: max(0, latest[table] - stale)
            for table in (*reads, "ops/ledger")
            if table in latest
        }
        for table in (*writes, *(["ops/ledger"] if records else [])):
            latest[table] = latest.get(table, -1) + 1
            clock += timedelta(seconds=1)
            commits.append(
                TableVersion(
                    table=table,
                    version=latest[table],
                    timestamp=clock,
                    operation="WRITE",
                    rows_added=1,
                    run_id=f"run-{run}",
                    stage=stage,
                    recipe_sha256="r",
                    code_version="c",
                    input_versions=dict(pinned),
                )
            )
    return commits


@settings(max_examples=200, deadline=None)
@given(steps)
def test_no_generated_history_gives_a_cycle(plan: list[tuple[str, int, bool, int]]) -> None:
    jobs = job_records(_history(plan))
    graph = build_lineage(jobs)
    assert graph.cycle() is None
    writers = Counter(target for source, target in graph.edges if source.startswith("job:"))
    assert all(count == 1 for count in writers.values()), "every version has one writer"
    for job in jobs:
        job_ids = [
            node.id
            for node in graph.nodes.values()
            if node.kind == "job"
            and node.attributes["run_id"] == job.run_id
            and node.attributes["stage"] == job.stage
        ]
        assert job_ids, "one node per stage of a run"
        read = {source for source, target in graph.edges if target in job_ids}
        assert {f"{table}@{version}" for table, version in job.inputs} <= read


def test_one_run_writing_three_stages_is_three_jobs() -> None:
    plan = [("ingest", 0, True, 0), ("clean", 0, True, 0), ("dedup", 0, True, 0)]
    graph = build_lineage(job_records(_history(plan)))
    jobs = sorted(node.id for node in graph.nodes.values() if node.kind == "job")
    assert jobs == ["job:run-0:clean", "job:run-0:dedup", "job:run-0:ingest"]
    assert ("bronze/documents@0", "job:run-0:clean") in graph.edges
    assert ("job:run-0:ingest", "bronze/documents@0") in graph.edges
    assert ("bronze/documents@0", "job:run-0:ingest") not in graph.edges
    assert graph.cycle() is None


def test_a_retry_that_pins_what_its_first_attempt_wrote_is_a_second_job() -> None:
    plan = [("ingest", 0, True, 0), ("ingest", 0, True, 0)]
    graph = build_lineage(job_records(_history(plan)))
    assert {"job:run-0:ingest", "job:run-0:ingest#2"} <= set(graph.nodes)
    assert ("ops/ledger@0", "job:run-0:ingest#2") in graph.edges
    assert graph.cycle() is None


def test_depth_counts_jobs_back_from_the_target() -> None:
    plan = [("ingest", 0, True, 0), ("clean", 1, True, 0), ("dedup", 2, True, 0)]
    graph = build_lineage(job_records(_history(plan)))
    one = upstream(graph, "silver/unique_documents@0", 1)
    assert {node.id for node in one.nodes.values() if node.kind == "job"} == {"job:run-2:dedup"}
    assert "silver/documents@0" in one.nodes
    every = upstream(graph, "silver/unique_documents@0")
    assert "job:run-0:ingest" in every.nodes


def test_a_cycle_is_found() -> None:
    graph = build_lineage(job_records(_history([("ingest", 0, True, 0)])))
    graph.link("bronze/documents@0", "job:run-0:ingest")
    assert graph.cycle() is not None
