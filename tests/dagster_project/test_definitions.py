import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY
from lakehouse.storage import PROJECT_DIR


@pytest.mark.usefixtures("instance")
def test_definitions_load_with_everything_the_ui_shows() -> None:
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    assert {BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY} <= set(graph.get_all_asset_keys())
    for key in (BRONZE_DOCUMENTS_KEY, BRONZE_QUARANTINE_KEY):
        node = graph.get(key)
        assert node.group_name == "bronze"
        assert node.description
        assert {"delta", "pyarrow"} <= set(node.kinds)
        assert node.owners == ["team:data-engineering"]
        assert node.partitions_def is not None
    check_keys = {key.name for key in graph.asset_check_keys}
    assert "conservation" in check_keys
    assert defs.resolve_job_def("funnel") is not None
    assert defs.resolve_sensor_def("landing_sensor").default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
    assert defs.resolve_schedule_def("daily_funnel").cron_schedule == "0 2 * * *"


def test_dagster_validates_the_workspace() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def asset_graph_summary(defs: dg.Definitions) -> dict[str, object]:
    """What the UI's asset graph shows, without what changes every commit (code versions)."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "kinds": sorted(node.kinds),
            "partitioned": node.partitions_def is not None,
            "materializable": node.is_materializable,
            "checks": sorted(check.name for check in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(
            job.name for job in defs.resolve_all_job_defs() if job.name != "__ASSET_JOB"
        ),
        "sensors": sorted(sensor.name for sensor in defs.sensors or []),
        "schedules": sorted(schedule.name for schedule in defs.schedules or []),
    }


@pytest.mark.usefixtures("instance")
def test_the_asset_graph_matches_its_checked_in_snapshot() -> None:
    """A change to the graph (a stage, a dependency, a check) shows up here as a reviewed diff.

    After an intended change, rewrite the snapshot and review its diff:
    FUNNEL_UPDATE_SNAPSHOT=1 pytest tests/dagster_project/test_definitions.py
    """
    from dagster_project.definitions import defs

    summary = asset_graph_summary(defs)
    if os.environ.get("FUNNEL_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(summary, indent=2) + "\n")
    assert summary == json.loads(SNAPSHOT.read_text())
