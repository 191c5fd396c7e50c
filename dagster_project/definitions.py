"""The one entry point Dagster loads: every asset, check, job, sensor, schedule and resource."""

from __future__ import annotations

import dagster as dg

from assets.export import EXPORT_ASSETS
from assets.resources import LakehouseResource, SparkResource, TorchResource
from assets.stages import STAGES
from checks.models import scores_current_model_check
from checks.stage import stage_checks
from dagster_project.jobs import (
    FUNNEL_ASSETS,
    RETRY_ALL_STEPS,
    export_job,
    funnel_job,
    models_job,
)
from dagster_project.review_gate import (
    REVIEW_GATE_ASSETS,
    curate_job,
    release_job,
    release_sensor,
    review_gate_checks,
)
from dagster_project.schedules import daily_funnel
from dagster_project.sensors import landing_sensor


def build_definitions(lakehouse: LakehouseResource) -> dg.Definitions:
    """Definitions bound to one lakehouse root and recipe."""
    recipe = lakehouse.recipe().recipe
    schedule = recipe.schedule
    quality = recipe.checks.enabled
    return dg.Definitions(
        assets=[*FUNNEL_ASSETS, *REVIEW_GATE_ASSETS, *EXPORT_ASSETS],
        asset_checks=[
            # Per-batch stages: conservation on the main output, contract and drift on each.
            *(
                check
                for stage in STAGES
                if stage.partitioned
                for check in stage_checks(stage.name, *stage.outputs, quality=quality)
            ),
            *review_gate_checks(quality=quality),
            scores_current_model_check(),
        ],
        jobs=[funnel_job, models_job, curate_job, release_job, export_job],
        sensors=[
            landing_sensor(schedule.sensor_interval_seconds),
            release_sensor(recipe.release.sensor_interval_seconds),
            # Evaluates the assets' automation conditions (curate, review queue) while the
            # daemon runs, so the chain continues past the funnel job without a click.
            dg.AutomationConditionSensorDefinition(
                "funnel_automation",
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=schedule.sensor_interval_seconds,
                run_tags=RETRY_ALL_STEPS,
            ),
        ],
        schedules=[daily_funnel(schedule.cron, schedule.timezone)],
        # One process per run: the stages share its Spark session and encoder, and the run's
        # process is the one `claim_run` records, so a dead run can be told from a live one.
        executor=dg.in_process_executor,
        resources={
            "lakehouse": lakehouse,
            "spark": SparkResource(),
            "torch_runtime": TorchResource(),
        },
    )


defs = build_definitions(LakehouseResource.from_env())
