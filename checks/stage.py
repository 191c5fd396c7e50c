"""Every check of a stage from one call: conservation, each table's contract, and drift.

`stage_checks("ingest", BRONZE_DOCUMENTS, BRONZE_QUARANTINE)` gives the blocking conservation
check on the stage's output (the first table), and for every table with a contract in
`lakehouse/contracts.py` a blocking GX contract check (severity ERROR: downstream assets do not
run when it fails) and a non-blocking drift check (severity WARN).
"""

import warnings
from typing import Any

import dagster as dg

from assets.lineage import emit_check_lineage
from assets.partitions import batches
from assets.resources import LakehouseResource
from assets.tables import asset_key
from checks.conservation import conservation_check
from checks.drift import DriftReport, drift_report
from checks.expectations import ContractResult, validate_batch
from lakehouse.catalog import Catalog
from lakehouse.contracts import TableContract, table_contract
from lakehouse.ledger import ledger_entries
from lakehouse.lineage import TableInput
from lakehouse.tables import TableSpec

CONTRACT_CHECK = "contract"
DRIFT_CHECK = "drift"


def written_version(catalog: Catalog, stage: str, spec: TableSpec, batch_id: str) -> int:
    """The table version `stage` wrote for the batch (from the ledger), else the latest."""
    for entry in reversed(ledger_entries(catalog, stage=stage, batch_id=batch_id)):
        version = entry.version_of(spec.key)
        if version is not None:
            return version
    latest = catalog.version(spec)
    if latest is None:
        raise LookupError(f"table {spec.key} has no version to check for batch {batch_id}")
    return latest


def contract_metadata(result: ContractResult) -> dict[str, Any]:
    """Check metadata: the version checked, rows, and each failed assertion with examples."""
    metadata: dict[str, Any] = {
        "table": result.table,
        "delta_version": result.version,
        "batch_id": result.batch_id,
        "rows_checked": result.rows,
        "assertions": len(result.assertions),
        "failed_assertions": len(result.failures),
        "unexpected_counts": dg.MetadataValue.json(
            {
                f"{item.assertion}:{item.column or 'table'}": item.unexpected_count
                for item in result.assertions
            }
        ),
    }
    if result.failures:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(
                f"- `{item.assertion}` on `{item.column or 'table'}`: "
                f"{item.unexpected_count} unexpected"
                + (f"; e.g. {', '.join(item.examples)}" if item.examples else "")
                + (f" ({item.detail})" if item.assertion == "schema_matches_table_spec" else "")
                for item in result.failures
            )
        )
        metadata["example_doc_ids"] = dg.MetadataValue.json(
            {
                f"{item.assertion}:{item.column or 'table'}": item.examples
                for item in result.failures
            }
        )
    return metadata


def ol_assertions(result: ContractResult) -> list[dict[str, object]]:
    """The contract's results as OpenLineage dataQualityAssertions entries."""
    return [
        {
            "assertion": item.assertion,
            "success": item.success,
            "column": item.column,
            "severity": "error",
            "name": f"{result.table}:{item.assertion}:{item.column or 'table'}",
            "expected": "0 unexpected",
            "actual": f"{item.unexpected_count} unexpected",
        }
        for item in result.assertions
    ]


def drift_metadata(report: DriftReport) -> dict[str, Any]:
    """Check metadata: each drift measure with its current and baseline value and tolerance."""
    metadata: dict[str, Any] = {
        "table": report.table,
        "delta_version": report.version,
        "baseline_version": report.baseline_version if report.baseline_version is not None else -1,
    }
    for measure in report.measures:
        metadata[measure.metric] = dg.MetadataValue.json(
            {
                "current": measure.current,
                "baseline": measure.baseline,
                "change": round(measure.change, 6),
                "tolerance": measure.tolerance,
                "within": measure.within,
            }
        )
    return metadata


def contract_result(
    context: dg.AssetCheckExecutionContext,
    lakehouse: LakehouseResource,
    contract: TableContract,
    version: int,
    batch_id: str | None,
) -> dg.AssetCheckResult:
    """Validate a table version (one batch's rows, or all with None), emit the check's lineage
    with its assertions, and return the blocking check result naming what failed."""
    spec = contract.table
    result = validate_batch(
        lakehouse.catalog(), contract, lakehouse.recipe().recipe, version, batch_id
    )
    emit_check_lineage(
        context, lakehouse, CONTRACT_CHECK, TableInput(spec, version, ol_assertions(result))
    )
    failed = ", ".join(
        f"{item.assertion}({item.column or 'table'}): {item.unexpected_count}"
        for item in result.failures
    )
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=contract_metadata(result),
        description=f"failed: {failed}" if failed else "every expectation met",
    )


def contract_check(contract: TableContract) -> dg.AssetChecksDefinition:
    """A blocking ERROR check: the batch's rows of the written version satisfy the contract."""
    spec = contract.table
    decorate = dg.asset_check(
        asset=asset_key(spec),
        name=CONTRACT_CHECK,
        blocking=True,
        partitions_def=batches,
        description=(
            f"Great Expectations contract of {spec.key} on the batch's rows of the version the "
            f"stage wrote: schema and types, non-null keys, unique ids, allowed values, bounds."
        ),
    )

    def _contract(
        context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> dg.AssetCheckResult:
        catalog = lakehouse.catalog()
        version = written_version(catalog, contract.stage, spec, context.partition_key)
        return contract_result(context, lakehouse, contract, version, context.partition_key)

    with warnings.catch_warnings():
        # Partitioned asset checks are a Dagster preview feature, used on purpose (see
        # checks/conservation.py).
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return decorate(_contract)


def drift_check(contract: TableContract) -> dg.AssetChecksDefinition:
    """A non-blocking WARN check: the batch against the previous version of the table."""
    spec = contract.table
    decorate = dg.asset_check(
        asset=asset_key(spec),
        name=DRIFT_CHECK,
        blocking=False,
        partitions_def=batches,
        description=(
            f"Drift of {spec.key}: the batch's row count, mean text length and category and "
            "score distributions against the previous version, within the recipe's "
            "checks.drift tolerances."
        ),
    )

    def _drift(
        context: dg.AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> dg.AssetCheckResult:
        catalog = lakehouse.catalog()
        loaded = lakehouse.recipe()
        version = written_version(catalog, contract.stage, spec, context.partition_key)
        report = drift_report(
            catalog, contract, version, context.partition_key, loaded.recipe.checks.drift
        )
        outside = [measure.metric for measure in report.measures if not measure.within]
        if report.baseline_version is None or not report.measures:
            description = "no earlier rows to compare with; this batch is the baseline"
        elif outside:
            description = f"drifted beyond tolerance: {', '.join(outside)}"
        else:
            description = "within tolerance of the previous version"
        return dg.AssetCheckResult(
            passed=report.passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=drift_metadata(report),
            description=description,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return decorate(_drift)


def stage_checks(
    stage: str, *tables: TableSpec, quality: bool = True
) -> list[dg.AssetChecksDefinition]:
    """Conservation on the stage's output (`tables[0]`), plus contract and drift checks.

    With `quality=False` (the recipe's `checks.enabled: false`) only conservation is kept.
    """
    if not tables:
        raise ValueError(f"stage {stage!r} needs at least its output table to be checked")
    checks = [conservation_check(asset_key(tables[0]), stage)]
    if not quality:
        return checks
    for spec in tables:
        contract = table_contract(spec.key)
        if contract is not None:
            checks += [contract_check(contract), drift_check(contract)]
    return checks
