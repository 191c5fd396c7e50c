"""Recording a table a test wrote by hand as a stage's outcome, as the stage runner would."""

from __future__ import annotations

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import LedgerEntry, record_stage
from lakehouse.tables import TableSpec


def record_written(
    catalog: Catalog, stage: str, spec: TableSpec, batch_id: str, version: int, commit: CommitInfo
) -> None:
    """A balanced ledger row saying `stage` wrote the batch's rows of `spec@version`."""
    rows = catalog.count(spec, version, where={"batch_id": batch_id})
    entry = LedgerEntry(stage, batch_id, rows, rows, 0, 0, spec.key, version, commit.run_id)
    record_stage(catalog, entry, commit)
