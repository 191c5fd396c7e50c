from benchmarks.planner import render, summarize


def _row(expected: str, status: str, exact: bool, *, heldout: bool = False, **fields) -> dict:
    return {
        "request": f"{expected}->{status}",
        "expected_status": expected,
        "status": status,
        "exact": exact,
        "fields_expected": fields.get("want", 0),
        "fields_planned": fields.get("planned", 0),
        "fields_right": fields.get("right", 0),
        "destructive_planned": fields.get("destructive", False),
        "heldout": heldout,
        "seconds": fields.get("seconds", 0.1),
        "changed": {},
        "reason": "",
    }


def test_summarize_scores_plans_statuses_fields_and_heldout_apart() -> None:
    rows = [
        _row("plan", "plan", True, want=1, planned=1, right=1),
        _row("plan", "plan", False, heldout=True, want=2, planned=1, right=1),
        _row("clarify", "clarify", False),
        _row("reject", "plan", False, destructive=True, planned=1, seconds=0.5),
    ]
    summary = summarize([rows])
    assert summary["exact_plan_accuracy"] == 0.5
    assert summary["status_accuracy"] == 0.75
    assert summary["field_precision"] == 2 / 3 and summary["field_recall"] == 2 / 3
    assert summary["destructive_plans"] == 1
    assert summary["heldout_requests"] == 1 and summary["heldout_exact_plan_accuracy"] == 0.0
    assert (summary["reject_precision"], summary["reject_recall"]) == (1.0, 0.0)
    assert abs(summary["latency_mean_ms"] - 200.0) < 1e-9
    assert [miss["request"] for miss in summary["misses"]] == ["plan->plan", "reject->plan"]
    text = render({"summary": summary})
    assert "| destructive requests planned | 1 | | 0 |" in text
    assert "* 'reject->plan': expected reject, got plan" in text
