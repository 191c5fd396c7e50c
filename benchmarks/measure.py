"""Running one benchmark engine in a fresh process, summarizing repeated runs, and recording
results with where they came from.

Every benchmark writes one results file, `benchmarks/results/<profile>/<name>.json`, through
`record`: the commit and whether the working tree differed from it, the date, the machine, the
load average around the run, the exact command, the project files its processes loaded (what
`benchmarks.report --check` compares with the code as it is now), each run's figures and the
summary (median and spread of repeated runs). `docs/benchmarks.md` is generated from these
files (`python -m benchmarks.report`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "benchmarks" / "results"
# Reduced sizes that `make bench-quick` runs; everything else is the full profile.
QUICK = "quick"
FULL = "full"
PROFILES = (FULL, QUICK)
# The product's packages, whose code a benchmark measures.
PRODUCT_PACKAGES = (
    "assets",
    "checks",
    "dagster_project",
    "gpu_jobs",
    "lakehouse",
    "serving",
    "spark_jobs",
)
# Paths whose change makes a result stale: the product's code, its default recipe and its
# pinned dependencies.
PRODUCT_PATHS = (*PRODUCT_PACKAGES, "recipes", "pyproject.toml")
# Where a benchmark's processes leave the list of project files each one loaded (set by the
# benchmark's first process, inherited by every process it starts).
IMPORTS_ENV = "FUNNEL_BENCH_IMPORTS"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(module: str, args: list[str]) -> dict[str, Any]:
    """Run `python -m module args…` in a fresh process; its last stdout line is a JSON result."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


