"""Run one stage of the funnel in this process and SIGKILL it after its N-th Delta commit.

    python -m tests.stage_kill ROOT RECIPE STAGE BATCH KILL_AFTER

KILL_AFTER 0 runs the stage to the end. The stage runs through Dagster like any run, on an
ephemeral instance; only `Catalog.write` is wrapped, so the kill lands between two real commits.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import dagster as dg

from assets.resources import LakehouseResource, SparkResource, TorchResource
from assets.stages import STAGE_ASSETS
from lakehouse.catalog import Catalog


def _kill_after(commits: int) -> None:
    """Wrap `Catalog.write` so the process dies right after the `commits`-th commit."""
    original = Catalog.write
    done = [0]

    def write(self: Catalog, *args: Any, **kwargs: Any) -> int:
        version = original(self, *args, **kwargs)
        done[0] += 1
        if done[0] == commits:
            os.kill(os.getpid(), signal.SIGKILL)
        return version

    Catalog.write = write  # type: ignore[method-assign]


def main(root: str, recipe: str, stage: str, batch_id: str, kill_after: int) -> None:
    """Materialize `stage` for `batch_id` (or whole, for whole-table stages)."""
    if kill_after:
        _kill_after(kill_after)
    assets_def = STAGE_ASSETS[stage]
    resources = {
        "lakehouse": LakehouseResource(root=root, recipe_path=recipe),
        "spark": SparkResource(settings={"spark.sql.shuffle.partitions": "2"}),
        "torch_runtime": TorchResource(device="cpu"),
    }
    instance = dg.DagsterInstance.ephemeral()
    partition = None
    if assets_def.partitions_def is not None:
        instance.add_dynamic_partitions("batch", [batch_id])
        partition = batch_id
    result = dg.materialize(
        [assets_def], instance=instance, resources=resources, partition_key=partition
    )
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
