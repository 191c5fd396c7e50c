"""Benchmark results files and the document generated from them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.measure import PROJECT, record, record_failure, results_path, spread
from benchmarks.report import (
    DOCUMENT,
    generic_table,
    is_stale,
    load,
    provenance,
    report,
    section,
    stale,
)


def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(PROJECT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_record_keeps_provenance_summary_and_runs(tmp_path: Path) -> None:
    path = record(
        "ingest",
        "python -m benchmarks.ingest --docs 10",
        {"ratio": 0.9},
        [{"seconds": 1.0}, {"seconds": 1.2}],
        quick=True,
        load_before=1.5,
        root=tmp_path,
    )
    assert path == tmp_path / "quick" / "ingest.json"
    assert [file.name for file in path.parent.iterdir()] == ["ingest.json"]
    result = json.loads(path.read_text())
    assert result["commit"] == _head()
    assert result["profile"] == "quick"
    assert result["command"] == "python -m benchmarks.ingest --docs 10"
    assert result["summary"] == {"ratio": 0.9}
    assert [run["seconds"] for run in result["runs"]] == [1.0, 1.2]
    assert result["load_average"]["before"] == 1.5
    assert result["cpu_count"] >= 1
    assert "cores" in result["machine"] and result["date"].startswith("20")


def test_spread_is_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    with pytest.raises(ValueError, match="no measurements"):
        spread([])


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown benchmark profile 'huge'"):
        results_path("ingest", "huge")


def test_section_says_when_a_benchmark_has_not_run(tmp_path: Path) -> None:
    text = section("planner", tmp_path)
    assert text.startswith("## ")
    assert "Not run yet: `python -m benchmarks planner`." in text


def test_full_results_are_preferred_and_their_origin_is_shown(tmp_path: Path) -> None:
    record(
        "planner", "python -m benchmarks.planner --quick", {"q": 1}, [], quick=True, root=tmp_path
    )
    record("planner", "python -m benchmarks.planner", {"q": 2}, [], root=tmp_path)
    assert load("planner", tmp_path)["summary"] == {"q": 2}
    text = provenance(load("planner", tmp_path))
    assert "`python -m benchmarks.planner` (full profile)" in text
    assert f"commit `{_head()[:10]}`" in text


def test_a_failed_run_replaces_the_figures_with_its_error(tmp_path: Path) -> None:
    record("planner", "python -m benchmarks.planner", {"exact_share": 0.97}, [], root=tmp_path)
    record_failure(
        "planner", "python -m benchmarks.planner", "Traceback\nKeyError: 'x'", root=tmp_path
    )
    text = section("planner", tmp_path)
    assert "**The last run failed**" in text and "KeyError: 'x'" in text
    assert "0.97" not in text


def test_generic_table_flattens_nested_figures() -> None:
    table = generic_table({"funnel": {"docs_per_s": 10.5}, "ratio": 1.2})
    assert "| funnel.docs_per_s | 10.5 |" in table
    assert "| ratio | 1.2 |" in table


def test_results_from_changed_code_are_stale(tmp_path: Path) -> None:
    first = subprocess.run(
        ["git", "-C", str(PROJECT), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    record("planner", "python -m benchmarks.planner", {}, [], root=tmp_path)
    old = results_path("ingest", "full", tmp_path)
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text(json.dumps({"commit": first, "dirty": False, "summary": {}}))
    names = stale(tmp_path)
    assert "ingest" in names
    # The planner's result was recorded from this checkout: stale only if the tree is dirty.
    assert ("planner" in names) == json.loads(
        results_path("planner", "full", tmp_path).read_text()
    )["dirty"]


def test_a_result_records_the_project_files_its_process_loaded(tmp_path: Path) -> None:
    path = record("planner", "python -m benchmarks.planner", {}, [], root=tmp_path)
    loaded = json.loads(path.read_text())["loaded_files"]
    assert "benchmarks/measure.py" in loaded and "benchmarks/report.py" in loaded
    assert all(not file.startswith("/") for file in loaded)


LOADED = {
    "commit": "c",
    "dirty": False,
    "loaded_files": ["lakehouse/landing.py", "benchmarks/measure.py"],
}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (set(), False),
        ({"gpu_jobs/encoder.py", "benchmarks/dedup.py"}, False),  # never loaded
        ({"lakehouse/landing.py"}, True),
        ({"benchmarks/measure.py"}, True),
        ({"benchmarks/ingest.py"}, True),  # the benchmark's own module
        ({"lakehouse/schemas/bronze.json"}, True),  # product data
        ({"recipes/default.yaml"}, True),
        ({"pyproject.toml"}, True),
        (None, True),  # the recorded commit is unknown here
    ],
)
def test_a_result_is_stale_when_a_file_it_depends_on_changed(
    changed: set[str] | None, expected: bool
) -> None:
    assert is_stale(LOADED, "benchmarks/ingest.py", changed) is expected


def test_a_dirty_result_is_always_stale() -> None:
    assert is_stale({**LOADED, "dirty": True}, "benchmarks/ingest.py", set())


def test_a_result_without_loaded_files_depends_on_the_whole_product() -> None:
    legacy = {"commit": "c", "dirty": False}
    assert is_stale(legacy, "benchmarks/ingest.py", {"gpu_jobs/encoder.py"})
    assert not is_stale(legacy, "benchmarks/ingest.py", {"benchmarks/dedup.py"})


def test_a_supplement_is_shown_and_checked_with_its_benchmark(tmp_path: Path) -> None:
    record(
        "clean_growth", "python -m benchmarks.clean --funnel-only", {"sizes": []}, [], root=tmp_path
    )
    text = section("clean", tmp_path)
    assert "Not run yet: `python -m benchmarks clean`." in text
    assert "### funnel alone as the corpus grows" in text
    assert "`python -m benchmarks.clean --funnel-only` (full profile)" in text
    old = results_path("clean_growth", "full", tmp_path)
    old.write_text(json.dumps({"commit": "0" * 40, "dirty": False, "summary": {"sizes": []}}))
    assert stale(tmp_path) == ["clean_growth"]


def test_the_benchmarks_page_is_generated_from_the_committed_results() -> None:
    assert DOCUMENT.read_text() == report(), (
        "docs/benchmarks.md differs from the results files: run python -m benchmarks.report"
    )
