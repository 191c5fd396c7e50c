"""The consumption log: what training actually consumed, appended to `serving/consumption`.

One row per consumed sample: run, release, step, doc id, domain, whether it was kept, the loss
weight it was trained with, the domain weights in force and the strategy's state (JSON). Rows are
buffered and committed in batches through `Catalog.write`, so logging costs one Delta commit per
`flush_rows` samples rather than one per step. Each batch must meet the table's data contract
(`lakehouse.contracts.SERVING_CONSUMPTION_CONTRACT`: keys not null, step >= 0, weight finite and
>= 0), checked with Arrow compute (`contract_violations`) before it commits, so the training
loop runs no Great Expectations; a batch that does not is refused whole and stays buffered.
`replay_steps` reads a run back step by step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.contracts import SERVING_CONSUMPTION_CONTRACT, contract_violations
from lakehouse.tables import SERVING_CONSUMPTION

STAGE = "serve"
DEFAULT_FLUSH_ROWS = 65536


class ConsumptionLogError(ValueError):
    """A step that cannot be logged as given."""


class ConsumptionContractError(ConsumptionLogError):
    """A batch of the log that breaks the `serving/consumption` contract; nothing was written."""


class ConsumptionLog:
    """Buffered writer of one training run's consumption; use as a context manager."""

    def __init__(
        self,
        catalog: Catalog,
        run_name: str,
        release: str,
        *,
        recipe_sha256: str = "",
        code_version: str = "",
        input_versions: Mapping[str, int] | None = None,
        flush_rows: int = DEFAULT_FLUSH_ROWS,
    ):
        if not run_name:
            raise ConsumptionLogError("a consumption log needs a run name")
        if flush_rows < 1:
            raise ConsumptionLogError(f"flush_rows must be >= 1, got {flush_rows}")
        self.catalog = catalog
        self.run_name = run_name
        self.release = release
        self.flush_rows = flush_rows
        self.commit = CommitInfo(
            run_id=run_name,
            stage=STAGE,
            recipe_sha256=recipe_sha256,
            code_version=code_version,
            input_versions=dict(input_versions or {}),
        )
        self._columns: dict[str, list[Any]] = {
            name: [] for name in SERVING_CONSUMPTION.schema.names
        }
        self.rows_written = 0
        self.versions: list[int] = []
        self.closed = False

    @property
    def buffered(self) -> int:
        """Rows recorded but not yet committed."""
        return len(self._columns["doc_id"])

    def record(
        self,
        step: int,
        doc_ids: Sequence[str],
        domains: Sequence[str],
        weights: Sequence[float],
        *,
        kept: Sequence[bool] | None = None,
        domain_weights: Mapping[str, float] | None = None,
        strategy_state: Mapping[str, Any] | None = None,
    ) -> None:
        """Log the samples consumed in `step` (committed once `flush_rows` are buffered)."""
        if self.closed:
            raise ConsumptionLogError(f"consumption log of run {self.run_name} is closed")
        kept = [True] * len(doc_ids) if kept is None else list(kept)
        if not (len(doc_ids) == len(domains) == len(weights) == len(kept)):
            raise ConsumptionLogError(
                f"step {step}: {len(doc_ids)} doc ids, {len(domains)} domains, {len(weights)} "
                f"weights and {len(kept)} kept flags; give one of each per sample"
            )
        now = datetime.now(UTC)
        mixture = json.dumps(dict(domain_weights or {}), sort_keys=True)
        state = json.dumps(dict(strategy_state or {}), sort_keys=True)
        count = len(doc_ids)
        columns = self._columns
        columns["run_name"] += [self.run_name] * count
        columns["release"] += [self.release] * count
        columns["step"] += [int(step)] * count
        columns["doc_id"] += list(doc_ids)
        columns["domain"] += list(domains)
        columns["kept"] += [bool(flag) for flag in kept]
        columns["weight"] += [float(w) if k else 0.0 for w, k in zip(weights, kept, strict=True)]
        columns["domain_weights"] += [mixture] * count
        columns["strategy_state"] += [state] * count
        columns["consumed_at"] += [now] * count
        if self.buffered >= self.flush_rows:
            self.flush()

    def flush(self) -> int | None:
        """Commit the buffered rows; returns the new table version (None when nothing was).

        A batch that breaks the table's contract raises `ConsumptionContractError`: nothing of
        it is written and every row stays buffered (earlier batches are already committed).
        """
        if not self.buffered:
            return None
        table = pa.table(self._columns, schema=SERVING_CONSUMPTION.schema)
        violations = contract_violations(SERVING_CONSUMPTION_CONTRACT, None, table)
        if violations:
            steps = pc.min_max(table["step"]).as_py()
            broken = "; ".join(
                f"{item.assertion} on {item.column or 'the table'}: {item.unexpected_count} "
                f"row(s)" + (f", e.g. doc ids {', '.join(item.examples)}" if item.examples else "")
                for item in violations
            )
            raise ConsumptionContractError(
                f"consumption log of run {self.run_name}: the batch of {table.num_rows} rows "
                f"(steps {steps['min']}–{steps['max']}) breaks the {SERVING_CONSUMPTION.key} "
                f"contract ({broken}); nothing of it was written and it stays buffered. Fix "
                "what record() was given: steps >= 0, weights finite and >= 0, no missing ids"
            )
        version = self.catalog.write(SERVING_CONSUMPTION, table, self.commit)
        self.rows_written += table.num_rows
        self.versions.append(version)
        self._columns = {name: [] for name in SERVING_CONSUMPTION.schema.names}
        return version

    def close(self) -> None:
        """Commit what is buffered; later records are refused."""
        if not self.closed:
            self.flush()
            self.closed = True

    def __enter__(self) -> ConsumptionLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # A refused batch stays buffered; flushing it again would only repeat the refusal.
        if not isinstance(error, ConsumptionContractError):
            self.close()


def consumption_rows(catalog: Catalog, run_name: str) -> pa.Table:
    """Every logged row of a run, in step order (then as logged)."""
    rows = catalog.read(SERVING_CONSUMPTION, where={"run_name": run_name})
    return rows.take(pc.sort_indices(rows, [("step", "ascending")]))


def replay_steps(catalog: Catalog, run_name: str) -> list[dict[str, Any]]:
    """A run step by step: doc ids, domains, kept flags, weights and the strategy's state."""
    steps: dict[int, dict[str, Any]] = {}
    for row in consumption_rows(catalog, run_name).to_pylist():
        entry = steps.setdefault(
            row["step"],
            {
                "step": row["step"],
                "doc_ids": [],
                "domains": [],
                "kept": [],
                "weights": [],
                "domain_weights": json.loads(row["domain_weights"]),
                "strategy_state": json.loads(row["strategy_state"]),
            },
        )
        entry["doc_ids"].append(row["doc_id"])
        entry["domains"].append(row["domain"])
        entry["kept"].append(row["kept"])
        entry["weights"].append(row["weight"])
    return [steps[step] for step in sorted(steps)]
