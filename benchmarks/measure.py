"""Running one benchmark engine in a fresh process and summarizing repeated runs."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil


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


def median(results: list[dict[str, Any]], key: str) -> float:
    """Median of one measured quantity over repeated runs."""
    return statistics.median(result[key] for result in results)


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    memory = psutil.virtual_memory().total / 2**30
    cores = psutil.cpu_count(logical=True)
    return f"{cores} cores ({cpu}), {memory:.0f} GiB, Python {sys.version.split()[0]}"


def write_result(name: str, result: dict[str, Any], folder: Path) -> Path:
    """Save a benchmark's summary as JSON under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
