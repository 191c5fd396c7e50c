import dagster as dg
import pytest

from assets.curate import GOLD_RELEASE_CANDIDATE_KEY, GOLD_SCORED_DOCUMENTS_KEY
from assets.release import GOLD_RELEASES_KEY, ReleaseNameError, release_name
from assets.review import REVIEW_BLOCKLIST_KEY, REVIEW_DECISIONS_KEY, REVIEW_QUEUE_KEY


@pytest.mark.usefixtures("instance")
def test_the_review_gate_is_part_of_the_definitions() -> None:
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    assert graph.get(GOLD_RELEASE_CANDIDATE_KEY).parent_keys == {GOLD_SCORED_DOCUMENTS_KEY}
    assert graph.get(REVIEW_QUEUE_KEY).parent_keys == {GOLD_RELEASE_CANDIDATE_KEY}
    assert graph.get(GOLD_RELEASES_KEY).parent_keys == {
        GOLD_RELEASE_CANDIDATE_KEY,
        REVIEW_QUEUE_KEY,
        REVIEW_DECISIONS_KEY,
    }
    # People write these two through the review page: visible, never materialized by a run.
    for key in (REVIEW_DECISIONS_KEY, REVIEW_BLOCKLIST_KEY):
        assert not graph.get(key).is_materializable
    for key in (GOLD_RELEASE_CANDIDATE_KEY, REVIEW_QUEUE_KEY, GOLD_RELEASES_KEY):
        node = graph.get(key)
        assert node.description and node.owners == ["team:data-engineering"]
        assert node.partitions_def is None
    checks = {(key.asset_key, key.name) for key in graph.asset_check_keys}
    assert {
        (GOLD_RELEASE_CANDIDATE_KEY, "conservation"),
        (GOLD_RELEASE_CANDIDATE_KEY, "contract"),
        (REVIEW_QUEUE_KEY, "contract"),
        (GOLD_RELEASES_KEY, "contract"),
    } <= checks
    assert defs.resolve_job_def("curate") is not None
    assert defs.resolve_job_def("release") is not None
    sensor = defs.resolve_sensor_def("release_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60


def test_release_names_are_short_identifiers() -> None:
    assert release_name("", "default", 7) == "default-c7"
    assert release_name(" v1.0_rc-2 ", "default", 7) == "v1.0_rc-2"
    for bad in ("../etc", "a b", "-x", "x" * 101, "name'; drop"):
        with pytest.raises(ReleaseNameError, match="not allowed"):
            release_name(bad, "default", 7)
