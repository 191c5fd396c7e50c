"""Running the curate and release jobs from the command line: real Dagster runs, like batches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from assets.resources import LakehouseResource
from dagster_project.runs import (
    IN_PROCESS_RUN_TAGS,
    check_results,
    process_tags,
    resolve_job,
    run_error,
)
from lakehouse.tables import GOLD_SCORED_DOCUMENTS


@dataclass
class JobRun:
    """The outcome of one run of a whole-table job (curate, release)."""

    job: str
    run_id: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


def run_job(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    job_name: str,
    run_config: dict[str, Any] | None = None,
) -> JobRun:
    """Execute job `job_name` in a Dagster run recorded in `instance`; never raises on failure."""
    job = resolve_job(instance, lakehouse, job_name)
    run_id = str(uuid.uuid4())
    result = job.execute_in_process(
        instance=instance,
        run_config=run_config or {},
        raise_on_error=False,
        run_id=run_id,
        tags=process_tags(run_id) | IN_PROCESS_RUN_TAGS,
    )
    checks = check_results(result)
    success = result.success and all(checks.values())
    return JobRun(job_name, result.run_id, success, checks, run_error(result))


def run_curate(instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> JobRun | None:
    """Build the release candidate and its review queue; None while nothing is scored yet."""
    if not lakehouse.catalog().exists(GOLD_SCORED_DOCUMENTS):
        return None
    return run_job(instance, lakehouse, "curate")


def run_release(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, name: str = ""
) -> JobRun:
    """Publish the reviewed candidate as release `name` (default name when empty)."""
    config = {"ops": {"gold__releases": {"config": {"name": name}}}}
    return run_job(instance, lakehouse, "release", config)


def curate_after_batches(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, outcomes: Sequence[Any]
) -> JobRun | None:
    """After `funnel run`: bring the candidate and its review queue up to date with the scored
    batches (the stages re-run only when their inputs, recipe or code changed, so a curate
    killed midway is finished here); None when batches failed or nothing is scored yet."""
    if outcomes and not all(outcome.success for outcome in outcomes):
        return None
    return run_curate(instance, lakehouse)
