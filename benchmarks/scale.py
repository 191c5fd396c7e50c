"""Scale benchmark: clean and dedup on 1 and 2 Spark workers, lake on local disk and on S3.

The same generated corpus goes through the clean and dedup stages (Dagster materializations,
as `funnel run` does them) in four configurations: a standalone Spark cluster on 127.0.0.1 with
one worker of one core, or two workers of one core each, crossed with the lake (`FUNNEL_ROOT`)
in a local folder or in a bucket of moto's S3 server on 127.0.0.1. The executors read the
pinned snapshot's Parquet with pyarrow and write Parquet parts to the table locations; the
driver commits with delta-rs. Each run is a fresh process with its own lake; bronze ingestion
and starting the Spark session (until every worker's executor has registered) happen before the
clock starts. Configurations alternate within each repeat. Documents/s counts the stage's input
documents over its wall time (median of the repeats). The ratios are 2 workers ÷ 1 worker (the
target is close to 2 where the stage is CPU-bound) and S3 ÷ local (the price of the object
store). Agreement: whether all runs kept the same documents after clean and after dedup.

The S3 server is a single local process and the workers share this machine's cores with the
driver, so the 2-worker ratio here is a lower bound of what two machines give.

Sizing: per stage, the bytes of the Parquet files of the pinned input snapshots (what the
executors may read; they read fewer columns of some), the bytes of the files the stage
committed (every table's new add actions, from delta-rs: outputs, rejections, ledger) and
Spark's shuffle read and write bytes (the driver's REST API, summed over the stage's Spark
stages), and the stage's hours on one core (1 worker, local lake), measured at the run's size
and projected to 1M landing documents (the batch ingested, not the stage's own input). The
projection is linear: it assumes the bytes and seconds per document stay those of this corpus
(same mix of sources, lengths, duplicate and rejection rates) and that no part grows faster
than the batch. Two things break it: fixed costs per run (Delta logs, the ledger, Spark job
start-up) inflate the projection from a small batch, and dedup compares with every document
kept before, so its index read grows with the lake, not with the batch.

    python -m benchmarks.scale --docs 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks.ingest import _recipe, corpus_dir
from benchmarks.measure import load_average, record, spread

TITLE = "Scale: 1 vs 2 Spark workers, local disk vs S3"
STAGES = ("clean", "dedup")
WORKERS = (1, 2)
LAKES = ("local", "s3")
FULL_DOCS = 2000
FULL_REPEATS = 3
QUICK_DOCS = 200
QUICK_REPEATS = 1
MILLION = 1_000_000
# Each worker runs one executor of one core; 1 GiB of heap is enough for the batch sizes here.
WORKER_MEMORY = "1536m"
EXECUTOR_SETTINGS = {"spark.executor.memory": "1g", "spark.executor.cores": "1"}


# --- one configuration, in its own process -------------------------------------------------


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def _wait_for_executors(api: str, count: int, timeout_s: float = 180) -> None:
    """Wait until `count` executors (besides the driver) have registered with the application."""
    deadline = time.monotonic() + timeout_s
    while True:
        executors = [e for e in _get_json(f"{api}/executors") if e["id"] != "driver"]
        if len(executors) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(executors)} of {count} Spark executors registered")
        time.sleep(0.5)


def _spark_stages(api: str) -> dict[str, dict[str, int]]:
    """Spark stage attempt → its shuffle bytes, once the driver's listener has caught up (no
    stage active and two readings alike)."""
    previous: dict[str, dict[str, int]] | None = None
    for _ in range(60):
        stages = _get_json(f"{api}/stages")
        current = {
            f"{stage['stageId']}.{stage['attemptId']}": {
                "shuffle_read_bytes": int(stage.get("shuffleReadBytes", 0)),
                "shuffle_write_bytes": int(stage.get("shuffleWriteBytes", 0)),
            }
            for stage in stages
            if stage["status"] in ("COMPLETE", "FAILED", "SKIPPED")
        }
        active = any(stage["status"] == "ACTIVE" for stage in stages)
        if not active and current == previous:
            return current
        previous = current
        time.sleep(0.5)
    return previous or {}


def _table_files(catalog: Any) -> dict[str, dict[str, int]]:
    """Every written table's current files: table key → {path: size in bytes}."""
    from deltalake import DeltaTable

    files = {}
    for spec in catalog.existing_tables():
        table = DeltaTable(catalog.uri(spec), storage_options=catalog.storage_options or None)
        actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
        files[spec.key] = dict(zip(actions["path"], actions["size_bytes"], strict=True))
    return files


