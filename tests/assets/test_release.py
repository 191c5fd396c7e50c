import json
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import LakehouseResource
from dagster_project.cli import main
from dagster_project.review_gate import release_sensor
from dagster_project.review_runs import run_curate, run_release
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.provenance import trace
from lakehouse.releases import release_files, release_manifest, release_rows
from lakehouse.review import ReviewError, record_decision, review_progress
from lakehouse.tables import (
    GOLD_RELEASE_CANDIDATE,
    GOLD_RELEASES,
    GOLD_SCORED_DOCUMENTS,
    OPS_REJECTIONS,
    REVIEW_DECISIONS,
)
from tests.scored_documents import curate_and_queue, write_review_recipe, write_scored


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The recipe whose sources and mixture match the scored rows (gate at 0.75 approval)."""
    return write_review_recipe(tmp_path, landing)


@pytest.fixture
def reviewed(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, catalog: Catalog, commit: CommitInfo
) -> list[str]:
    """Scored documents curated and queued; returns the queued doc ids in queue order."""
    return curate_and_queue(instance, lakehouse, catalog, commit)


def _sensor_says(instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources={"lakehouse": lakehouse})
    result = release_sensor(60)(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _waits(result: dg.SensorResult) -> str:
    """Why the sensor requested no release ('' when it requested one)."""
    assert bool(result.skip_reason) != bool(result.run_requests)
    return str(result.skip_reason.skip_message) if result.skip_reason else ""


def test_gate_blocks_until_people_approve_then_publishes_an_immutable_release(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    catalog: Catalog,
    commit: CommitInfo,
    reviewed: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(reviewed) == 12

    # No decision yet: the gate blocks, the sensor waits, nothing is written.
    blocked = run_release(instance, lakehouse, "r1")
    assert not blocked.success
    assert "12 of 12 queued documents are not decided yet" in (blocked.error or "")
    assert not catalog.exists(GOLD_RELEASES)
    waiting = _sensor_says(instance, lakehouse)
    assert "not decided" in _waits(waiting)
    assert waiting.asset_events == []  # no decisions yet: nothing to observe
    # From the shell: one line with the reason and the next command, no run, no traceback.
    capsys.readouterr()
    publish = ["--root", lakehouse.root, "release", "publish", "--recipe", lakehouse.recipe_path]
    assert main(publish) == 1
    refusal = capsys.readouterr().err
    assert refusal.count("\n") == 1 and "12 of 12 queued documents are not decided" in refusal
    assert refusal.rstrip().endswith("next: funnel review serve")

    # Every document decided, but 4 of 12 rejected: 0.667 < 0.75, still blocked.
    for index, doc_id in enumerate(reviewed):
        if index < 4:
            record_decision(catalog, doc_id, "reject", "ana", commit, reason="boilerplate")
        else:
            record_decision(catalog, doc_id, "approve", "ana", commit)
    low = run_release(instance, lakehouse, "r1")
    assert not low.success and "approval rate 0.667 is below" in (low.error or "")
    low_rate = _sensor_says(instance, lakehouse)
    assert "approval rate 0.667 is below" in _waits(low_rate)
    # The decisions are observed, with why the release waits, for the Dagster UI.
    (observed,) = low_rate.asset_events
    assert observed.asset_key == dg.AssetKey(["review", "decisions"])
    assert observed.tags["dagster/data_version"] == str(catalog.version(REVIEW_DECISIONS))
    assert "approval rate 0.667" in observed.metadata["release"].value
    assert observed.metadata["rejected"].value == 4

    # A second reviewer overturns one rejection: recorded as a new row, the latest one counts.
    record_decision(catalog, reviewed[0], "approve", "ben", commit, note="fine on second look")
    assert catalog.read(REVIEW_DECISIONS).num_rows == 13
    progress = review_progress(catalog)
    assert (progress.approved, progress.rejected, progress.pending) == (9, 3, 0)
    assert progress.reject_reasons == {"boilerplate": 3}
    request = _sensor_says(instance, lakehouse)
    assert _waits(request) == "" and len(request.run_requests) == 1

    published = run_release(instance, lakehouse, "r1")
    assert published.success, published.error
    assert published.checks == {"gold/releases:contract": True}
    manifest = release_manifest(catalog, "r1")
    candidate_version = catalog.version(GOLD_RELEASE_CANDIDATE)
    assert manifest.candidate_version == candidate_version
    assert manifest.pinned_tables == {
        "gold/release_candidate": candidate_version,
        "gold/scored_documents": catalog.version(GOLD_SCORED_DOCUMENTS),
        "review/decisions": catalog.version(REVIEW_DECISIONS),
        "review/queue": 0,
        # The ledger version that pinned the scored table for the candidate.
        "ops/ledger": catalog.history(GOLD_RELEASE_CANDIDATE, limit=1)[0].input_versions[
            "ops/ledger"
        ],
    }
    candidate = catalog.read(GOLD_RELEASE_CANDIDATE)
    assert manifest.documents == candidate.num_rows
    assert manifest.tokens == sum(candidate["tokens"].to_pylist())
    assert {item["domain"] for item in manifest.domains} == {"code", "legal", "prose", "web"}
    assert manifest.review["approved"] == 9 and manifest.review["approval_rate"] == 0.75
    assert manifest.recipe_sha256 == lakehouse.recipe().sha256
    assert "already released" in _waits(_sensor_says(instance, lakehouse))

    # The same name again is refused, and the manifest row is untouched.
    again = run_release(instance, lakehouse, "r1")
    assert not again.success and "already published" in (again.error or "")
    assert catalog.read(GOLD_RELEASES).num_rows == 1

    # Later upstream writes (a new scored batch, a rebuilt candidate) leave the release as it was.
    rows = release_rows(catalog, "r1")
    files = release_files(catalog, "r1")
    write_scored(catalog, commit, batch_id="b2")
    assert run_curate(instance, lakehouse).success  # type: ignore[union-attr]
    assert catalog.version(GOLD_RELEASE_CANDIDATE) > candidate_version
    assert catalog.read(GOLD_RELEASE_CANDIDATE).num_rows > rows.num_rows
    assert release_rows(catalog, "r1").equals(rows)
    assert release_files(catalog, "r1") == files
    # The new candidate has a new queue nobody reviewed: the gate blocks it again.
    assert not run_release(instance, lakehouse, "r2").success

    root = str(catalog.root)
    assert main(["--root", root, "release", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["name"] == "r1" and listed["manifest_sha256"] == manifest.sha256
    assert main(["--root", root, "release", "show", "r1"]) == 0
    shown = capsys.readouterr().out
    assert f"gold/release_candidate@{candidate_version}" in shown
    assert "review: 9 of 12 approved" in shown
    assert main(["--root", root, "release", "show", "nope"]) == 1
    assert "no release named 'nope'; published: r1" in capsys.readouterr().err

    # `funnel trace` names the release that ships a document, and no release for a rejected one.
    shipped = rows["doc_id"][0].as_py()
    assert [(r["release"], r["candidate_version"]) for r in trace(catalog, shipped).releases] == [
        ("r1", candidate_version)
    ]
    assert main(["--root", root, "trace", shipped]) == 0
    assert "shipped in releases:" in capsys.readouterr().out
    in_r1 = set(rows["doc_id"].to_pylist())
    curate_rejections = catalog.read(OPS_REJECTIONS, where={"stage": "curate"})
    dropped = next(d for d in curate_rejections["doc_id"].to_pylist() if d not in in_r1)
    assert trace(catalog, dropped).releases == []


def test_decisions_are_validated_and_nothing_bad_is_recorded(
    catalog: Catalog, commit: CommitInfo, reviewed: list[str]
) -> None:
    with pytest.raises(ReviewError, match="rejection needs a reason"):
        record_decision(catalog, reviewed[0], "reject", "ana", commit, reason="  ")
    with pytest.raises(ReviewError, match="one of approve, reject, flag"):
        record_decision(catalog, reviewed[0], "maybe", "ana", commit)
    with pytest.raises(ReviewError, match="reviewer's name"):
        record_decision(catalog, reviewed[0], "approve", " ", commit)
    with pytest.raises(ReviewError, match="not in review/queue@0"):
        record_decision(catalog, "0" * 32, "approve", "ana", commit)
    assert not catalog.exists(REVIEW_DECISIONS)


def test_review_report_prints_progress_reasons_and_the_gate(
    lakehouse: LakehouseResource,
    catalog: Catalog,
    commit: CommitInfo,
    reviewed: list[str],
    recipe_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record_decision(catalog, reviewed[0], "reject", "ana", commit, reason="machine translated")
    record_decision(catalog, reviewed[1], "flag", "ana", commit, reason="license unclear")
    record_decision(catalog, reviewed[2], "approve", "ana", commit)
    argv = ["--root", str(catalog.root), "review", "report", "--recipe", str(recipe_path)]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["decided"], report["pending"], report["approved"]) == (3, 9, 1)
    assert report["reject_reasons"] == {"machine translated": 1}
    assert report["flag_reasons"] == {"license unclear": 1}
    assert report["gate_passed"] is False
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "3 of 12 decided" in text and "machine translated" in text
    assert "gate: BLOCKS — 9 of 12 queued documents are not decided yet" in text


def test_a_candidate_missing_its_mixture_is_blocked_and_not_released(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    catalog: Catalog,
    reviewed: list[str],
    recipe_path: Path,
) -> None:
    recipe = recipe_path.read_text()
    recipe_path.write_text(
        recipe.replace(
            "target_token_shares: {code: 0.4, web: 0.3, prose: 0.2, legal: 0.1}",
            "target_token_shares: {code: 0.85, web: 0.05, prose: 0.05, legal: 0.05}",
        ).replace("max_weight: 3.0", "max_weight: 1.0")
    )
    curated = run_curate(instance, lakehouse)
    assert curated.checks["gold/release_candidate:releasable"] is False
    refused = run_release(instance, lakehouse, "r-mixture")
    assert not refused.success and "domain code is short by" in (refused.error or "")
    assert not catalog.exists(GOLD_RELEASES)
