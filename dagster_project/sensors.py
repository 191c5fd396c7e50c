"""The landing sensor: each new set of landing files becomes a batch and a funnel run."""

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from assets.partitions import batches
from assets.resources import LakehouseResource
from assets.run_processes import reap_dead_runs
from assets.tables import asset_key
from dagster_project.batching import register_landing
from dagster_project.jobs import funnel_asset_keys, funnel_job, funnel_selection
from lakehouse.review import blocklist
from lakehouse.tables import REVIEW_BLOCKLIST


def landing_sensor(interval_seconds: int) -> dg.SensorDefinition:
    """A sensor polling the recipe's landing folder every `interval_seconds`."""

    @dg.sensor(
        name="landing_sensor",
        job=funnel_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Registers new landing files as a batch partition and runs the funnel on it.",
    )
    def _landing_sensor(
        context: dg.SensorEvaluationContext, lakehouse: LakehouseResource
    ) -> dg.SensorResult | dg.SkipReason:
        # A run whose worker died holds the run queue and its pool slots until it is marked
        # failed; the daemon then re-executes it (run_retries in the instance settings).
        for run_id in reap_dead_runs(context.instance):
            context.log.warning(f"run {run_id}: its process is gone; marked failed")
        fresh = register_landing(context.instance, lakehouse, writer="sensor:landing_sensor")
        events = _blocklist_observations(context, lakehouse)
        if not fresh:
            return dg.SensorResult(skip_reason="no new files in landing", asset_events=events)
        context.log.info(f"new batches: {', '.join(fresh)}")
        catalog = lakehouse.catalog()
        # Untrained heads are trained in the first run only; later batches are scored with them.
        selection = funnel_selection(catalog.root, catalog.storage_options)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    partition_key=batch,
                    run_key=batch,
                    asset_selection=selection if index == 0 else funnel_asset_keys(),
                )
                for index, batch in enumerate(fresh)
            ],
            dynamic_partitions_requests=[batches.build_add_request(fresh)],
            asset_events=events,
        )

    return _landing_sensor


def _blocklist_observations(
    context: dg.SensorEvaluationContext, lakehouse: LakehouseResource
) -> list[dg.AssetObservation]:
    """An observation of review/blocklist when reviewers changed it since the last tick: the
    Dagster UI then shows the version the next clean run applies."""
    catalog = lakehouse.catalog()
    version = catalog.version(REVIEW_BLOCKLIST)
    if version is None or context.cursor == str(version):
        return []
    context.update_cursor(str(version))
    entries = blocklist(catalog, version)
    return [
        dg.AssetObservation(
            asset_key=asset_key(REVIEW_BLOCKLIST),
            metadata={"entries": len(entries), "applied_by": "the next clean run"},
            tags={DATA_VERSION_TAG: str(version)},
        )
    ]