def _snapshot_bytes(catalog: Any, key: str, version: int) -> int:
    """Bytes of the Parquet files of one table version."""
    from deltalake import DeltaTable

    table = DeltaTable(
        catalog.uri(key), version=version, storage_options=catalog.storage_options or None
    )
    return sum(pa.table(table.get_add_actions(flatten=True)).to_pydict()["size_bytes"])


def _kept(catalog: Any, spec: Any) -> dict[str, Any]:
    """How many documents a table holds and a hash of their sorted ids (to compare runs)."""
    ids = sorted(catalog.read(spec, columns=["doc_id"])["doc_id"].to_pylist())
    return {"rows": len(ids), "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}


def run_configuration(master: str, root: str, landing: Path, executors: int) -> dict[str, Any]:
    """Ingest (untimed), start Spark on `master` (untimed), then time clean and dedup on the
    lake at `root`; the stages' speed, bytes moved and kept documents."""
    import dagster as dg

    from assets.clean import CLEAN, clean
    from assets.dedup import DEDUP, dedup
    from assets.ingest import ingest
    from assets.partitions import BATCH_PARTITIONS_NAME
    from assets.resources import LakehouseResource, SparkResource
    from benchmarks.servers import free_port
    from dagster_project.batching import register_landing
    from lakehouse.ledger import ledger_entries
    from lakehouse.tables import SILVER_DOCUMENTS, SILVER_UNIQUE_DOCUMENTS

    with tempfile.TemporaryDirectory(prefix="funnel-scale-") as work:
        lakehouse = LakehouseResource(
            root=root, recipe_path=str(_recipe(Path(work), landing.resolve()))
        )
        ui_port = free_port()
        # The driver's UI is on for its REST API: that is where the shuffle bytes come from.
        settings = EXECUTOR_SETTINGS | {"spark.ui.enabled": "true", "spark.ui.port": str(ui_port)}
        spark = SparkResource(master=master, settings=settings)
        resources = {"lakehouse": lakehouse, "spark": spark}
        catalog = lakehouse.catalog()
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = register_landing(instance, lakehouse, writer="bench")
            instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch])
            dg.materialize([ingest], instance=instance, partition_key=batch, resources=resources)
            session = spark.session()
            api = (
                f"http://127.0.0.1:{ui_port}/api/v1/applications/"
                f"{session.sparkContext.applicationId}"
            )
            _wait_for_executors(api, executors)
            stages: dict[str, Any] = {}
            for asset, stage in ((clean, CLEAN), (dedup, DEDUP)):
                files_before, spark_before = _table_files(catalog), _spark_stages(api)
                started = time.perf_counter()
                dg.materialize([asset], instance=instance, partition_key=batch, resources=resources)
                seconds = time.perf_counter() - started
                files_after, spark_after = _table_files(catalog), _spark_stages(api)
                (entry,) = ledger_entries(catalog, stage=stage.name)
                commit = catalog.history(stage.output, limit=1)[0]
                new_spark = [spark_after[key] for key in spark_after.keys() - spark_before.keys()]
                stages[stage.name] = {
                    "seconds": round(seconds, 3),
                    "docs": entry.rows_in,
                    "kept": entry.rows_out,
                    "read_bytes": sum(
                        _snapshot_bytes(catalog, key, version)
                        for key, version in commit.input_versions.items()
                    ),
                    "written_bytes": sum(
                        size
                        for key, files in files_after.items()
                        for path, size in files.items()
                        if path not in files_before.get(key, {})
                    ),
                    "shuffle_read_bytes": sum(s["shuffle_read_bytes"] for s in new_spark),
                    "shuffle_write_bytes": sum(s["shuffle_write_bytes"] for s in new_spark),
                }
        stages["clean"]["kept_ids"] = _kept(catalog, SILVER_DOCUMENTS)
        stages["dedup"]["kept_ids"] = _kept(catalog, SILVER_UNIQUE_DOCUMENTS)
        return stages


# --- the comparison --------------------------------------------------------------------------


