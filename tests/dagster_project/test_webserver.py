import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dagster_project.cli import main
from lakehouse.storage import PROJECT_DIR

STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def webserver(
    root: Path, recipe_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A real Dagster webserver on a free loopback port, over a lakehouse with one run in it."""
    home = tmp_path / "dagster_home"
    env = os.environ | {
        "FUNNEL_ROOT": str(root),
        "FUNNEL_RECIPE": str(recipe_path),
        "DAGSTER_HOME": str(home),
    }
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, (tmp_path / "webserver.log").read_text()
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "webserver did not start in time"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _graphql(url: str, query: str) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_webserver_serves_assets_checks_schedule_sensor_and_last_run(webserver: str) -> None:
    data = _graphql(webserver, "{ assetNodes { assetKey { path } groupName kinds } }")
    nodes = {tuple(node["assetKey"]["path"]): node for node in data["assetNodes"]}
    assert ("bronze", "documents") in nodes and ("bronze", "quarantine") in nodes
    assert nodes[("bronze", "documents")]["groupName"] == "bronze"
    assert "delta" in nodes[("bronze", "documents")]["kinds"]

    data = _graphql(
        webserver,
        """{ repositoriesOrError { ... on RepositoryConnection { nodes {
              schedules { name } sensors { name } } } } }""",
    )
    (repository,) = data["repositoriesOrError"]["nodes"]
    assert [s["name"] for s in repository["schedules"]] == ["daily_funnel"]
    assert sorted(s["name"] for s in repository["sensors"]) == [
        "funnel_automation",
        "landing_sensor",
        "release_sensor",
    ]

    data = _graphql(
        webserver,
        """{ assetOrError(assetKey: {path: ["bronze", "documents"]}) { ... on Asset {
              assetMaterializations(limit: 1) { partition metadataEntries { label } } } } }""",
    )
    (materialization,) = data["assetOrError"]["assetMaterializations"]
    labels = {entry["label"] for entry in materialization["metadataEntries"]}
    assert {"delta_version", "dagster/row_count", "table_uri"} <= labels
    assert materialization["partition"].startswith("b")
