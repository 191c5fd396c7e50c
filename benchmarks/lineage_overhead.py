"""Checks and lineage overhead: the whole funnel with its quality gates on versus off.

Peer: the same funnel run with `FUNNEL_LINEAGE=off` and the recipe's `checks.enabled: false`
(only the conservation check is kept). "On" adds the Great Expectations contract and drift checks
of every table a stage writes and the OpenLineage events of every materialization and check (file
transport). The per-record provenance columns (doc_id, source, license, source URI and record,
sha256 of the text) cannot be switched off — every later stage keys on them — so both modes pay
for them and the ratio does not include them.

Input: a fixed subset of the bundled sample, built by the benchmark into a temporary landing: the
first `--per-source` documents of each JSON-lines source of `recipes/default.yaml` (files in name
order) and the sample's WARC crawl as it is, with the default recipe otherwise unchanged. The
whole sample takes about 40 minutes per funnel run on 2 cores, hence the subset. Each repeat runs
both modes, alternating (off, on, off, on…), each in a fresh process and a fresh temporary root.

Measured per run: `run_seconds`, the wall time of the Dagster run (`run_batch`) once the process
has loaded its code (Dagster, and for "on" Great Expectations), as a deployed code location does;
and `process_seconds`, the whole process including those imports, as a one-off `funnel run` pays
them. The target is run overhead ≤ 10 % (median on ÷ median off ≤ 1.10).

The full profile runs the whole funnel for the batch (every per-batch stage, training the heads
first as a new lake does) on 20 documents per source, median of 3: one such run takes about
6 minutes on the shared 2-core machine (Spark sessions, the encoder and the heads' training are
most of it), so larger subsets (`--per-source`) did not fit. With so few documents the fixed
costs of the checks (Great Expectations' per-expectation cost, per table) weigh more than they
would on a real batch, so the ratio is an upper bound. The quick profile (`--quick`, a 2-minute
budget) cannot fit two whole-funnel runs, so it runs ingest only (`--until ingest`) on 50
documents per source, once per mode: there the checks' fixed cost is set against a 2-second
stage, and its ratio says little about the whole funnel.

    python -m benchmarks.lineage_overhead [--quick] [--per-source N] [--repeats N] [--until STAGE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.measure import load_average, record, run_engine, spread

PROCESS_STARTED = time.perf_counter()
PROJECT = Path(__file__).resolve().parent.parent
SAMPLE_RECIPE = PROJECT / "recipes" / "default.yaml"
TITLE = "Checks and lineage overhead (whole funnel)"
TARGET = 1.10
MODES = ("off", "on")
FULL_PER_SOURCE, FULL_REPEATS = 20, 3
QUICK_PER_SOURCE, QUICK_REPEATS, QUICK_UNTIL = 50, 1, "ingest"


def _default_recipe() -> dict[str, Any]:
    """The default recipe as a mapping, its landing made absolute."""
    raw = yaml.safe_load(SAMPLE_RECIPE.read_text())
    raw["landing"] = str((SAMPLE_RECIPE.parent / raw["landing"]).resolve())
    # The blocked-domains list is named relative to the recipe's folder; the benchmark's recipe
    # lives elsewhere.
    url = raw.get("clean", {}).get("url", {})
    for option in ("block_domains_file", "allow_domains_file"):
        if url.get(option):
            url[option] = str((SAMPLE_RECIPE.parent / url[option]).resolve())
    return raw


def subset_landing(target: Path, per_source: int) -> int:
    """Copy the first `per_source` documents of each JSON-lines source of the default recipe
    (and each other source's files unchanged) into `target`; returns the documents copied.

    Deterministic: files in name order, gzip written without a timestamp.
    """
    recipe = _default_recipe()
    landing = Path(recipe["landing"])
    copied = 0
    for source in recipe["sources"]:
        files = sorted(landing.glob(source["path"]))
        if not files:
            raise FileNotFoundError(f"source {source['name']}: no files match {source['path']}")
        folder = target / Path(source["path"]).parent
        folder.mkdir(parents=True, exist_ok=True)
        if source["format"] != "jsonl":
            for path in files:
                shutil.copyfile(path, folder / path.name)
            continue
        lines: list[bytes] = []
        for path in files:
            with gzip.open(path, "rb") as handle:
                for line in handle:
                    if len(lines) == per_source:
                        break
                    lines.append(line)
            if len(lines) == per_source:
                break
        with (
            (folder / "part-00000.jsonl.gz").open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle,
        ):
            handle.writelines(lines)
        copied += len(lines)
    return copied


def bench_recipe(folder: Path, landing: Path, checks: bool) -> Path:
    """The default recipe reading `landing`, with the quality checks switched on or off."""
    recipe = _default_recipe()
    recipe["landing"] = str(landing)
    recipe["checks"] = {**recipe.get("checks", {}), "enabled": checks}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    return path


def run_mode(mode: str, per_source: int, until: str | None) -> dict[str, Any]:
    """One funnel run in this process with the quality gates `on` or `off`."""
    # The lineage switch is read from the environment by the emitter; this process exists only
    # to run one mode, so setting it here changes nothing else.
    os.environ["FUNNEL_LINEAGE"] = mode
    import dagster as dg

    from assets.resources import LakehouseResource
    from assets.stages import STAGE_ASSETS
    from dagster_project.runs import pending_batches, run_batch

    if mode == "on":
        from checks.expectations import _gx_context

        _gx_context()
    with tempfile.TemporaryDirectory(prefix="funnel-lineage-bench-") as work:
        landing = Path(work) / "landing"
        docs = subset_landing(landing, per_source)
        recipe = bench_recipe(Path(work), landing, checks=mode == "on")
        lakehouse = LakehouseResource(root=str(Path(work) / "lake"), recipe_path=str(recipe))
        assets = None
        if until is not None:
            names = list(STAGE_ASSETS)
            assets = [
                key for name in names[: names.index(until) + 1] for key in STAGE_ASSETS[name].keys
            ]
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = pending_batches(instance, lakehouse)
            started = time.perf_counter()
            outcome = run_batch(instance, lakehouse, batch, assets=assets)
            seconds = time.perf_counter() - started
        if not outcome.success:
            raise RuntimeError(f"funnel run with checks {mode} failed: {outcome.error}")
        events = len(list((Path(work) / "lake" / "_lineage").glob("*.json")))
        stages = {entry.stage: entry.rows_out for entry in outcome.stages}
    return {
        "mode": mode,
        "run_seconds": seconds,
        "process_seconds": time.perf_counter() - PROCESS_STARTED,
        "landing_docs": docs,
        "stages": stages,
        "checks": len(outcome.checks),
        "lineage_events": events,
    }


def summarize(runs: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Medians and spreads per mode, the on/off ratios and whether the target holds."""
    by_mode = {mode: [run for run in runs if run["mode"] == mode] for mode in MODES}
    summary: dict[str, Any] = {"repeats": repeats, "target_ratio_run": TARGET}
    for mode, results in by_mode.items():
        summary[mode] = {
            "run_seconds": spread([result["run_seconds"] for result in results]),
            "process_seconds": spread([result["process_seconds"] for result in results]),
            "stages": results[0]["stages"],
            "checks": results[0]["checks"],
            "lineage_events": results[0]["lineage_events"],
        }
    off, on = summary["off"], summary["on"]
    summary["landing_docs"] = by_mode["off"][0]["landing_docs"]
    summary["ratio_run"] = round(on["run_seconds"]["median"] / off["run_seconds"]["median"], 3)
    summary["ratio_process"] = round(
        on["process_seconds"]["median"] / off["process_seconds"]["median"], 3
    )
    summary["pairwise_ratio_run"] = [
        round(pair_on["run_seconds"] / pair_off["run_seconds"], 3)
        for pair_off, pair_on in zip(by_mode["off"], by_mode["on"], strict=True)
    ]
    summary["within_target"] = summary["ratio_run"] <= TARGET
    return summary


def render(result: dict[str, Any]) -> str:
    """The per-mode table and the ratios, as markdown."""
    summary = result["summary"]
    stages = ", ".join(f"{name} {rows:,}" for name, rows in summary["off"]["stages"].items())
    rows = [
        f"Subset: {summary['landing_docs']:,} JSON-lines documents plus the WARC crawl; "
        f"stages run (rows out): {stages}.",
        "",
        "| mode | Dagster run, s (median) | min–max, n | whole process, s (median) | checks | "
        "lineage events |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for mode in MODES:
        figures = summary[mode]
        run, process = figures["run_seconds"], figures["process_seconds"]
        rows.append(
            f"| {mode} | {run['median']:.2f} | {run['min']:.2f}–{run['max']:.2f}, {run['n']} | "
            f"{process['median']:.2f} | {figures['checks']} | {figures['lineage_events']} |"
        )
    verdict = "met" if summary["within_target"] else "**not met**"
    pairwise = ", ".join(f"{ratio:.3f}" for ratio in summary["pairwise_ratio_run"])
    rows += [
        "",
        f"* **Run overhead: median on ÷ median off = {summary['ratio_run']:.3f}** (target ≤ "
        f"{summary['target_ratio_run']:.2f}: {verdict}); pairwise {pairwise}.",
        f"* Whole-process ratio: {summary['ratio_process']:.3f} (includes importing Great "
        "Expectations once per process).",
    ]
    return "\n".join(rows)


def benchmark(per_source: int, repeats: int, until: str | None) -> list[dict[str, Any]]:
    """Alternate both modes `repeats` times, each in a fresh process; every run's figures."""
    arguments = ["--per-source", str(per_source)] + (["--until", until] if until else [])
    runs = []
    for _ in range(repeats):
        for mode in MODES:
            runs.append(run_engine("benchmarks.lineage_overhead", ["--mode", mode, *arguments]))
    return runs


def main() -> None:
    """Command line: run one mode (internal) or the whole comparison, and record it."""
    from assets.stages import STAGE_ASSETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="ingest only, 50 per source, once")
    parser.add_argument("--per-source", type=int, help="documents per JSON-lines source")
    parser.add_argument("--repeats", type=int, help="runs of each mode")
    parser.add_argument("--until", choices=list(STAGE_ASSETS), help="last stage to run")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    per_source = args.per_source or (QUICK_PER_SOURCE if args.quick else FULL_PER_SOURCE)
    until = args.until or (QUICK_UNTIL if args.quick else None)
    if args.mode:
        print(json.dumps(run_mode(args.mode, per_source, until)))
        return
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    load_before = load_average()
    runs = benchmark(per_source, repeats, until)
    summary = summarize(runs, repeats)
    summary["until"] = until or "review (every stage)"
    command = "python -m benchmarks.lineage_overhead" + (" --quick" if args.quick else "")
    if args.per_source or args.repeats or args.until:
        command += f" --per-source {per_source} --repeats {repeats}"
        command += f" --until {until}" if until else ""
    record("lineage_overhead", command, summary, runs, quick=args.quick, load_before=load_before)
    medians = {
        mode: statistics.median(r["run_seconds"] for r in runs if r["mode"] == mode)
        for mode in MODES
    }
    print(
        f"lineage_overhead ({summary['until']}, {summary['landing_docs']} documents): off "
        f"{medians['off']:.2f} s, on {medians['on']:.2f} s, ratio {summary['ratio_run']:.3f} "
        f"(target ≤ {TARGET})"
    )


if __name__ == "__main__":
    main()
