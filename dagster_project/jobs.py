"""The funnel job (every batch-partitioned asset of the funnel, with its checks) and the export
job (a published release as tokenized shards)."""

import dagster as dg

from assets.clean import clean
from assets.decontaminate import decontaminate
from assets.dedup import dedup
from assets.export import EXPORT_ASSETS
from assets.ingest import ingest
from assets.partitions import batches
from assets.score import domain_classifier, quality_classifier, score

FUNNEL_ASSETS = [
    ingest,
    clean,
    dedup,
    decontaminate,
    quality_classifier,
    domain_classifier,
    score,
]
# A run the daemon re-executes after its worker died starts over: stages whose outcome is
# recorded report "up to date", the stage that was cut short runs again from its pinned inputs.
RETRY_ALL_STEPS = {"dagster/retry_strategy": "ALL_STEPS"}

funnel_job = dg.define_asset_job(
    name="funnel",
    selection=dg.AssetSelection.assets(*FUNNEL_ASSETS),
    partitions_def=batches,
    tags=RETRY_ALL_STEPS,
    description="Carry one ingestion batch through every stage of the funnel.",
)


export_job = dg.define_asset_job(
    name="export",
    selection=dg.AssetSelection.assets(*EXPORT_ASSETS),
    description="Write a published release as tokenized shards (funnel export).",
)


def funnel_asset_keys() -> list[dg.AssetKey]:
    """Keys of every asset the funnel job materializes."""
    return [key for assets_def in FUNNEL_ASSETS for key in assets_def.keys]
