import subprocess
import sys

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
