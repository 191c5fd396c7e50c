import threading
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.releases import (
    ReleaseExistsError,
    ReleaseIntegrityError,
    ReleaseManifest,
    ReleaseNotFoundError,
    domain_summary,
    list_releases,
    mixture_shortfalls,
    pinned_upstream,
    publish_release,
    release_manifest,
    review_gate,
    selection_shortfall,
)
from lakehouse.review import ReviewProgress
from lakehouse.tables import BRONZE_DOCUMENTS, GOLD_RELEASES, OPS_BATCHES


def _manifest(name: str = "r1", documents: int = 3) -> ReleaseManifest:
    return ReleaseManifest(
        name=name,
        published_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        run_id="run-1",
        recipe_sha256="a" * 64,
        code_version="abc123",
        candidate_version=4,
        pinned_tables={"gold/release_candidate": 4, "gold/scored_documents": 2},
        documents=documents,
        tokens=300,
        weighted_tokens=450.0,
        domains=[{"domain": "code", "documents": documents, "tokens": 300}],
        review={"queued": 3, "approved": 3},
    )


def test_gate_needs_every_document_decided_and_enough_approvals() -> None:
    none = ReviewProgress(None, None, 0, 0, 0, 0)
    assert review_gate(none, 0.5).problems == ["no review queue: materialize review/queue first"]
    empty = ReviewProgress(0, None, 0, 0, 0, 0)
    assert review_gate(empty, 0.0).problems == [
        "review/queue is empty: the release candidate holds no documents"
    ]
    pending = ReviewProgress(0, 0, 10, 6, 1, 0)
    assert review_gate(pending, 0.5).problems == ["3 of 10 queued documents are not decided yet"]
    low = ReviewProgress(0, 0, 10, 8, 1, 1)
    verdict = review_gate(low, 0.9)
    assert not verdict.passed
    assert verdict.problems == [
        "approval rate 0.800 is below the recipe's release.min_approval_rate 0.9"
    ]
    assert review_gate(low, 0.8).passed


def test_a_name_is_published_once_and_a_changed_manifest_is_detected(
    catalog: Catalog, commit: CommitInfo
) -> None:
    with pytest.raises(ReleaseNotFoundError, match="published: none yet"):
        release_manifest(catalog, "r1")
    publish_release(catalog, _manifest(), commit)
    assert release_manifest(catalog, "r1") == _manifest()
    with pytest.raises(ReleaseExistsError, match="already published"):
        publish_release(catalog, _manifest(documents=99), commit)
    assert [manifest.name for manifest in list_releases(catalog)] == ["r1"]
    # Someone rewrites the row behind the funnel's back: reading it says so.
    row = catalog.read(GOLD_RELEASES).to_pylist()[0] | {"documents": 99}
    catalog.write(
        GOLD_RELEASES, pa.Table.from_pylist([row], GOLD_RELEASES.schema), commit, overwrite=True
    )
    with pytest.raises(ReleaseIntegrityError, match="changed after publishing"):
        release_manifest(catalog, "r1")


@pytest.mark.parametrize("first_release", [False, True], ids=["table-exists", "first-ever"])
def test_publishers_racing_for_one_name_publish_it_once(
    catalog: Catalog, first_release: bool
) -> None:
    if not first_release:
        publish_release(catalog, _manifest("r0"), CommitInfo("run-0", "release", "a" * 64, "t"))
    racers = 4
    barrier = threading.Barrier(racers)
    outcomes: list[object] = [None] * racers

    def publish(index: int) -> None:
        commit = CommitInfo(f"run-{index + 1}", "release", "a" * 64, "t")
        barrier.wait()
        try:
            outcomes[index] = publish_release(catalog, _manifest("r2", index + 1), commit)
        except ReleaseExistsError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=publish, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = [outcome for outcome in outcomes if isinstance(outcome, int)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ReleaseExistsError)]
    assert len(versions) == 1 and len(refused) == racers - 1
    rows = catalog.read(GOLD_RELEASES, where={"name": "r2"}).to_pylist()
    assert len(rows) == 1
    winner = outcomes.index(versions[0])
    assert release_manifest(catalog, "r2").documents == winner + 1


def test_pinned_upstream_follows_commit_metadata(catalog: Catalog, commit: CommitInfo) -> None:
    batches = pa.Table.from_pylist(
        [
            {
                "batch_id": "b1",
                "source": "s",
                "file_uri": "f",
                "file_bytes": 1,
                "registered_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        ],
        OPS_BATCHES.schema,
    )
    batches_version = catalog.write(OPS_BATCHES, batches, commit)
    bronze_commit = CommitInfo("run-2", "ingest", "0" * 64, "t", {OPS_BATCHES.key: batches_version})
    bronze = catalog.write(BRONZE_DOCUMENTS, BRONZE_DOCUMENTS.schema.empty_table(), bronze_commit)
    assert pinned_upstream(catalog, BRONZE_DOCUMENTS.key, bronze) == {
        "bronze/documents": bronze,
        "ops/batches": batches_version,
    }


def test_domain_summary_shares_are_of_weighted_tokens() -> None:
    rows = pa.table(
        {"domain": ["a", "a", "b"], "tokens": [100, 200, 100], "weight": [1.0, 1.0, 3.0]}
    )
    assert domain_summary(rows, {"a": 0.5, "b": 0.5}) == [
        {
            "domain": "a",
            "documents": 2,
            "tokens": 300,
            "weighted_tokens": 300.0,
            "target_share": 0.5,
            "achieved_share": 0.5,
        },
        {
            "domain": "b",
            "documents": 1,
            "tokens": 100,
            "weighted_tokens": 300.0,
            "target_share": 0.5,
            "achieved_share": 0.5,
        },
    ]


def test_a_domain_short_of_its_target_is_named_with_the_shortfall() -> None:
    summary = [
        {"domain": "code", "achieved_share": 0.033},
        {"domain": "prose", "achieved_share": 0.967},
    ]
    targets = {"code": 0.25, "prose": 0.75}
    (problem,) = mixture_shortfalls(summary, targets, tolerance=0.05)
    assert problem.startswith("domain code is short by 0.217: achieved share 0.033")
    assert mixture_shortfalls(summary, targets, tolerance=0.25) == []
    (missing,) = mixture_shortfalls(summary, {"legal": 0.1}, tolerance=0.05)
    assert "domain legal is short by 0.100" in missing


def test_a_selection_under_the_floor_names_the_rules_that_left_documents_out() -> None:
    refused = selection_shortfall(0, 200, 0.01, {"below_min_quality": 190, "domain_cap": 10})
    assert refused is not None
    assert refused.startswith("curate selected 0 of 200 scored documents (0.0%, floor 1.0%)")
    assert refused.endswith("left out by rule: below_min_quality 190, domain_cap 10")
    assert selection_shortfall(2, 200, 0.01, {}) is None
    assert selection_shortfall(0, 0, 0.01, {}) is None
