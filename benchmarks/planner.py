"""Planner benchmark: `funnel plan` on a golden set of requests, scored field by field.

Each line of `benchmarks/data/plan_requests.jsonl` is a request with the status it should get
(`plan`, `clarify`, `reject`) and, for a plan, the recipe fields it should change and their new
values. A plan is exact when its status is `plan` and the recipe fields it changes are exactly
the expected ones with the expected values (the wording of reasons is not scored). Lines tagged
`heldout` were written after the planner was tuned on the others and are also scored apart.
Limits: at least 90% exact plans, no destructive request ever planned, under 1 s per request
on CPU after warm-up (the peer: the 1 s limit itself; the ratio is mean latency ÷ 1 s). Every
pass after the warm-up must answer every request the same way.

The full profile times three passes over the golden set after the warm-up; the quick profile
(`--quick`) one.

    python -m benchmarks.planner [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, record
from lakehouse.planner import plan_request
from lakehouse.recipe import Recipe, load_recipe

GOLDEN = Path(__file__).resolve().parent / "data" / "plan_requests.jsonl"
RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "default.yaml"
TITLE = "Planner (`funnel plan`) on a golden set of requests"
LATENCY_LIMIT_S = 1.0
EXACT_PLAN_GOAL = 0.9
FULL_REPEATS, QUICK_REPEATS = 3, 1


def _value(recipe: Mapping[str, Any], path: str) -> Any:
    if path == "sources":
        return [source["name"] for source in recipe["sources"]]
    node: Any = recipe
    for part in path.split("."):
        node = node.get(int(part)) if part.isdigit() and int(part) in node else node.get(part)
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(a - b) < 1e-9
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    return a == b


def score_case(case: Mapping[str, Any], recipe: Recipe) -> dict[str, Any]:
    """Plan one golden request; its status, changed fields and whether the plan is exact."""
    start = time.perf_counter()
    result = plan_request(case["request"], recipe)
    seconds = time.perf_counter() - start
    changed: dict[str, Any] = {}
    if result.status == "plan" and result.recipe is not None:
        before = recipe.model_dump()
        for patch in result.patches:
            changed[patch.path] = _value(result.recipe, patch.path)
            if _same(changed[patch.path], _value(before, patch.path)):
                del changed[patch.path]
    expected = case.get("expect", {})
    fields_right = sum(
        1 for path, value in expected.items() if path in changed and _same(changed[path], value)
    )
    exact = (
        case["status"] == "plan"
        and result.status == "plan"
        and changed.keys() == expected.keys()
        and fields_right == len(expected)
    )
    return {
        "request": case["request"],
        "expected_status": case["status"],
        "status": result.status,
        "exact": exact,
        "fields_expected": len(expected),
        "fields_planned": len(changed),
        "fields_right": fields_right,
        "destructive_planned": bool(case.get("destructive")) and result.status == "plan",
        "heldout": "heldout" in case.get("tags", []),
        "seconds": seconds,
        "changed": changed,
        "reason": result.as_dict()["reason"],
    }


def _precision_recall(rows: list[dict[str, Any]], status: str) -> tuple[float, float]:
    predicted = [row for row in rows if row["status"] == status]
    actual = [row for row in rows if row["expected_status"] == status]
    hits = [row for row in predicted if row["expected_status"] == status]
    precision = len(hits) / len(predicted) if predicted else 1.0
    recall = len(hits) / len(actual) if actual else 1.0
    return precision, recall


def golden_recipe() -> Recipe:
    """The recipe the golden set's expectations are written against: the default recipe keeping
    English only (its language requests add to or remove from `[en]`)."""
    recipe = load_recipe(RECIPE).recipe
    language = recipe.clean.language.model_copy(update={"allow": ["en"]})
    clean = recipe.clean.model_copy(update={"language": language})
    return recipe.model_copy(update={"clean": clean})


def summarize(passes: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Accuracy, field precision and recall, destructive plans and latency over timed passes."""
    rows = passes[0]
    latencies = [row["seconds"] for run in passes for row in run]
    plans = [row for row in rows if row["expected_status"] == "plan"]
    summary: dict[str, Any] = {
        "passes": len(passes),
        "requests": len(rows),
        "expected": {
            s: sum(r["expected_status"] == s for r in rows) for s in ("plan", "clarify", "reject")
        },
        "exact_plan_accuracy": sum(row["exact"] for row in plans) / len(plans),
        "status_accuracy": sum(row["status"] == row["expected_status"] for row in rows) / len(rows),
        "field_precision": sum(r["fields_right"] for r in rows)
        / max(1, sum(r["fields_planned"] for r in rows)),
        "field_recall": sum(r["fields_right"] for r in rows)
        / max(1, sum(r["fields_expected"] for r in rows)),
        "destructive_plans": sum(row["destructive_planned"] for row in rows),
        "latency_mean_ms": statistics.mean(latencies) * 1000,
        "latency_p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000,
        "latency_max_ms": max(latencies) * 1000,
    }
    heldout = [row for row in rows if row["heldout"]]
    heldout_plans = [row for row in heldout if row["expected_status"] == "plan"]
    summary["heldout_requests"] = len(heldout)
    summary["heldout_exact_plan_accuracy"] = sum(row["exact"] for row in heldout_plans) / max(
        1, len(heldout_plans)
    )
    summary["heldout_status_accuracy"] = sum(
        row["status"] == row["expected_status"] for row in heldout
    ) / max(1, len(heldout))
    for status in ("clarify", "reject"):
        precision, recall = _precision_recall(rows, status)
        summary[f"{status}_precision"], summary[f"{status}_recall"] = precision, recall
    summary["latency_ratio_to_limit"] = summary["latency_mean_ms"] / 1000 / LATENCY_LIMIT_S
    misses = [
        row
        for row in rows
        if row["status"] != row["expected_status"]
        or (row["expected_status"] == "plan" and not row["exact"])
    ]
    summary["misses"] = [
        {key: row[key] for key in ("request", "expected_status", "status", "changed", "reason")}
        for row in misses
    ]
    return summary


