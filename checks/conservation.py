"""One conservation check for every stage: the ledger balances and matches the tables."""

import warnings

import dagster as dg

from assets.partitions import batches
from assets.resources import LakehouseResource
from lakehouse.ledger import audit_conservation


def conservation_check(asset: dg.AssetKey, stage: str) -> dg.AssetChecksDefinition:
    """A blocking check on `asset`: for the run's batch, rows in = out + rejected + quarantined.

    The ledger's counts are compared with the rows actually present in the table versions the
    stage wrote, so a tampered ledger or a table changed behind the funnel's back both fail.
    """

    decorate = dg.asset_check(
        asset=asset,
        name="conservation",
        blocking=True,
        partitions_def=batches,
        description=(
            f"Stage {stage!r}: rows_in = rows_out + rows_rejected + rows_quarantined for the "
            "batch, and each count equals the rows in the table version the stage wrote."
        ),
    )

    def _conservation(
        context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> dg.AssetCheckResult:
        audit = audit_conservation(lakehouse.catalog(), stage, context.partition_key)
        entry = audit.entry
        metadata: dict[str, dg.RawMetadataValue] = {"batch_id": audit.batch_id}
        if entry is not None:
            metadata |= {
                "rows_in": entry.rows_in,
                "rows_out": entry.rows_out,
                "rows_rejected": entry.rows_rejected,
                "rows_quarantined": entry.rows_quarantined,
                "output_version": entry.output_version,
            }
        metadata |= {f"found_{name}": value for name, value in audit.found.items()}
        if audit.problems:
            metadata["problems"] = dg.MetadataValue.md(
                "\n".join(f"- {problem}" for problem in audit.problems)
            )
        return dg.AssetCheckResult(
            passed=audit.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description="; ".join(audit.problems) or "every row accounted for",
        )

    with warnings.catch_warnings():
        # Partitioned asset checks are a Dagster preview feature; the funnel relies on them on
        # purpose (one verdict per batch), so the warning would only be noise in every log.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return decorate(_conservation)
