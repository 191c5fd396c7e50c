"""`contract_violations`: the contract's rules checked with Arrow alone, in agreement with GX."""

from datetime import UTC, datetime

import pyarrow as pa

from checks.expectations import validate_rows
from lakehouse.contracts import (
    REVIEW_DECISIONS_CONTRACT,
    REVIEW_QUEUE_CONTRACT,
    TableContract,
    Violation,
    contract_violations,
)
from lakehouse.tables import REVIEW_DECISIONS

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _agree(contract: TableContract, rows: pa.Table) -> list[Violation]:
    """The Arrow violations, after checking they are the GX suite's failures."""
    arrow = contract_violations(contract, None, rows)
    gx = validate_rows(contract, None, rows).failures
    assert {(v.assertion, v.column, v.unexpected_count) for v in arrow} == {
        (a.assertion, a.column, a.unexpected_count) for a in gx if a.column is not None
    }
    return arrow


def test_values_outside_the_allowed_set_and_null_keys() -> None:
    decisions = [("d1", "approve"), ("d2", "maybe"), ("d3", None), ("d4", "reject")]
    rows = pa.Table.from_pylist(
        [
            {"doc_id": doc, "queue_version": 0, "reviewer": "ana", "decided_at": NOW,
             "decision": decision, "reason": None, "note": None}
            for doc, decision in decisions
        ],
        pa.schema([field.with_nullable(True) for field in REVIEW_DECISIONS.schema]),
    )  # fmt: skip
    violations = _agree(REVIEW_DECISIONS_CONTRACT, rows)
    assert sorted(violations, key=lambda v: v.assertion) == [
        Violation("accepted_values", "decision", 1, ("d2",)),
        Violation("not_null", "decision", 1, ("d3",)),
    ]


def test_repeated_values_bounds_and_missing_columns() -> None:
    rows = pa.table(
        {
            "position": [0, 1, 1, -2],
            "doc_id": ["a", "b", "c", "a"],
            "quality_score": [0.5, 1.5, None, 0.0],
        }
    )
    violations = _agree(REVIEW_QUEUE_CONTRACT, rows)
    assert sorted(violations, key=lambda v: (v.assertion, v.column or "")) == [
        Violation("range", "position", 1, ("a",)),
        Violation("range", "quality_score", 1, ("b",)),
        Violation("unique", "doc_id", 2, ("a", "a")),
        Violation("unique", "position", 2, ("b", "c")),
    ]
    assert contract_violations(REVIEW_QUEUE_CONTRACT, None, rows.drop_columns(["doc_id"]))[0] == (
        Violation("missing_columns", None, 1, ("doc_id",))
    )