def _run_in_fresh_process(
    master: str, root: str, landing: Path, executors: int, env: dict[str, str]
) -> dict[str, Any]:
    """One configuration in a fresh interpreter; its last stdout line is the JSON result."""
    arguments = ["--engine", master, "--root", root, "--landing", str(landing)]
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", *arguments, "--executors", str(executors)],
        capture_output=True,
        text=True,
        env=os.environ | env,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"scale run on {master} with the lake at {root} failed:\n{completed.stderr[-4000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def benchmark(docs: int, repeats: int) -> list[dict[str, Any]]:
    """Every configuration `repeats` times on one generated corpus of `docs` documents, the
    configurations alternating; every run's figures."""
    from benchmarks.servers import object_store, standalone_cluster

    landing = corpus_dir(docs).resolve()
    runs = []
    with tempfile.TemporaryDirectory(prefix="funnel-scale-") as folder:
        work = Path(folder)
        with (
            object_store(work / "s3") as store,
            standalone_cluster(work / "one", workers=1, cores=1, memory=WORKER_MEMORY) as one,
            standalone_cluster(work / "two", workers=2, cores=1, memory=WORKER_MEMORY) as two,
        ):
            masters = {1: one, 2: two}
            for repeat in range(repeats):
                for workers in WORKERS:
                    for lake in LAKES:
                        name = f"r{repeat}-w{workers}"
                        # Leases and run history stay local, as the lake on S3 requires.
                        env = {"DAGSTER_HOME": str(work / "dagster" / f"{name}-{lake}")}
                        if lake == "s3":
                            root, env = f"s3://{store.bucket}/{name}", env | store.environment()
                        else:
                            root = str(work / "lakes" / name)
                        started = time.perf_counter()
                        stages = _run_in_fresh_process(
                            masters[workers], root, landing, workers, env
                        )
                        print(
                            f"repeat {repeat + 1}/{repeats}, {workers} worker(s), {lake}: "
                            + ", ".join(
                                f"{stage} {figures['docs'] / figures['seconds']:.0f} docs/s"
                                for stage, figures in stages.items()
                            )
                            + f" ({time.perf_counter() - started:.0f} s with set-up)",
                            flush=True,
                        )
                        runs.append({"repeat": repeat, "workers": workers, "lake": lake, **stages})
                        # Each run gets an empty lake; the S3 server keeps objects in memory.
                        if lake == "s3":
                            store.delete(f"{name}/")
                        else:
                            shutil.rmtree(root, ignore_errors=True)
    return runs


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def summarize(runs: list[dict[str, Any]], docs: int) -> dict[str, Any]:
    """The figures the docs quote: docs/s per configuration and stage (median and spread),
    the 2 ÷ 1 worker and S3 ÷ local ratios of the medians, whether every run kept the same
    documents, and the bytes each stage moved, measured and projected linearly to 1M docs."""
    if not runs:
        raise ValueError("no scale runs to summarize: run at least one configuration")
    configurations: dict[str, dict[str, Any]] = {}
    for workers in WORKERS:
        for lake in LAKES:
            chosen = [run for run in runs if run["workers"] == workers and run["lake"] == lake]
            if not chosen:
                continue
            configurations[f"{workers}w-{lake}"] = {
                "workers": workers,
                "lake": lake,
                **{
                    stage: spread([run[stage]["docs"] / run[stage]["seconds"] for run in chosen], 1)
                    for stage in STAGES
                },
            }

    def docs_per_s(workers: int, lake: str, stage: str) -> float | None:
        configuration = configurations.get(f"{workers}w-{lake}")
        return configuration[stage]["median"] if configuration else None

    ratios: dict[str, Any] = {"workers_2_over_1": {}, "s3_over_local": {}}
    for stage in STAGES:
        for lake in LAKES:
            one, two = docs_per_s(1, lake, stage), docs_per_s(2, lake, stage)
            if one and two:
                ratios["workers_2_over_1"][f"{stage}-{lake}"] = _ratio(two, one)
        for workers in WORKERS:
            local, s3 = docs_per_s(workers, "local", stage), docs_per_s(workers, "s3", stage)
            if local and s3:
                ratios["s3_over_local"][f"{stage}-{workers}w"] = _ratio(s3, local)

    agreement = {
        stage: len({run[stage]["kept_ids"]["sha256"] for run in runs}) == 1 for stage in STAGES
    }
    # Projected per landing document (the batch's size), not per stage input: dedup reads the
    # bronze batch as well as what clean kept, and a user sizes a cluster by the batch.
    sizing: dict[str, Any] = {}
    for stage in STAGES:
        measured: dict[str, Any] = {
            "input_docs": spread([run[stage]["docs"] for run in runs], 0)["median"]
        }
        for figure in ("read_bytes", "written_bytes", "shuffle_read_bytes", "shuffle_write_bytes"):
            measured[figure] = spread([run[stage][figure] for run in runs], 0)["median"]
        per_million = {
            figure: round(value * MILLION / docs)
            for figure, value in measured.items()
            if figure != "input_docs"
        }
        one_core = [
            run[stage]["seconds"] for run in runs if run["workers"] == 1 and run["lake"] == "local"
        ]
        if one_core:
            per_million["one_core_hours"] = round(
                spread(one_core)["median"] * MILLION / docs / 3600, 2
            )
        sizing[stage] = {"measured": measured, "per_million_docs": per_million}
    return {
        "docs": docs,
        "repeats": max((run["repeat"] for run in runs), default=-1) + 1,
        "configurations": configurations,
        "ratios": ratios,
        "agreement": agreement,
        "kept": {stage: runs[0][stage]["kept_ids"]["rows"] for stage in STAGES} if runs else {},
        "sizing": sizing,
    }


