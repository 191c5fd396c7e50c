"""Turning landing files into batch partitions, shared by the sensor, the schedule and the CLI."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource
from lakehouse.batches import batch_ids, register_new_batch


def register_landing(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, writer: str
) -> list[str]:
    """Register new landing files as a batch; return batch ids not yet known as partitions.

    `writer` names who registered them (it becomes the commit's run id in `ops/batches`).
    A batch recorded earlier whose partition was never added (say, a tick that died) is
    returned too, so no registered batch is ever left without a partition.
    """
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    register_new_batch(catalog, loaded, lakehouse.commit_info(writer, "register", loaded))
    known = set(instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME))
    return [batch_id for batch_id in batch_ids(catalog) if batch_id not in known]


def unmaterialized_batches(
    instance: dg.DagsterInstance, asset_keys: Iterable[dg.AssetKey], candidates: Iterable[str]
) -> list[str]:
    """Batches among `candidates` for which some of `asset_keys` has never been materialized."""
    done: set[str] | None = None
    for key in asset_keys:
        materialized = set(instance.get_materialized_partitions(key))
        done = materialized if done is None else done & materialized
    return sorted(set(candidates) - (done or set()))