class TreeMemory:
    """Peak resident memory of a process and all its descendants (JVM, workers), MiB.

    Samples every `interval` seconds in a thread while the `with` block runs; `pid` defaults
    to this process.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                members = [root, *root.children(recursive=True)]
            except psutil.Error:  # the watched process ended
                return
            total = 0
            for member in members:
                try:
                    total += member.memory_info().rss
                except psutil.Error:  # a worker that ended between listing and reading
                    continue
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(module: str, args: list[str]) -> dict[str, Any]:
    """Like `run_engine`, plus `wall_seconds` (the whole process, start-up included) and
    `peak_rss_mb` (largest resident memory of its process tree, sampled every 0.1 s)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemory(child.pid) as memory:
        stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{stderr[-4000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mb"] = round(memory.peak, 1)
    return result


def median(results: list[dict[str, Any]], key: str) -> float:
    """Median of one measured quantity over repeated runs."""
    return statistics.median(result[key] for result in results)


def spread(values: list[float], digits: int = 3) -> dict[str, Any]:
    """Median, minimum, maximum and count of repeated measurements of one quantity."""
    if not values:
        raise ValueError("spread of no measurements")
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def number(value: float) -> str:
    """A figure with thousands separators, without a trailing `.0`."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def spread_cell(figure: dict[str, Any]) -> str:
    """A `spread` as `median (min–max)`, or the single value of one run."""
    if figure["n"] == 1:
        return number(figure["median"])
    return f"{number(figure['median'])} ({number(figure['min'])}–{number(figure['max'])})"


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    memory = psutil.virtual_memory().total / 2**30
    cores = psutil.cpu_count(logical=True)
    return f"{cores} cores ({cpu}), {memory:.0f} GiB, Python {sys.version.split()[0]}"


def _git(*args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(PROJECT), *args], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() if completed.returncode == 0 else ""


def source_state() -> dict[str, Any]:
    """The commit the code comes from and whether product or benchmark code differed from it."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    changed = _git(
        "status", "--porcelain", "--", *PRODUCT_PATHS, "benchmarks", ":!benchmarks/results"
    )
    return {"commit": commit, "dirty": bool(changed)}


def loaded_files() -> set[str]:
    """Project files (product packages and benchmarks) this process has imported, as paths
    relative to the project."""
    roots = (*PRODUCT_PACKAGES, "benchmarks")
    files = set()
    for module in list(sys.modules.values()):
        location = getattr(module, "__file__", None)
        if not location:
            continue
        try:
            relative = Path(location).resolve().relative_to(PROJECT)
        except ValueError:  # a library outside the project
            continue
        if relative.parts[0] in roots:
            files.add(relative.as_posix())
    return files


def _leave_loaded_files(folder: Path) -> None:
    with contextlib.suppress(OSError):  # the folder's owner has already finished
        (folder / f"{os.getpid()}.json").write_text(json.dumps(sorted(loaded_files())))


def _track_loaded_files() -> None:
    """Make every process of a running benchmark leave its loaded files for `record`.

    The benchmark's own process (`python -m benchmarks.NAME`) creates the folder and removes
    it when it exits; the processes it starts (engines in fresh processes, process pools)
    inherit the folder through the environment and write their list when they exit, before
    their parent records. Tests and the runner (`python -m benchmarks`) track nothing.
    """
    folder = os.environ.get(IMPORTS_ENV)
    if folder is None:
        main = getattr(sys.modules.get("__main__"), "__spec__", None)
        name = getattr(main, "name", "")
        if not name.startswith("benchmarks.") or name == "benchmarks.__main__":
            return
        folder = tempfile.mkdtemp(prefix="funnel-bench-imports-")
        os.environ[IMPORTS_ENV] = folder
        atexit.register(shutil.rmtree, folder, True)
    atexit.register(_leave_loaded_files, Path(folder))


def benchmark_files() -> list[str]:
    """Project files loaded by this benchmark's processes so far: this one's and those its
    finished children left."""
    files = loaded_files()
    folder = os.environ.get(IMPORTS_ENV)
    for path in Path(folder).glob("*.json") if folder else ():
        with contextlib.suppress(OSError, ValueError):
            files.update(json.loads(path.read_text()))
    return sorted(files)


def load_average() -> float:
    """The machine's one-minute load average (how busy the shared machine was)."""
    return round(os.getloadavg()[0], 2)


def results_path(name: str, profile: str = FULL, root: Path = RESULTS) -> Path:
    """Where the results of benchmark `name` under `profile` are kept."""
    if profile not in PROFILES:
        raise ValueError(f"unknown benchmark profile {profile!r}; use one of {PROFILES}")
    return root / profile / f"{name}.json"


def record(
    name: str,
    command: str,
    summary: dict[str, Any],
    runs: list[dict[str, Any]] | dict[str, Any],
    *,
    quick: bool = False,
    load_before: float | None = None,
    root: Path = RESULTS,
    failed: str | None = None,
) -> Path:
    """Save a benchmark's results with their provenance; returns the file written.

    `summary` holds the figures the docs quote (medians, spreads, ratios); `runs` every
    individual run's figures, so a reader can recompute them.
    """
    path = results_path(name, QUICK if quick else FULL, root)
    result = {
        "benchmark": name,
        "profile": QUICK if quick else FULL,
        **source_state(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "cpu_count": psutil.cpu_count(logical=True),
        "load_average": {"before": load_before, "after": load_average()},
        "command": command,
        # What `benchmarks.report --check` compares: a change to any of these files (or to
        # the product's data, recipes or pins) makes the figures stale.
        "loaded_files": benchmark_files(),
        "summary": summary,
        "runs": runs,
    }
    if failed is not None:
        result["failed"] = failed
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a run killed while saving leaves the previous file whole.
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    partial.replace(path)
    return path


def record_failure(
    name: str,
    command: str,
    error: str,
    *,
    quick: bool = False,
    load_before: float | None = None,
    root: Path = RESULTS,
) -> Path:
    """Save that a benchmark failed, replacing its earlier figures: the report shows the error."""
    return record(
        name, command, {}, [], quick=quick, load_before=load_before, root=root, failed=error
    )


# Every process of a running benchmark imports this module: register it at import.
_track_loaded_files()
