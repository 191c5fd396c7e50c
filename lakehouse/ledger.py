"""The ledger and the rejections table: where every row that leaves a stage is accounted for.

Per stage and batch the ledger holds `rows_in = rows_out + rows_rejected + rows_quarantined`, and
the rejections table holds one row per dropped document with the rule, value and threshold that
dropped it. Re-running a stage for a batch replaces that stage's rows for the batch.

The ledger row is also the commit marker of a stage's outcome. Delta commits one table at a
time, so a stage writes its tables first and its ledger row last, naming the version of each
table it wrote. Readers that pin through the ledger (`committed_version`, `committed_rows`)
see a batch as of its last ledger row: a stage killed between two commits leaves table
versions that no ledger row names, which no reader sees and the next run replaces.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import OPS_LEDGER, OPS_REJECTIONS, TableSpec

# The stages in the order documents pass through them (see DESIGN.md, "The funnel").
FUNNEL_STAGES = (
    "ingest",
    "clean",
    "dedup",
    "decontaminate",
    "score",
    "curate",
    "review",
    "release",
)


@dataclass(frozen=True)
class LedgerEntry:
    """Row counts of one stage for one batch, and the version of every table the stage wrote."""

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
    table_versions: Mapping[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """Whether every row that came in is accounted for."""
        return self.rows_in == self.rows_out + self.rows_rejected + self.rows_quarantined

    def version_of(self, table: str) -> int | None:
        """The version of `table` this outcome names (None when the stage did not write it)."""
        versions = {self.output_table: self.output_version, **self.table_versions}
        if self.quarantine_table is not None and self.quarantine_version is not None:
            versions.setdefault(self.quarantine_table, self.quarantine_version)
        if self.rejections_version is not None:
            versions.setdefault(OPS_REJECTIONS.key, self.rejections_version)
        return versions.get(table)


def _ledger_row(entry: LedgerEntry, recorded_at: datetime) -> dict[str, object]:
    row = asdict(entry) | {"recorded_at": recorded_at}
    row["table_versions"] = json.dumps(dict(sorted(entry.table_versions.items())))
    return row


def record_stage(catalog: Catalog, entry: LedgerEntry, commit: CommitInfo) -> int:
    """Write (or replace) the ledger row of `entry.stage` for `entry.batch_id`; returns version."""
    return record_entries(catalog, [entry], commit)


def record_entries(
    catalog: Catalog,
    entries: Sequence[LedgerEntry],
    commit: CommitInfo,
    *,
    whole_stage: str | None = None,
) -> int:
    """Write the ledger rows of one stage outcome in a single commit; returns the version.

    This commit is what makes the outcome visible: the tables were committed before it, and
    readers take their versions from here. Each row replaces the earlier row of its stage and
    batch; with `whole_stage`, every earlier row of that stage is replaced (a stage that
    rebuilds its output from all batches at once).
    """
    if not entries:
        raise ValueError("a stage outcome needs at least one ledger row")
    stages = {entry.stage for entry in entries}
    if len(stages) != 1 or (whole_stage is not None and stages != {whole_stage}):
        raise ValueError(f"one outcome, one stage: got {sorted(stages)}")
    now = datetime.now(UTC)
    table = pa.Table.from_pylist([_ledger_row(e, now) for e in entries], schema=OPS_LEDGER.schema)
    if whole_stage is not None:
        return catalog.write(OPS_LEDGER, table, commit, replace={"stage": whole_stage})
    batches = [entry.batch_id for entry in entries]
    return catalog.write(
        OPS_LEDGER, table, commit, replace={"stage": entries[0].stage, "batch_id": batches}
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
    entries = [_entry(row) for row in rows]
    return sorted(entries, key=lambda entry: (entry.batch_id, funnel_position(entry.stage)))


def _entry(row: Mapping[str, object]) -> LedgerEntry:
    values = {key: row.get(key) for key in LedgerEntry.__dataclass_fields__}
    raw = values.get("table_versions")
    values["table_versions"] = json.loads(raw) if isinstance(raw, str) and raw else {}
    return LedgerEntry(**values)  # type: ignore[arg-type]


def funnel_position(stage: str) -> tuple[int, str]:
    """Sort key of a stage: its place in FUNNEL_STAGES; unknown stages last, by name."""
    if stage in FUNNEL_STAGES:
        return FUNNEL_STAGES.index(stage), stage
    return len(FUNNEL_STAGES), stage


def stage_seconds(catalog: Catalog) -> dict[str, float]:
    """Median seconds a stage took for one batch, from the ledger's commit times: the time from
    the previous ledger commit of the same run to the stage's own. A run's first stage has no
    such start and is left out (a stage never measured is absent)."""
    if catalog.version(OPS_LEDGER) is None:
        return {}
    commits = sorted(catalog.history(OPS_LEDGER), key=lambda commit: commit.version)
    durations: dict[str, list[float]] = {}
    previous: dict[str, datetime] = {}
    for commit in commits:
        if commit.run_id is None or commit.stage is None:
            continue
        started = previous.get(commit.run_id)
        if started is not None:
            seconds = (commit.timestamp - started).total_seconds()
            durations.setdefault(commit.stage, []).append(seconds)
        previous[commit.run_id] = commit.timestamp
    return {stage: statistics.median(values) for stage, values in durations.items()}


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


def latest_entry(catalog: Catalog, stage: str, batch_id: str) -> LedgerEntry | None:
    """The ledger row of `stage` for `batch_id`, or None when the stage has no outcome yet."""
    entries = ledger_entries(catalog, stage=stage, batch_id=batch_id)
    return entries[-1] if entries else None


def committed_version(catalog: Catalog, stage: str, table: str, batch_id: str) -> int | None:
    """The version of `table` in `stage`'s recorded outcome for the batch (None: no outcome)."""
    entry = latest_entry(catalog, stage, batch_id)
    return None if entry is None else entry.version_of(table)


def committed_batches(
    catalog: Catalog, stage: str, spec: TableSpec, ledger_version: int | None = None
) -> dict[str, int]:
    """batch id → version of `spec` for every batch `stage` has a recorded outcome of."""
    found = {}
    for entry in ledger_entries(catalog, stage=stage, version=ledger_version):
        version = entry.version_of(spec.key)
        if version is not None:
            found[entry.batch_id] = version
    return found


def committed_rows(
    catalog: Catalog,
    versions: Mapping[str, int],
    spec: TableSpec,
    *,
    columns: Iterable[str] | None = None,
    where_ids: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of `spec` of each batch in `versions` (batch id → version), each batch read
    at its own version: what the stage's recorded outcomes hold, and nothing half written.
    With `where_ids`, only the rows of those doc ids."""
    by_version: dict[int, list[str]] = {}
    for batch_id, version in versions.items():
        by_version.setdefault(version, []).append(batch_id)
    names = list(columns) if columns is not None else spec.schema.names
    parts = []
    for version, batch_ids in sorted(by_version.items()):
        dataset = catalog.dataset(spec, version)
        wanted = pc.field("batch_id").isin(sorted(batch_ids))
        if where_ids is not None:
            wanted = wanted & pc.field("doc_id").isin(list(where_ids))
        parts.append(dataset.to_table(columns=names, filter=wanted))
    if not parts:
        return pa.schema([spec.schema.field(name) for name in names]).empty_table()
    return pa.concat_tables(parts, promote_options="permissive")