def _megabytes(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def _gigabytes(value: float) -> str:
    return f"{value / 1e9:,.2f}"


def _cell(figures: dict[str, Any]) -> str:
    return (
        f"{figures['median']:,.1f} ({figures['min']:,.1f}–{figures['max']:,.1f}, n={figures['n']})"
    )


def render(result: dict[str, Any]) -> str:
    """Markdown tables: docs/s per configuration, the ratios beside their inputs, agreement,
    and the sizing projection."""
    summary = result["summary"]
    configurations = summary["configurations"]
    lines = [
        f"{summary['docs']:,} documents, {summary['repeats']} repeat(s); documents/s: median "
        "(min–max, n).",
        "",
        "| workers | lake | clean docs/s | dedup docs/s |",
        "|---|---|---|---|",
    ]
    for configuration in configurations.values():
        lines.append(
            f"| {configuration['workers']} | {configuration['lake']} | "
            f"{_cell(configuration['clean'])} | {_cell(configuration['dedup'])} |"
        )
    lines += ["", "| stage | lake | 1 worker | 2 workers | 2 ÷ 1 |", "|---|---|---|---|---|"]
    for key, ratio in summary["ratios"]["workers_2_over_1"].items():
        stage, lake = key.split("-")
        one = configurations[f"1w-{lake}"][stage]["median"]
        two = configurations[f"2w-{lake}"][stage]["median"]
        lines.append(f"| {stage} | {lake} | {one:,.1f} | {two:,.1f} | {ratio} |")
    lines += ["", "| stage | workers | local | S3 | S3 ÷ local |", "|---|---|---|---|---|"]
    for key, ratio in summary["ratios"]["s3_over_local"].items():
        stage, workers = key.split("-")
        local = configurations[f"{workers}-local"][stage]["median"]
        s3 = configurations[f"{workers}-s3"][stage]["median"]
        lines.append(f"| {stage} | {workers[:-1]} | {local:,.1f} | {s3:,.1f} | {ratio} |")
    agreement = summary["agreement"]
    kept = summary["kept"]
    lines += [
        "",
        "Same kept documents in every run: "
        + ", ".join(
            f"{stage} {'yes' if agreement[stage] else 'NO'} ({kept.get(stage, '?'):,} kept)"
            for stage in STAGES
        )
        + ".",
        "",
        f"Sizing: measured on the {summary['docs']:,}-document batch, projected linearly to 1M "
        "landing documents (GB = 10⁹ bytes).",
        "",
        "| stage | stage input docs | read MB | written MB | shuffle read MB | shuffle write MB "
        "| per 1M docs: read GB | written GB | shuffle read GB | shuffle write GB "
        "| hours on one core |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for stage, sizing in summary["sizing"].items():
        measured, projected = sizing["measured"], sizing["per_million_docs"]
        figures = ("read_bytes", "written_bytes", "shuffle_read_bytes", "shuffle_write_bytes")
        lines.append(
            f"| {stage} | {measured['input_docs']:,.0f} | "
            + " | ".join(_megabytes(measured[figure]) for figure in figures)
            + " | "
            + " | ".join(_gigabytes(projected[figure]) for figure in figures)
            + f" | {projected.get('one_core_hours', '–')} |"
        )
    return "\n".join(lines)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> None:
    """Command line: the whole comparison, or one configuration (internal)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, help=f"corpus size (full: {FULL_DOCS})")
    parser.add_argument(
        "--repeats", type=int, help=f"runs per configuration (full: {FULL_REPEATS})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_DOCS} documents, {QUICK_REPEATS} repeat"
    )
    parser.add_argument("--engine", metavar="MASTER", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--executors", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # A terminated benchmark still stops its servers: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupted)
    if args.engine:
        print(json.dumps(run_configuration(args.engine, args.root, args.landing, args.executors)))
        return
    docs = args.docs or (QUICK_DOCS if args.quick else FULL_DOCS)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    load_before = load_average()
    runs = benchmark(docs, repeats)
    summary = summarize(runs, docs)
    command = "python -m benchmarks.scale" + (" --quick" if args.quick else "")
    if args.docs or args.repeats:
        command += f" --docs {docs} --repeats {repeats}"
    path = record("scale", command, summary, runs, quick=args.quick, load_before=load_before)
    print(render({"summary": summary}))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
