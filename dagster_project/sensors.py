"""The landing sensor: each new set of landing files becomes a batch and a funnel run."""

import dagster as dg

from assets.partitions import batches
from assets.resources import LakehouseResource
from dagster_project.batching import register_landing
from dagster_project.jobs import funnel_job


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
        fresh = register_landing(context.instance, lakehouse, writer="sensor:landing_sensor")
        if not fresh:
            return dg.SkipReason("no new files in landing")
        context.log.info(f"new batches: {', '.join(fresh)}")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=batch, run_key=batch) for batch in fresh],
            dynamic_partitions_requests=[batches.build_add_request(fresh)],
        )

    return _landing_sensor
