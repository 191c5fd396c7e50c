import json
from pathlib import Path

import dagster as dg
import pytest

from assets.curate import GOLD_RELEASE_CANDIDATE_KEY, release_candidate
from assets.resources import LakehouseResource
from assets.review import REVIEW_QUEUE_KEY
from assets.runner import StageInputError
from dagster_project.review_runs import run_curate
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import audit_conservation, ledger_entries
from lakehouse.provenance import trace
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, OPS_REJECTIONS, REVIEW_QUEUE
from tests.scored_documents import write_review_recipe, write_scored


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The recipe whose sources and mixture match the scored rows."""
    return write_review_recipe(tmp_path, landing)


def test_curate_job_builds_the_candidate_and_queue_from_pinned_scores(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    catalog: Catalog,
    commit: CommitInfo,
) -> None:
    assert run_curate(instance, lakehouse) is None  # nothing scored yet: nothing to do
    scored = write_scored(catalog, commit)
    outcome = run_curate(instance, lakehouse)
    assert outcome is not None and outcome.success, outcome.error
    assert outcome.checks == {
        "gold/release_candidate:conservation": True,
        "gold/release_candidate:contract": True,
        "gold/release_candidate:releasable": True,
        "review/queue:contract": True,
    }

    candidate = catalog.read(GOLD_RELEASE_CANDIDATE)
    rejected = catalog.read(OPS_REJECTIONS, where={"stage": "curate"})
    assert candidate.num_rows + rejected.num_rows == scored.num_rows == 30
    assert min(candidate["quality_score"].to_pylist()) >= 0.5
    rules = set(rejected["rule"].to_pylist())
    assert "quality_below_min" in rules
    assert rules <= {"quality_below_min", "mixture_downsample"}
    (entry,) = ledger_entries(catalog, stage="curate")
    assert (entry.rows_in, entry.rows_out, entry.rows_rejected) == (
        30,
        candidate.num_rows,
        rejected.num_rows,
    )
    assert audit_conservation(catalog, "curate", "b1").passed

    event = instance.get_latest_materialization_event(GOLD_RELEASE_CANDIDATE_KEY)
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    tokens = metadata["tokens_per_domain"].value
    assert set(tokens) == {"code", "legal", "prose", "web"}
    assert sum(tokens.values()) == sum(candidate["tokens"].to_pylist())
    shares = metadata["shares"].value
    assert shares["code"]["target"] == 0.4
    assert sum(share["achieved"] for share in shares.values()) == pytest.approx(1.0, abs=1e-5)
    history = catalog.history(GOLD_RELEASE_CANDIDATE, limit=1)[0]
    assert history.stage == "curate" and history.input_versions == {
        "gold/scored_documents": 0,
        "ops/ledger": 1,
    }

    queue = catalog.read(REVIEW_QUEUE).sort_by("position")
    assert queue.num_rows == 12
    assert set(queue["candidate_version"].to_pylist()) == {catalog.version(GOLD_RELEASE_CANDIDATE)}
    assert set(queue["doc_id"].to_pylist()) <= set(candidate["doc_id"].to_pylist())
    assert queue["reason"].to_pylist()[:2] == ["near:min_quality_score"] * 2
    assert set(queue["domain"].to_pylist()) == {"code", "legal", "prose", "web"}
    queue_event = instance.get_latest_materialization_event(REVIEW_QUEUE_KEY)
    assert queue_event is not None

    # Provenance: the curate stage shows up in a document's trace, kept or rejected with its rule.
    dropped = rejected.to_pylist()[0]
    steps = {step.stage: step for step in trace(catalog, dropped["doc_id"]).stages}
    assert steps["curate"].outcome == "rejected" and steps["curate"].rule == dropped["rule"]
    kept = candidate["doc_id"].to_pylist()[0]
    assert {step.stage: step.outcome for step in trace(catalog, kept).stages}["curate"] == "kept"

    # A second run replaces the candidate and the curate rejections: no doubled rows.
    again = run_curate(instance, lakehouse)
    assert again is not None and again.success
    assert catalog.read(GOLD_RELEASE_CANDIDATE).num_rows == candidate.num_rows
    assert catalog.read(OPS_REJECTIONS, where={"stage": "curate"}).num_rows == rejected.num_rows
    assert json.loads(json.dumps(sorted(candidate["doc_id"].to_pylist()))) == sorted(
        catalog.read(GOLD_RELEASE_CANDIDATE)["doc_id"].to_pylist()
    )


def test_curate_before_scoring_fails_saying_what_to_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    with pytest.raises(StageInputError, match="run the score stage"):
        dg.materialize([release_candidate], instance=instance, resources={"lakehouse": lakehouse})
    assert lakehouse.catalog().version(GOLD_RELEASE_CANDIDATE) is None
