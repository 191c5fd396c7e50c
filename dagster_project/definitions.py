"""The one entry point Dagster loads: every asset, check, job, sensor, schedule and resource."""

from __future__ import annotations

import dagster as dg

from assets.ingest import BRONZE_DOCUMENTS_KEY
from assets.ingest import STAGE as INGEST_STAGE
from assets.resources import LakehouseResource
from checks.conservation import conservation_check
from dagster_project.jobs import FUNNEL_ASSETS, funnel_job
from dagster_project.schedules import daily_funnel
from dagster_project.sensors import landing_sensor


def build_definitions(lakehouse: LakehouseResource) -> dg.Definitions:
    """Definitions bound to one lakehouse root and recipe."""
    schedule = lakehouse.recipe().recipe.schedule
    return dg.Definitions(
        assets=FUNNEL_ASSETS,
        asset_checks=[conservation_check(BRONZE_DOCUMENTS_KEY, INGEST_STAGE)],
        jobs=[funnel_job],
        sensors=[landing_sensor(schedule.sensor_interval_seconds)],
        schedules=[daily_funnel(schedule.cron, schedule.timezone)],
        resources={"lakehouse": lakehouse},
    )


defs = build_definitions(LakehouseResource.from_env())
