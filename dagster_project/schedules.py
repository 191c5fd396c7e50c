"""The daily schedule: materialize the funnel for every batch that is not yet through it."""

from collections.abc import Iterator

import dagster as dg

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource
from dagster_project.batching import register_landing, unmaterialized_batches
from dagster_project.jobs import funnel_asset_keys, funnel_job, funnel_selection


def daily_funnel(cron: str, timezone: str) -> dg.ScheduleDefinition:
    """A schedule that registers landing files and runs the funnel for every pending batch."""

    @dg.schedule(
        name="daily_funnel",
        cron_schedule=cron,
        execution_timezone=timezone,
        job=funnel_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Catch-up run: every batch with an asset of the funnel not yet materialized.",
    )
    def _daily_funnel(
        context: dg.ScheduleEvaluationContext, lakehouse: LakehouseResource
    ) -> Iterator[dg.RunRequest]:
        instance = context.instance
        fresh = register_landing(instance, lakehouse, writer="schedule:daily_funnel")
        if fresh:
            instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, fresh)
        known = instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        catalog = lakehouse.catalog()
        selection = funnel_selection(catalog.root, catalog.storage_options)
        for batch in unmaterialized_batches(instance, funnel_asset_keys(), known):
            yield dg.RunRequest(
                partition_key=batch, run_key=f"{day}:{batch}", asset_selection=selection
            )

    return _daily_funnel
