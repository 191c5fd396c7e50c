"""Process-tree memory sampling and measured engine runs (benchmarks.measure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.measure import IMPORTS_ENV, PROJECT, TreeMemory, run_measured


def test_tree_memory_sees_this_process() -> None:
    with TreeMemory(interval=0.01) as memory:
        held = bytearray(64 * 2**20)  # 64 MiB resident while sampled
        held[::4096] = b"x" * len(held[::4096])
        time.sleep(0.1)
    assert memory.peak >= 64
    del held


def test_a_failing_engine_names_its_module_and_error() -> None:
    with pytest.raises(RuntimeError, match=r"benchmarks\.no_such_engine --x failed") as error:
        run_measured("benchmarks.no_such_engine", ["--x"])
    assert "No module named benchmarks.no_such_engine" in str(error.value)


def _python(code: str, folder: Path | None = None) -> str:
    """Run `code` in a fresh interpreter (given `folder` to leave loaded files in); stdout."""
    environment = {key: value for key, value in os.environ.items() if key != IMPORTS_ENV}
    environment["PYTHONPATH"] = str(PROJECT)
    if folder is not None:
        environment[IMPORTS_ENV] = str(folder)
    command = [sys.executable, "-c", code]
    return subprocess.run(
        command, cwd=PROJECT, env=environment, capture_output=True, text=True, check=True
    ).stdout


def test_a_started_process_leaves_the_project_files_it_loaded(tmp_path: Path) -> None:
    _python("import benchmarks.measure, lakehouse.landing", tmp_path)
    (left,) = tmp_path.glob("*.json")
    files = json.loads(left.read_text())
    assert "lakehouse/landing.py" in files and "benchmarks/measure.py" in files
    assert "spark_jobs/clean.py" not in files  # never imported
    assert not any(file.startswith(("/", "..")) or "site-packages" in file for file in files)


def test_a_benchmark_records_what_its_children_loaded_and_cleans_up() -> None:
    # A process run as a benchmark module (`python -m benchmarks.NAME`) owns the folder; its
    # child imports lakehouse.landing, which the benchmark itself never does.
    code = (
        "import importlib.machinery, json, os, subprocess, sys\n"
        "sys.modules['__main__'].__spec__ = importlib.machinery.ModuleSpec('benchmarks.x', None)\n"
        "from benchmarks import measure\n"
        "subprocess.run([sys.executable, '-c', 'import benchmarks.measure, lakehouse.landing'],"
        " check=True)\n"
        "assert 'lakehouse.landing' not in sys.modules\n"
        "print(json.dumps([os.environ[measure.IMPORTS_ENV], measure.benchmark_files()]))\n"
    )
    folder, files = json.loads(_python(code).splitlines()[-1])
    assert "lakehouse/landing.py" in files and "benchmarks/measure.py" in files
    assert not Path(folder).exists()


@pytest.mark.parametrize("main", [None, "benchmarks.__main__"])
def test_processes_that_are_not_a_benchmark_track_nothing(main: str | None) -> None:
    # Tests (no module spec) and the runner, which starts each benchmark in its own process.
    spec = f"importlib.machinery.ModuleSpec({main!r}, None)" if main else "None"
    code = (
        "import importlib.machinery, os, sys\n"
        f"sys.modules['__main__'].__spec__ = {spec}\n"
        "import benchmarks.measure as m\n"
        "print(m.IMPORTS_ENV in os.environ)\n"
    )
    assert _python(code).strip() == "False"
