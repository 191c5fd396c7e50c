"""The jobs around the human review gate, and the sensor that releases once the review is done.

`curate_job` builds the release candidate and its review queue from the whole scored table;
people then decide on the queue in the review page; `release_sensor` launches `release_job`
as soon as the gate passes (every queued document decided, approval rate high enough). The
sensor only reads decisions: nothing approves on a person's behalf.
"""

import dagster as dg

from assets.curate import STAGE as CURATE_STAGE
from assets.curate import release_candidate
from assets.release import STAGE as RELEASE_STAGE
from assets.release import releases
from assets.resources import LakehouseResource
from assets.review import STAGE as REVIEW_STAGE
from assets.review import queue_for_review, review_blocklist, review_decisions
from checks.curate import releasable_candidate
from checks.whole_table import whole_table_checks
from lakehouse.releases import candidate_problems, list_releases, review_gate
from lakehouse.review import review_progress, review_queue
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, GOLD_RELEASES, REVIEW_QUEUE

CURATE_ASSETS = [release_candidate, queue_for_review]
RELEASE_ASSETS = [releases]
# Everything of the review gate the definitions hold, the people-written tables included.
REVIEW_GATE_ASSETS = [*CURATE_ASSETS, *RELEASE_ASSETS, review_decisions, review_blocklist]

curate_job = dg.define_asset_job(
    name="curate",
    selection=dg.AssetSelection.assets(*CURATE_ASSETS),
    description="Build the release candidate from gold/scored_documents and queue its sample "
    "for human review.",
)

release_job = dg.define_asset_job(
    name="release",
    selection=dg.AssetSelection.assets(*RELEASE_ASSETS),
    description="Publish the reviewed release candidate, behind the review gate.",
)


def release_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """A sensor checking the review every `interval_seconds` and releasing once it passes."""

    @dg.sensor(
        name="release_sensor",
        job=release_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches the release when every queued document is decided and the "
        "approval rate reaches release.min_approval_rate; one release per candidate version.",
    )
    def _release_sensor(
        context: dg.SensorEvaluationContext, lakehouse: LakehouseResource
    ) -> dg.RunRequest | dg.SkipReason:
        catalog = lakehouse.catalog()
        progress = review_progress(catalog)
        if progress.queue_version is None:
            return dg.SkipReason("no review queue yet")
        sampled = set(
            review_queue(catalog, progress.queue_version)["candidate_version"].to_pylist()
        )
        released = {manifest.candidate_version for manifest in list_releases(catalog)}
        if sampled & released:
            return dg.SkipReason(f"gold/release_candidate@{min(sampled)} is already released")
        verdict = review_gate(progress, lakehouse.recipe().recipe.release.min_approval_rate)
        if not verdict.passed:
            return dg.SkipReason("; ".join(verdict.problems))
        curate = lakehouse.recipe().recipe.curate
        refused = candidate_problems(catalog, curate, min(sampled)) if sampled else []
        if refused:
            return dg.SkipReason("candidate not releasable: " + "; ".join(refused))
        context.log.info(f"review complete: {progress.approved} of {progress.queued} approved")
        return dg.RunRequest(
            run_key=f"queue-{progress.queue_version}:decisions-{progress.decisions_version}"
        )

    return _release_sensor


def review_gate_checks(quality: bool = True) -> list[dg.AssetChecksDefinition]:
    """Conservation of the curate stage and the contracts of the candidate, queue and release."""
    return [
        *whole_table_checks(
            CURATE_STAGE, GOLD_RELEASE_CANDIDATE, conservation=True, quality=quality
        ),
        releasable_candidate,
        *whole_table_checks(REVIEW_STAGE, REVIEW_QUEUE, quality=quality),
        *whole_table_checks(RELEASE_STAGE, GOLD_RELEASES, quality=quality),
    ]
