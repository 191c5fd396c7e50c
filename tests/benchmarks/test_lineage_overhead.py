import gzip
import json
from pathlib import Path

import pytest
import yaml

from benchmarks.lineage_overhead import bench_recipe, render, subset_landing, summarize
from lakehouse.recipe import load_recipe


def _run(mode: str, seconds: float) -> dict:
    return {
        "mode": mode,
        "run_seconds": seconds,
        "process_seconds": seconds + 5,
        "landing_docs": 40,
        "stages": {"ingest": 44},
        "checks": 6 if mode == "on" else 1,
        "lineage_events": 8 if mode == "on" else 0,
    }


def test_subset_landing_takes_the_first_documents_of_each_source_deterministically(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    copied = subset_landing(first, 3)
    assert copied == subset_landing(second, 3)
    files = sorted(path.relative_to(first) for path in first.rglob("*.gz"))
    assert files == sorted(path.relative_to(second) for path in second.rglob("*.gz"))
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes()
    fortunes_de = first / "fortunes_de" / "part-00000.jsonl.gz"
    with gzip.open(fortunes_de, "rt", encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == 3
    assert (first / "web_pages" / "crawl-00000.warc.gz").exists()
    jsonl_sources = [path for path in files if str(path).endswith(".jsonl.gz")]
    assert copied == 3 * len(jsonl_sources)


def test_bench_recipe_loads_and_switches_checks(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    subset_landing(landing, 2)
    path = bench_recipe(tmp_path, landing, checks=False)
    recipe = load_recipe(path).recipe
    assert recipe.checks.enabled is False
    assert Path(yaml.safe_load(path.read_text())["landing"]) == landing


def test_summarize_ratios_are_on_over_off_medians() -> None:
    runs = [_run("off", 10), _run("on", 11), _run("off", 12), _run("on", 15), _run("off", 20)]
    runs.append(_run("on", 21))
    summary = summarize(runs, 3)
    assert summary["off"]["run_seconds"]["median"] == 12
    assert summary["on"]["run_seconds"]["median"] == 15
    assert summary["ratio_run"] == 1.25
    assert summary["pairwise_ratio_run"] == [1.1, 1.25, 1.05]
    assert summary["within_target"] is False
    table = render({"summary": summary})
    assert "| on | 15.00 | 11.00–21.00, 3 |" in table
    assert "**not met**" in table


def test_summarize_needs_runs_of_both_modes() -> None:
    with pytest.raises(ValueError, match="spread of no measurements"):
        summarize([_run("off", 1)], 1)
