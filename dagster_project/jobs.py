"""The funnel job (every batch-partitioned asset of the funnel, with its checks, and the model
heads the score stage uses), the models job (train the heads again) and the export job (a
published release as tokenized shards)."""

from collections.abc import Mapping

import dagster as dg

from assets.clean import clean
from assets.decontaminate import decontaminate
from assets.dedup import dedup
from assets.export import EXPORT_ASSETS
from assets.ingest import ingest
from assets.partitions import batches
from assets.score import domain_classifier, quality_classifier, score
from lakehouse.artifacts import current_model

# Unpartitioned: a head is trained once and is the current model of every batch until the
# models are materialized again.
MODEL_ASSETS = [quality_classifier, domain_classifier]
BATCH_ASSETS = [ingest, clean, dedup, decontaminate, score]
FUNNEL_ASSETS = [*BATCH_ASSETS[:4], *MODEL_ASSETS, score]
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


models_job = dg.define_asset_job(
    name="models",
    selection=dg.AssetSelection.assets(*MODEL_ASSETS),
    tags=RETRY_ALL_STEPS,
    description="Train the quality and domain heads again on every batch ingested so far "
    "(funnel models train); later scoring runs use the new model versions.",
)


export_job = dg.define_asset_job(
    name="export",
    selection=dg.AssetSelection.assets(*EXPORT_ASSETS),
    description="Write a published release as tokenized shards (funnel export).",
)


def funnel_asset_keys() -> list[dg.AssetKey]:
    """Keys of every per-batch asset the funnel job materializes (the models are not per batch)."""
    return [key for assets_def in BATCH_ASSETS for key in assets_def.keys]


def untrained_model_keys(root: str, storage_options: Mapping[str, str] | None) -> list[dg.AssetKey]:
    """Keys of the heads that have no current model yet."""
    return [
        assets_def.key
        for assets_def in MODEL_ASSETS
        if current_model(root, assets_def.key.path[-1], storage_options) is None
    ]


def funnel_selection(root: str, storage_options: Mapping[str, str] | None) -> list[dg.AssetKey]:
    """What a run of the funnel for one batch materializes: every per-batch asset, and the
    heads only while they have never been trained (scoring a batch never retrains them)."""
    return funnel_asset_keys() + untrained_model_keys(root, storage_options)
