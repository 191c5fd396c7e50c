"""`scores_current_model`: every scored batch carries the current heads' model versions.

A batch scored by an older quality or domain head than the current one has scores that do
not compare with the batches scored since (a 0.7 of one model is not a 0.7 of another). The
check WARNs naming those batches; scoring them again (`funnel run --batch B`) clears it.
"""

import warnings

import dagster as dg

from assets.partitions import batches
from assets.resources import LakehouseResource
from assets.tables import asset_key
from lakehouse.model_versions import current_versions, stale_batches
from lakehouse.tables import GOLD_SCORED_DOCUMENTS

SCORES_CURRENT_MODEL_CHECK = "scores_current_model"


def scores_current_model_check() -> dg.AssetChecksDefinition:
    """A non-blocking WARN check on gold/scored_documents: batches an older model scored."""
    decorate = dg.asset_check(
        asset=asset_key(GOLD_SCORED_DOCUMENTS),
        name=SCORES_CURRENT_MODEL_CHECK,
        blocking=False,
        partitions_def=batches,
        description=(
            "Every scored batch was scored by the current quality and domain heads; batches "
            "an older model scored are named (score them again to compare their scores)."
        ),
    )

    def _scores_current_model(
        context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> dg.AssetCheckResult:
        catalog = lakehouse.catalog()
        stale = stale_batches(catalog)
        described = "; ".join(
            f"{item.batch_id} scored by "
            + ", ".join(f"{head} {version}" for head, version in item.scored_with.items())
            for item in stale
        )
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "current_model_versions": dg.MetadataValue.json(current_versions(catalog)),
                "stale_batches": dg.MetadataValue.json(
                    {item.batch_id: item.scored_with for item in stale}
                ),
            },
            description=(
                f"scored by an older model than the current one: {described}"
                if stale
                else "every scored batch was scored by the current models"
            ),
        )

    with warnings.catch_warnings():
        # Partitioned asset checks are a Dagster preview feature, used on purpose (see
        # checks/conservation.py).
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return decorate(_scores_current_model)
