"""The one entry point Dagster loads: every asset, check, job, sensor, schedule and resource."""

from __future__ import annotations

import dagster as dg

from assets.clean import STAGE as CLEAN_STAGE
from assets.dedup import STAGE as DEDUP_STAGE
from assets.ingest import STAGE as INGEST_STAGE
from assets.resources import LakehouseResource, SparkResource, TorchResource
from assets.score import STAGE as SCORE_STAGE
from checks.stage import stage_checks
from dagster_project.jobs import FUNNEL_ASSETS, funnel_job
from dagster_project.review_gate import (
    REVIEW_GATE_ASSETS,
    curate_job,
    release_job,
    release_sensor,
    review_gate_checks,
)
from dagster_project.schedules import daily_funnel
from dagster_project.sensors import landing_sensor
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    BRONZE_QUARANTINE,
    GOLD_EMBEDDINGS,
    GOLD_SCORED_DOCUMENTS,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
)


def build_definitions(lakehouse: LakehouseResource) -> dg.Definitions:
    """Definitions bound to one lakehouse root and recipe."""
    recipe = lakehouse.recipe().recipe
    schedule = recipe.schedule
    quality = recipe.checks.enabled
    return dg.Definitions(
        assets=[*FUNNEL_ASSETS, *REVIEW_GATE_ASSETS],
        asset_checks=[
            *stage_checks(INGEST_STAGE, BRONZE_DOCUMENTS, BRONZE_QUARANTINE, quality=quality),
            *stage_checks(CLEAN_STAGE, SILVER_DOCUMENTS, quality=quality),
            *stage_checks(DEDUP_STAGE, SILVER_UNIQUE_DOCUMENTS, quality=quality),
            *stage_checks(SCORE_STAGE, GOLD_SCORED_DOCUMENTS, GOLD_EMBEDDINGS, quality=quality),
            *review_gate_checks(quality=quality),
        ],
        jobs=[funnel_job, curate_job, release_job],
        sensors=[
            landing_sensor(schedule.sensor_interval_seconds),
            release_sensor(recipe.release.sensor_interval_seconds),
        ],
        schedules=[daily_funnel(schedule.cron, schedule.timezone)],
        resources={
            "lakehouse": lakehouse,
            "spark": SparkResource(),
            "torch_runtime": TorchResource(),
        },
    )


defs = build_definitions(LakehouseResource.from_env())
