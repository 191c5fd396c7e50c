"""`funnel lineage` on a lake with two batches: the JSON graph is right, and the HTML page is
readable in a real browser at 1,600 px wide."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from dagster_project.cli import main
from tests.dagster_project.conftest import SampleLake

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1600


def _lineage(lake: SampleLake, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--root", str(lake.root), "lineage", *args]) == 0
    return capsys.readouterr().out


def _reaches(graph: dict[str, Any], start: str, goal: str) -> bool:
    parents: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        parents.setdefault(edge["to"], []).append(edge["from"])
    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        for parent in parents.get(node, []):
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return goal in seen


def test_the_graph_has_one_job_per_stage_per_run_and_reaches_every_landing_file(
    two_batch_lake: SampleLake, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = json.loads(_lineage(two_batch_lake, capsys, "gold/release_candidate", "--json"))
    jobs = [node for node in graph["nodes"] if node["kind"] == "job"]
    per_run = Counter((job["attributes"]["run_id"], job["attributes"]["stage"]) for job in jobs)
    assert per_run and set(per_run.values()) == {1}
    stages = {job["attributes"]["stage"] for job in jobs}
    assert {"ingest", "clean", "dedup", "decontaminate", "score", "curate"} <= stages
    assert (
        len({job["attributes"]["run_id"] for job in jobs if job["attributes"]["stage"] == "ingest"})
        >= 2
    )
    files = [node["id"] for node in graph["nodes"] if node["kind"] == "file"]
    assert {file.rsplit("/", 1)[-1] for file in files} == {"part-0.jsonl.gz", "part-1.jsonl.gz"}
    assert all(_reaches(graph, graph["target"], file) for file in files)
    ids = {node["id"] for node in graph["nodes"]}
    assert all(edge["from"] in ids and edge["to"] in ids for edge in graph["edges"])
    every_table = json.loads(_lineage(two_batch_lake, capsys, "ops/ledger", "--json"))
    assert len(every_table["nodes"]) > len(graph["nodes"]) / 2


def test_the_page_is_readable_at_1600_px_in_a_real_browser(
    two_batch_lake: SampleLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert CHROMIUM.exists(), "make installs Debian's chromium for the browser tests"
    graph = json.loads(_lineage(two_batch_lake, capsys, "gold/release_candidate", "--json"))
    page_file = tmp_path / "lineage.html"
    page_file.write_text(
        _lineage(two_batch_lake, capsys, "gold/release_candidate", "--format", "html")
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(page_file.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
            jobs = [node for node in graph["nodes"] if node["kind"] == "job"]
            for job in jobs:
                box = page.locator(f'g.node[data-id="{job["id"]}"]')
                assert box.is_visible(), job["id"]
                bounds = box.bounding_box()
                assert (
                    bounds is not None
                    and bounds["x"] >= 0
                    and bounds["x"] + bounds["width"] <= WIDTH
                )
                link = page.locator(f'a:has(g.node[data-id="{job["id"]}"])')
                assert link.get_attribute("href").endswith(f"/runs/{job['attributes']['run_id']}")
            dataset = next(node for node in graph["nodes"] if node["id"] == graph["target"])
            commit = page.locator(f'a:has(g.node[data-id="{dataset["id"]}"])')
            assert commit.get_attribute("href").endswith(
                "/_delta_log/" + f"{dataset['attributes']['version']:020d}.json"
            )
            shot = tmp_path / "lineage.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == WIDTH
