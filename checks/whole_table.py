"""Checks of the tables that are rebuilt whole rather than per batch (curate, review, release).

The same contracts as the batch stages (`lakehouse/contracts.py`), run by Great Expectations on
every row of the version just written, as blocking ERROR checks; and for a stage that records
ledger rows per batch over a whole-table rebuild (curate), conservation for each of those batches.
"""

import dagster as dg

from assets.resources import LakehouseResource
from assets.tables import asset_key
from checks.stage import CONTRACT_CHECK, contract_result
from lakehouse.contracts import TableContract, table_contract
from lakehouse.ledger import audit_conservation, ledger_entries
from lakehouse.tables import TableSpec


def whole_table_contract_check(contract: TableContract) -> dg.AssetChecksDefinition:
    """A blocking ERROR check: every row of the table's latest version meets its contract."""
    spec = contract.table

    @dg.asset_check(
        asset=asset_key(spec),
        name=CONTRACT_CHECK,
        blocking=True,
        description=(
            f"Great Expectations contract of {spec.key} on every row of the version just "
            "written: schema and types, non-null keys, unique ids, allowed values, bounds."
        ),
    )
    def _contract(
        context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> dg.AssetCheckResult:
        catalog = lakehouse.catalog()
        version = catalog.version(spec)
        if version is None:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{spec.key} has not been written",
            )
        return contract_result(context, lakehouse, contract, version, None)

    return _contract


def batches_conservation_check(spec: TableSpec, stage: str) -> dg.AssetChecksDefinition:
    """A blocking check: for every batch the stage's ledger holds, rows in = out + rejected."""

    @dg.asset_check(
        asset=asset_key(spec),
        name="conservation",
        blocking=True,
        description=(
            f"Stage {stage!r}: for every batch, rows_in = rows_out + rows_rejected, and each "
            "count equals the rows in the table versions the stage wrote."
        ),
    )
    def _conservation(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
        catalog = lakehouse.catalog()
        batches = sorted({entry.batch_id for entry in ledger_entries(catalog, stage=stage)})
        problems = []
        for batch_id in batches:
            audit = audit_conservation(catalog, stage, batch_id)
            problems += [f"batch {batch_id}: {problem}" for problem in audit.problems]
        metadata: dict[str, dg.RawMetadataValue] = {"batches": len(batches)}
        if problems:
            metadata["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description="; ".join(problems) or f"every row of {len(batches)} batches accounted for",
        )

    return _conservation


def whole_table_checks(
    stage: str, *tables: TableSpec, conservation: bool = False, quality: bool = True
) -> list[dg.AssetChecksDefinition]:
    """Contract checks of `tables` (unless `quality` is off), and per-batch conservation of the
    stage's output (`tables[0]`) when the stage keeps ledger rows."""
    if not tables:
        raise ValueError(f"stage {stage!r} needs at least its output table to be checked")
    checks = [batches_conservation_check(tables[0], stage)] if conservation else []
    if quality:
        for spec in tables:
            contract = table_contract(spec.key)
            if contract is not None:
                checks.append(whole_table_contract_check(contract))
    return checks
