"""The jobs around the human review gate, and the sensor that releases once the review is done.

`curate_job` builds the release candidate and its review queue from the whole scored table;
people then decide on the queue in the review page; `release_sensor` launches `release_job`
as soon as the gate passes (every queued document decided, approval rate high enough). The
sensor only reads decisions: nothing approves on a person's behalf.
"""

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from assets.curate import STAGE as CURATE_STAGE
from assets.curate import release_candidate
from assets.release import STAGE as RELEASE_STAGE
from assets.release import releases
from assets.resources import LakehouseResource
from assets.review import (
    REVIEW_DECISIONS_KEY,
    queue_for_review,
    review_blocklist,
    review_decisions,
)
from assets.review import STAGE as REVIEW_STAGE
from checks.curate import releasable_candidate
from checks.whole_table import whole_table_checks
from dagster_project.jobs import RETRY_ALL_STEPS
from lakehouse.catalog import Catalog
from lakehouse.recipe import Recipe
from lakehouse.releases import candidate_problems, list_releases, review_gate
from lakehouse.review import ReviewProgress, review_progress, review_queue
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, GOLD_RELEASES, REVIEW_QUEUE

CURATE_ASSETS = [release_candidate, queue_for_review]
RELEASE_ASSETS = [releases]
# Everything of the review gate the definitions hold, the people-written tables included.
REVIEW_GATE_ASSETS = [*CURATE_ASSETS, *RELEASE_ASSETS, review_decisions, review_blocklist]

curate_job = dg.define_asset_job(
    name="curate",
    selection=dg.AssetSelection.assets(*CURATE_ASSETS),
    tags=RETRY_ALL_STEPS,
    description="Build the release candidate from gold/scored_documents and queue its sample "
    "for human review.",
)

release_job = dg.define_asset_job(
    name="release",
    selection=dg.AssetSelection.assets(*RELEASE_ASSETS),
    tags=RETRY_ALL_STEPS,
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
    ) -> dg.SensorResult:
        catalog = lakehouse.catalog()
        progress = review_progress(catalog)
        request, why_not = _release_request(catalog, lakehouse.recipe().recipe, progress)
        if request is not None:
            context.log.info(f"review complete: {progress.approved} of {progress.queued} approved")
        # Each new version of the decisions is observed, with where the review stands, so the
        # Dagster UI shows on review/decisions why a release waits.
        observed = str(progress.decisions_version)
        events = []
        if progress.decisions_version is not None and context.cursor != observed:
            events.append(
                dg.AssetObservation(
                    asset_key=REVIEW_DECISIONS_KEY,
                    metadata=progress.as_dict() | {"release": why_not or "requested"},
                    tags={DATA_VERSION_TAG: observed},
                )
            )
            context.update_cursor(observed)
        return dg.SensorResult(
            run_requests=[request] if request is not None else None,
            skip_reason=why_not,
            asset_events=events,
        )

    return _release_sensor


def _release_request(
    catalog: Catalog, recipe: Recipe, progress: ReviewProgress
) -> tuple[dg.RunRequest | None, str | None]:
    """The release run to request now, or why there is none."""
    if progress.queue_version is None:
        return None, "no review queue yet"
    sampled = set(review_queue(catalog, progress.queue_version)["candidate_version"].to_pylist())
    released = {manifest.candidate_version for manifest in list_releases(catalog)}
    if sampled & released:
        return None, f"gold/release_candidate@{min(sampled)} is already released"
    verdict = review_gate(progress, recipe.release.min_approval_rate)
    if not verdict.passed:
        return None, "; ".join(verdict.problems)
    refused = candidate_problems(catalog, recipe.curate, min(sampled)) if sampled else []
    if refused:
        return None, "candidate not releasable: " + "; ".join(refused)
    key = f"queue-{progress.queue_version}:decisions-{progress.decisions_version}"
    return dg.RunRequest(run_key=key), None


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
