"""A stage killed between any two of its commits is invisible, and a rerun converges.

The funnel is run once, stage by stage, keeping a copy of the lake before each stage. Then, for
every stage and every point between two of its Delta commits, a copy of the lake before that
stage is handed to a real process that runs the stage and SIGKILLs itself right after that
commit. What readers see through the ledger must be the old outcome exactly; a rerun must give
the same recorded outcome as the uninterrupted run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.resources import LakehouseResource, SparkResource, TorchResource
from assets.score import domain_classifier, quality_classifier
from assets.stages import STAGE_ASSETS
from dagster_project.runs import pending_batches
from lakehouse.catalog import Catalog
from lakehouse.ledger import ledger_entries
from lakehouse.tables import OPS_REJECTIONS, table_spec
from tests.gpu_jobs.conftest import sample_texts
from tests.landing_files import write_jsonl_gz
from tests.spark_cluster import spark  # noqa: F401  (fixture)

PROJECT = Path(__file__).resolve().parents[2]
RECIPE = """\
name: atomic_test
landing: {landing}
sources:
  - {{name: manpages, path: "manpages/*.jsonl.gz", format: jsonl, domain: reference, license: MIT}}
  - {{name: fortunes, path: "fortunes/*.jsonl.gz", format: jsonl, domain: prose, license: MIT}}
score:
  device: cpu
  max_tokens: 64
  batch_tokens: 1024
  quality: {{reference_sources: [manpages], max_references: 8, negative_samples: 8, epochs: 20}}
  domain: {{samples_per_domain: 6, epochs: 20}}
  semdedup: {{clusters: 2, cosine_threshold: 0.95}}
curate: {{min_quality_score: 0.0}}
"""
ORDER = ("ingest", "clean", "dedup", "decontaminate", "score", "curate")
# Delta commits each stage makes for one batch; the last one is its ledger row.
# (decontaminate: its n-gram index is committed once, on the first run, before its output.)
COMMITS = {"ingest": 3, "clean": 4, "dedup": 4, "decontaminate": 4, "score": 4, "curate": 3}
# `make test` kills the two stages that need no engine start; `make chaos` (also run by CI)
# kills every stage between every pair of its commits.
QUICK = {("ingest", 1), ("curate", 2)}
KILL_POINTS = [
    pytest.param(stage, after, marks=() if (stage, after) in QUICK else pytest.mark.chaos)
    for stage in ORDER
    for after in range(1, COMMITS[stage])
]


def _resources(root: Path, recipe: Path) -> dict[str, Any]:
    return {
        "lakehouse": LakehouseResource(root=str(root), recipe_path=str(recipe)),
        "spark": SparkResource(),
        "torch_runtime": TorchResource(device="cpu"),
    }


def _materialize(
    stage: str, root: Path, recipe: Path, batch_id: str, instance: dg.DagsterInstance
) -> None:
    assets_def = STAGE_ASSETS[stage]
    partition = batch_id if assets_def.partitions_def is not None else None
    result = dg.materialize(
        [assets_def],
        instance=instance,
        resources=_resources(root, recipe),
        partition_key=partition,
    )
    assert result.success


def recorded_state(root: Path) -> dict[tuple[str, str], Any]:
    """What readers that pin through the ledger see: per stage and batch, the counts and the
    rows (doc ids, and rules for rejections) of every table the outcome names."""
    catalog = Catalog(str(root))
    state: dict[tuple[str, str], Any] = {}
    for entry in ledger_entries(catalog):
        tables = {}
        for table, version in sorted(entry.table_versions.items()):
            spec = table_spec(table)
            if table == OPS_REJECTIONS.key:
                where = {"stage": entry.stage, "batch_id": entry.batch_id}
                rows = catalog.read(spec, version, where=where, columns=["doc_id", "rule"])
                tables[table] = sorted(zip(*rows.to_pydict().values(), strict=True))
            elif "batch_id" in spec.schema.names:
                # Rows are named by doc id, or by the table's first column (line hashes).
                names = spec.schema.names
                key = "doc_id" if "doc_id" in names else next(n for n in names if n != "batch_id")
                rows = catalog.read(spec, version, columns=[key, "batch_id"])
                mine = [
                    str(doc_id)
                    for doc_id, batch in zip(*rows.to_pydict().values(), strict=True)
                    if batch == entry.batch_id
                ]
                tables[table] = sorted(mine)
        counts = (entry.rows_in, entry.rows_out, entry.rows_rejected, entry.rows_quarantined)
        state[(entry.stage, entry.batch_id)] = (counts, tables)
    return state


@pytest.fixture(scope="module")
def lake_before(
    tmp_path_factory: pytest.TempPathFactory,
    spark,  # noqa: F811
) -> Iterator[tuple[dict[str, Path], Path, Path, str]]:
    """Copies of the lake before each stage, the finished lake, the recipe and the batch."""
    folder = tmp_path_factory.mktemp("atomic")
    landing = folder / "landing"
    texts = {"manpages": sample_texts("manpages_en", 6), "fortunes": sample_texts("fortunes_en", 6)}
    texts["fortunes"] += texts["fortunes"][:2]  # two exact duplicates for dedup to drop
    for source, documents in texts.items():
        records = [{"id": f"{source}{i}", "text": text} for i, text in enumerate(documents)]
        write_jsonl_gz(landing / source / "part-0.jsonl.gz", records)
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE.format(landing=landing))
    root = folder / "lake"
    snapshots = {}
    with dg.instance_for_test() as instance:
        lakehouse = LakehouseResource(root=str(root), recipe_path=str(recipe))
        (batch_id,) = pending_batches(instance, lakehouse)
        for stage in ORDER:
            if stage == "score":
                result = dg.materialize(
                    [quality_classifier, domain_classifier],
                    instance=instance,
                    resources=_resources(root, recipe),
                )
                assert result.success
            snapshots[stage] = folder / f"before-{stage}"
            shutil.copytree(root, snapshots[stage])
            _materialize(stage, root, recipe, batch_id, instance)
    yield snapshots, root, recipe, batch_id


def test_the_reference_run_exercises_every_kind_of_outcome(
    lake_before: tuple[dict[str, Path], Path, Path, str],
) -> None:
    _, root, _, batch_id = lake_before
    state = recorded_state(root)
    assert {stage for stage, _ in state} == set(ORDER)
    (dedup_counts, _) = state[("dedup", batch_id)]
    assert dedup_counts[2] >= 2  # the planted duplicates were rejected
    for stage in ORDER:
        (rows_in, rows_out, rejected, quarantined), _ = state[(stage, batch_id)]
        assert rows_in == rows_out + rejected + quarantined > 0


@pytest.mark.parametrize(("stage", "after"), KILL_POINTS)
def test_a_stage_killed_between_commits_is_invisible_and_a_rerun_converges(
    lake_before: tuple[dict[str, Path], Path, Path, str],
    tmp_path: Path,
    stage: str,
    after: int,
) -> None:
    snapshots, finished, recipe, batch_id = lake_before
    root = tmp_path / "lake"
    shutil.copytree(snapshots[stage], root)
    before = recorded_state(root)
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.stage_kill",
            str(root),
            str(recipe),
            stage,
            batch_id,
            str(after),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert recorded_state(root) == before
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("batch", [batch_id])
        _materialize(stage, root, recipe, batch_id, instance)
    expected = {key: value for key, value in recorded_state(finished).items() if key in before}
    expected[(stage, batch_id)] = recorded_state(finished)[(stage, batch_id)]
    assert recorded_state(root) == expected