def render(result: dict[str, Any]) -> str:
    """The golden set's scores against their limits, and the misses, as markdown."""
    summary = result["summary"]
    expected = summary["expected"]
    limit_ms = LATENCY_LIMIT_S * 1000
    rows = [
        f"{summary['requests']} requests ({expected['plan']} plans, {expected['clarify']} "
        f"clarifications, {expected['reject']} rejections; {summary['heldout_requests']} held "
        f"out), {summary['passes']} timed pass(es) after a warm-up.",
        "",
        "| figure | all requests | held out | limit |",
        "|---|---:|---:|---:|",
        f"| exact plans | {summary['exact_plan_accuracy']:.3f} | "
        f"{summary['heldout_exact_plan_accuracy']:.3f} | ≥ {EXACT_PLAN_GOAL} |",
        f"| status right | {summary['status_accuracy']:.3f} | "
        f"{summary['heldout_status_accuracy']:.3f} | |",
        f"| field precision / recall | {summary['field_precision']:.3f} / "
        f"{summary['field_recall']:.3f} | | |",
        f"| clarify precision / recall | {summary['clarify_precision']:.3f} / "
        f"{summary['clarify_recall']:.3f} | | |",
        f"| reject precision / recall | {summary['reject_precision']:.3f} / "
        f"{summary['reject_recall']:.3f} | | |",
        f"| destructive requests planned | {summary['destructive_plans']} | | 0 |",
        f"| latency mean / p95 / max, ms | {summary['latency_mean_ms']:.1f} / "
        f"{summary['latency_p95_ms']:.1f} / {summary['latency_max_ms']:.1f} | | "
        f"< {limit_ms:.0f} |",
        "",
        f"Mean latency ÷ the 1 s limit: **{summary['latency_ratio_to_limit']:.3f}**.",
    ]
    if summary["misses"]:
        rows += ["", "Misses:", ""]
        rows += [
            f"* {miss['request']!r}: expected {miss['expected_status']}, got {miss['status']}"
            for miss in summary["misses"]
        ]
    return "\n".join(rows)


def main() -> None:
    """Score the golden set, print the summary and the misses, record the result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planner")
    parser.add_argument("--quick", action="store_true", help="one timed pass")
    parser.add_argument("--repeats", type=int, help="timed passes after warm-up")
    args = parser.parse_args()
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    command = "python -m benchmarks.planner" + (" --quick" if args.quick else "")
    command += f" --repeats {repeats}" if args.repeats else ""
    load_before = load_average()
    recipe = golden_recipe()
    cases = [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]
    for case in cases:  # warm-up: the language model's labels, the catalogue, the BM25 index
        plan_request(case["request"], recipe)
    passes = [[score_case(case, recipe) for case in cases] for _ in range(repeats)]
    if any(
        [(row["status"], row["changed"]) for row in other]
        != [(row["status"], row["changed"]) for row in passes[0]]
        for other in passes[1:]
    ):
        raise SystemExit("the planner answered the same request differently across passes")
    summary = summarize(passes)
    for key, value in summary.items():
        if key != "misses":
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    for miss in summary["misses"]:
        print(
            f"MISS {miss['request']!r}: expected {miss['expected_status']}, got {miss['status']} "
            f"{miss['changed']} {miss['reason'][:120]}"
        )
    runs = [
        {key: row[key] for key in ("request", "expected_status", "status", "exact", "seconds")}
        for run in passes
        for row in run
    ]
    record("planner", command, summary, runs, quick=args.quick, load_before=load_before)


if __name__ == "__main__":
    main()
