"""The ledger and the rejections table: where every row that leaves a stage is accounted for.

Per stage and batch the ledger holds `rows_in = rows_out + rows_rejected + rows_quarantined`, and
the rejections table holds one row per dropped document with the rule, value and threshold that
dropped it. Re-running a stage for a batch replaces that stage's rows for the batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import OPS_LEDGER, OPS_REJECTIONS, TableSpec

# The stages in the order documents pass through them (see DESIGN.md, "The funnel").
FUNNEL_STAGES = ("ingest", "clean", "dedup", "score", "curate", "review", "release")


@dataclass(frozen=True)
class LedgerEntry:
    """Row counts of one stage for one batch, and the table version the stage wrote."""

    stage: str
    batch_id: str
    rows_in: int
    rows_out: int
    rows_rejected: int
    rows_quarantined: int
    output_table: str
    output_version: int
    run_id: str
    quarantine_table: str | None = None
    quarantine_version: int | None = None
    rejections_version: int | None = None

    @property
    def balanced(self) -> bool:
        """Whether every row that came in is accounted for."""
        return self.rows_in == self.rows_out + self.rows_rejected + self.rows_quarantined


def record_stage(catalog: Catalog, entry: LedgerEntry, commit: CommitInfo) -> int:
    """Write (or replace) the ledger row of `entry.stage` for `entry.batch_id`; returns version."""
    row = asdict(entry) | {"recorded_at": datetime.now(UTC)}
    table = pa.Table.from_pylist([row], schema=OPS_LEDGER.schema)
    return catalog.write(
        OPS_LEDGER, table, commit, replace={"stage": entry.stage, "batch_id": entry.batch_id}
    )


def ledger_entries(
    catalog: Catalog,
    *,
    stage: str | None = None,
    batch_id: str | None = None,
    version: int | None = None,
) -> list[LedgerEntry]:
    """Ledger rows, optionally for one stage and/or batch, ordered by batch, then by the stage's
    place in the funnel."""
    where = {key: value for key, value in (("stage", stage), ("batch_id", batch_id)) if value}
    rows = catalog.read(OPS_LEDGER, version, where=where).to_pylist()
    fields = LedgerEntry.__dataclass_fields__
    entries = [LedgerEntry(**{key: row[key] for key in fields}) for row in rows]
    return sorted(entries, key=lambda entry: (entry.batch_id, funnel_position(entry.stage)))


def funnel_position(stage: str) -> tuple[int, str]:
    """Sort key of a stage: its place in FUNNEL_STAGES; unknown stages last, by name."""
    if stage in FUNNEL_STAGES:
        return FUNNEL_STAGES.index(stage), stage
    return len(FUNNEL_STAGES), stage


def record_rejections(
    catalog: Catalog, stage: str, batch_id: str, rejections: pa.Table, commit: CommitInfo
) -> int:
    """Write (or replace) a stage's rejections for a batch; returns the new table version.

    `rejections` has the columns of `ops/rejections` except `stage`, `batch_id` and `run_id`,
    which are filled in here.
    """
    size = rejections.num_rows
    filled = rejections
    for name, value in (("stage", stage), ("batch_id", batch_id), ("run_id", commit.run_id)):
        column = pa.array([value] * size, pa.string())
        if name in filled.column_names:
            filled = filled.set_column(filled.schema.get_field_index(name), name, column)
        else:
            filled = filled.append_column(name, column)
    return catalog.write(
        OPS_REJECTIONS, filled, commit, replace={"stage": stage, "batch_id": batch_id}
    )


@dataclass(frozen=True)
class ConservationAudit:
    """A stage's ledger row for a batch checked against the rows actually in the tables."""

    stage: str
    batch_id: str
    entry: LedgerEntry | None
    found: dict[str, int]
    problems: list[str]

    @property
    def passed(self) -> bool:
        """True when the ledger balances and matches every table it names."""
        return not self.problems


def audit_conservation(catalog: Catalog, stage: str, batch_id: str) -> ConservationAudit:
    """Check `rows_in = out + rejected + quarantined` and each count against its table version."""
    entries = ledger_entries(catalog, stage=stage, batch_id=batch_id)
    if not entries:
        problem = f"no ledger row for stage {stage!r} and batch {batch_id!r}"
        return ConservationAudit(stage, batch_id, None, {}, [problem])
    entry = entries[-1]
    problems = []
    if not entry.balanced:
        problems.append(
            f"rows_in {entry.rows_in} != rows_out {entry.rows_out} + rows_rejected "
            f"{entry.rows_rejected} + rows_quarantined {entry.rows_quarantined}"
        )
    batch = {"batch_id": batch_id}
    found = {"rows_out": catalog.count(entry.output_table, entry.output_version, where=batch)}
    if entry.quarantine_table is not None and entry.quarantine_version is not None:
        found["rows_quarantined"] = catalog.count(
            entry.quarantine_table, entry.quarantine_version, where=batch
        )
    else:
        found["rows_quarantined"] = 0
    if entry.rejections_version is not None:
        found["rows_rejected"] = catalog.count(
            OPS_REJECTIONS, entry.rejections_version, where=batch | {"stage": stage}
        )
    else:
        found["rows_rejected"] = 0
    for name, actual in found.items():
        claimed = getattr(entry, name)
        if claimed != actual:
            problems.append(f"ledger says {name}={claimed} but the table holds {actual}")
    return ConservationAudit(stage, batch_id, entry, found, problems)


class LostRowsError(RuntimeError):
    """A stage's outputs do not account for every input row of a batch."""


@dataclass(frozen=True)
class BatchOutcome:
    """What a stage did with one batch: rows in, the rows its output table holds for the batch
    at the version it wrote, and the rows it rejected."""

    stage: str
    batch_id: str
    rows_in: int
    output: TableSpec
    output_version: int
    rows_out: int
    rejections: pa.Table


def conserved_outcome(
    catalog: Catalog,
    stage: str,
    batch_id: str,
    rows_in: int,
    output: TableSpec,
    output_version: int,
    rejections: pa.Table,
) -> BatchOutcome:
    """The batch's outcome, once its rows are shown conserved: the rows of the batch in
    `output@output_version` plus the rejections are exactly `rows_in`. Raises LostRowsError
    otherwise, before anything is recorded."""
    rows_out = catalog.count(output, output_version, where={"batch_id": batch_id})
    if rows_out + rejections.num_rows != rows_in:
        raise LostRowsError(
            f"{stage} batch {batch_id}: {rows_in} rows in but {rows_out} in {output.key} + "
            f"{rejections.num_rows} rejected; nothing recorded in the ledger"
        )
    return BatchOutcome(stage, batch_id, rows_in, output, output_version, rows_out, rejections)


def record_outcome(catalog: Catalog, outcome: BatchOutcome, commit: CommitInfo) -> int:
    """Write the batch's rejections and its ledger row; returns the rejections' table version."""
    rejections_version = record_rejections(
        catalog, outcome.stage, outcome.batch_id, outcome.rejections, commit
    )
    record_stage(
        catalog,
        LedgerEntry(
            stage=outcome.stage,
            batch_id=outcome.batch_id,
            rows_in=outcome.rows_in,
            rows_out=outcome.rows_out,
            rows_rejected=outcome.rejections.num_rows,
            rows_quarantined=0,
            output_table=outcome.output.key,
            output_version=outcome.output_version,
            run_id=commit.run_id,
            rejections_version=rejections_version,
        ),
        commit,
    )
    return rejections_version
