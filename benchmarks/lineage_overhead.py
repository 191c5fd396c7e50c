"""Lineage and checks overhead: funnel on the bundled sample with quality gates on versus off.

Peer: the same funnel run with `FUNNEL_LINEAGE=off` and the recipe's `checks.enabled: false`
(only the conservation check, which predates the quality gates). "On" adds the Great Expectations
contract and drift checks of every bronze table and the OpenLineage events of every
materialization and check (file transport). Each repeat runs both modes, alternating, each in a
fresh process and a fresh temporary root, on `data/sample/landing` with `recipes/default.yaml`.

Measured per run: `run_seconds`, the wall time of the Dagster run (`run_batch`) once the process
has loaded its code (Dagster, and for "on" Great Expectations), as a deployed code location does
once; and `process_seconds`, the whole process including those imports, as a one-off
`funnel run` pays them. The target is run overhead ≤ 15% (median on ÷ median off ≤ 1.15).

    python -m benchmarks.lineage_overhead --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.measure import machine, median, run_engine, write_result

PROCESS_STARTED = time.perf_counter()
PROJECT = Path(__file__).resolve().parent.parent
SAMPLE_RECIPE = PROJECT / "recipes" / "default.yaml"
RESULTS = Path("bench-data") / "results"
TARGET = 1.15


def _recipe(folder: Path, checks: bool) -> Path:
    """The default recipe, landing made absolute, with the checks switched on or off.

    Sections the recipe model does not know (yet) are left out, so the benchmark measures every
    stage the funnel has.
    """
    from lakehouse.recipe import Recipe

    raw = yaml.safe_load(SAMPLE_RECIPE.read_text())
    recipe = {key: value for key, value in raw.items() if key in Recipe.model_fields}
    recipe["landing"] = str((SAMPLE_RECIPE.parent / recipe["landing"]).resolve())
    recipe["checks"] = {**recipe.get("checks", {}), "enabled": checks}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_mode(mode: str) -> dict[str, Any]:
    """One funnel run in this process with the quality gates `on` or `off`."""
    os.environ["FUNNEL_LINEAGE"] = mode
    import dagster as dg

    from assets.resources import LakehouseResource
    from dagster_project.runs import pending_batches, run_batch

    if mode == "on":
        from checks.expectations import _gx_context

        _gx_context()
    with tempfile.TemporaryDirectory(prefix="funnel-lineage-bench-") as work:
        recipe = _recipe(Path(work), checks=mode == "on")
        lakehouse = LakehouseResource(root=str(Path(work) / "lake"), recipe_path=str(recipe))
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = pending_batches(instance, lakehouse)
            started = time.perf_counter()
            outcome = run_batch(instance, lakehouse, batch)
            seconds = time.perf_counter() - started
        if not outcome.success:
            raise RuntimeError(outcome.error)
        events = len(list((Path(work) / "lake" / "_lineage").glob("*.json")))
        (entry,) = outcome.stages
    return {
        "run_seconds": seconds,
        "process_seconds": time.perf_counter() - PROCESS_STARTED,
        "docs": entry.rows_out,
        "checks": len(outcome.checks),
        "events": events,
    }


def benchmark(repeats: int) -> dict[str, Any]:
    """Alternate both modes `repeats` times; medians and the on/off ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(repeats):
        for mode in runs:
            runs[mode].append(run_engine("benchmarks.lineage_overhead", ["--mode", mode]))
    summary: dict[str, Any] = {
        "benchmark": "lineage_overhead",
        "recipe": "recipes/default.yaml",
        "repeats": repeats,
        "machine": machine(),
        "command": f"python -m benchmarks.lineage_overhead --repeats {repeats}",
    }
    for mode, results in runs.items():
        summary[mode] = {
            "run_seconds_median": round(median(results, "run_seconds"), 3),
            "run_seconds_all": [round(result["run_seconds"], 3) for result in results],
            "process_seconds_median": round(median(results, "process_seconds"), 3),
            "docs": results[0]["docs"],
            "checks": results[0]["checks"],
            "lineage_events": results[0]["events"],
        }
    summary["ratio_run"] = round(
        summary["on"]["run_seconds_median"] / summary["off"]["run_seconds_median"], 3
    )
    summary["ratio_process"] = round(
        summary["on"]["process_seconds_median"] / summary["off"]["process_seconds_median"], 3
    )
    summary["target_ratio_run"] = TARGET
    summary["within_target"] = summary["ratio_run"] <= TARGET
    return summary


def main() -> None:
    """Command line: run one mode (internal) or the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mode", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode)))
        return
    summary = benchmark(args.repeats)
    write_result("lineage_overhead", summary, RESULTS)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
