"""Drift: a batch's rows against the previous version of the same table.

The baseline is the table as it was before the stage wrote the batch (the previous Delta version),
without the batch's own rows if it was already there (a re-run). Compared: the batch's row count
with the baseline's rows per batch, the mean text length, the distribution of each categorical
column (total variation distance) and the mean of each score column. Tolerances come from the
recipe's `checks.drift`; drift warns, it never blocks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import Catalog
from lakehouse.contracts import TableContract
from lakehouse.recipe import DriftTolerances


@dataclass(frozen=True)
class Profile:
    """Summary of a set of rows: count, batches, mean length, category shares, score means."""

    rows: int
    batches: int
    mean_length: float | None = None
    distributions: dict[str, dict[str, float]] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DriftMeasure:
    """One compared quantity: its value now, in the baseline, the change and the tolerance."""

    metric: str
    current: float | str | None
    baseline: float | str | None
    change: float
    tolerance: float

    @property
    def within(self) -> bool:
        """True when the change is within the tolerance."""
        return self.change <= self.tolerance


@dataclass(frozen=True)
class DriftReport:
    """All drift measures of one batch of one table version."""

    table: str
    version: int
    baseline_version: int | None
    measures: list[DriftMeasure]

    @property
    def passed(self) -> bool:
        """True when there is no baseline or every measure is within its tolerance."""
        return all(measure.within for measure in self.measures)


def profile(rows: pa.Table, contract: TableContract) -> Profile:
    """The drift profile of `rows` for the columns the contract's drift profile names."""
    spec = contract.drift
    batches = len(set(rows["batch_id"].to_pylist())) if "batch_id" in rows.column_names else 1
    mean_length = None
    if spec.length_column and spec.length_column in rows.column_names and rows.num_rows:
        mean_length = pc.mean(rows[spec.length_column]).as_py()
    distributions = {}
    for column in spec.categorical:
        if column in rows.column_names and rows.num_rows:
            counts = Counter(str(value) for value in rows[column].to_pylist())
            distributions[column] = {key: count / rows.num_rows for key, count in counts.items()}
    means = {}
    for column in spec.numeric:
        if column in rows.column_names and rows.num_rows:
            value = pc.mean(rows[column]).as_py()
            if value is not None:
                means[column] = float(value)
    return Profile(rows.num_rows, max(batches, 1), mean_length, distributions, means)


def total_variation(left: dict[str, float], right: dict[str, float]) -> float:
    """Half the L1 distance between two distributions: 0 identical, 1 disjoint."""
    keys = set(left) | set(right)
    return 0.5 * sum(abs(left.get(key, 0.0) - right.get(key, 0.0)) for key in keys)


def _relative(current: float, baseline: float) -> float:
    if baseline == 0:
        return 0.0 if current == 0 else float("inf")
    return abs(current - baseline) / abs(baseline)


def compare(current: Profile, baseline: Profile, tolerances: DriftTolerances) -> list[DriftMeasure]:
    """Every drift measure of `current` against `baseline`."""
    per_batch = baseline.rows / baseline.batches
    measures = [
        DriftMeasure(
            "row_count",
            current.rows,
            round(per_batch, 3),
            _relative(current.rows, per_batch),
            tolerances.row_count_change,
        )
    ]
    if current.mean_length is not None and baseline.mean_length is not None:
        measures.append(
            DriftMeasure(
                "mean_text_length",
                round(current.mean_length, 3),
                round(baseline.mean_length, 3),
                _relative(current.mean_length, baseline.mean_length),
                tolerances.mean_length_change,
            )
        )
    for column, distribution in current.distributions.items():
        if column in baseline.distributions:
            measures.append(
                DriftMeasure(
                    f"{column}_distribution",
                    _top(distribution),
                    _top(baseline.distributions[column]),
                    total_variation(distribution, baseline.distributions[column]),
                    tolerances.distribution_distance,
                )
            )
    for column, mean in current.means.items():
        if column in baseline.means:
            measures.append(
                DriftMeasure(
                    f"{column}_mean",
                    round(mean, 6),
                    round(baseline.means[column], 6),
                    abs(mean - baseline.means[column]),
                    tolerances.score_mean_shift,
                )
            )
    return measures


def _top(distribution: dict[str, float], size: int = 3) -> str:
    ranked = sorted(distribution.items(), key=lambda item: (-item[1], item[0]))[:size]
    return ", ".join(f"{key}={share:.2f}" for key, share in ranked)


def drift_report(
    catalog: Catalog,
    contract: TableContract,
    version: int,
    batch_id: str,
    tolerances: DriftTolerances,
) -> DriftReport:
    """The batch's rows in `version` against the previous version without that batch."""
    spec = contract.table
    available = catalog.dataset(spec, version).schema.names
    columns = [name for name in ["batch_id", *contract.drift.columns()] if name in available]
    current = catalog.read(spec, version, where={"batch_id": batch_id}, columns=columns)
    if version == 0:
        return DriftReport(spec.key, version, None, [])
    baseline_rows = catalog.read(spec, version - 1, columns=columns)
    if "batch_id" in baseline_rows.column_names:
        baseline_rows = baseline_rows.filter(pc.not_equal(baseline_rows["batch_id"], batch_id))
    if baseline_rows.num_rows == 0:
        return DriftReport(spec.key, version, version - 1, [])
    measures = compare(profile(current, contract), profile(baseline_rows, contract), tolerances)
    return DriftReport(spec.key, version, version - 1, measures)
