"""Process-tree memory sampling and measured engine runs (benchmarks.measure)."""

from __future__ import annotations

import time

import pytest

from benchmarks.measure import TreeMemory, run_measured


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
