"""The Dagster instance on PostgreSQL (FUNNEL_DAGSTER_PG): a real server started by the test, a
real daemon dequeuing a run submitted to the queued run coordinator, and the run, its events and
its asset materializations read back from PostgreSQL with psycopg2, not from SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import ingest
from assets.resources import LakehouseResource
from dagster_project.cli import main
from dagster_project.runs import pending_batches, prepare_instance
from lakehouse.ledger import ledger_entries
from lakehouse.storage import StorageConfigError
from tests.lake_outcomes import PROJECT, wait_for
from tests.landing_files import note_text, write_jsonl_gz, write_recipe
from tests.postgres_server import (  # noqa: F401 (the fixture)
    PASSWORD,
    PostgresServer,
    free_port,
    postgres_server,
)

WORKSPACE = str(PROJECT / "workspace.yaml")


def _funnel_run_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`funnel run` on a fresh lake: its exit code and what it printed to stderr."""
    landing = tmp_path / "landing"
    write_jsonl_gz(landing / "notes" / "part-0.jsonl.gz", [{"text": note_text(0)}])
    recipe = write_recipe(tmp_path, landing)
    capsys.readouterr()
    code = main(["--root", str(tmp_path / "lake"), "run", "--recipe", str(recipe)])
    return code, capsys.readouterr().err


def test_a_url_that_is_not_postgresql_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FUNNEL_DAGSTER_PG", "mysql://funnel:hunter2@db.internal/dagster")
    code, err = _funnel_run_error(tmp_path, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "FUNNEL_DAGSTER_PG=mysql://funnel:***@db.internal/dagster is not a PostgreSQL URL" in err
    assert "hunter2" not in err
    assert not (tmp_path / "home" / "dagster.yaml").exists()


def test_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nobody listens there: the connection is refused at once
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FUNNEL_DAGSTER_PG", f"postgresql://funnel:hunter2@127.0.0.1:{port}/dagster")
    code, err = _funnel_run_error(tmp_path, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot use PostgreSQL at 127.0.0.1:{port}/dagster" in err
    assert "start the server or fix the URL" in err
    assert "hunter2" not in err


def test_a_wrong_password_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    postgres_server: PostgresServer,  # noqa: F811
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FUNNEL_DAGSTER_PG", postgres_server.url.replace(PASSWORD, "wrong"))
    code, err = _funnel_run_error(tmp_path, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "password authentication failed" in err
    assert "wrong" not in err.split("(")[0]  # the URL shown has no password


def _daemon(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """`dagster-daemon run` on the project's workspace, in its own process group."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", WORKSPACE],
        cwd=PROJECT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run is not None else None


def test_the_daemon_runs_a_queued_materialization_recorded_in_postgresql(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_server: PostgresServer,  # noqa: F811
) -> None:
    """A run submitted to the queue (as the sensors and the UI submit them) is dequeued and
    launched by a separate daemon process; every record of it is in PostgreSQL."""
    landing = tmp_path / "landing"
    records = [{"id": f"n{i}", "text": note_text(i)} for i in range(12)]
    write_jsonl_gz(landing / "notes" / "part-0.jsonl.gz", records)
    recipe = write_recipe(tmp_path, landing)
    root, home = tmp_path / "lake", tmp_path / "home"
    env = {
        "DAGSTER_HOME": str(home),
        "FUNNEL_DAGSTER_PG": postgres_server.url,
        "FUNNEL_ROOT": str(root),
        "FUNNEL_RECIPE": str(recipe),
        "FUNNEL_LINEAGE": "off",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lakehouse = LakehouseResource(root=str(root), recipe_path=str(recipe))
    with prepare_instance(str(root)) as instance:
        settings = (home / "dagster.yaml").read_text()
        assert "env: FUNNEL_DAGSTER_PG" in settings and PASSWORD not in settings
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config()
        assert queue.run_queue_config.max_concurrent_runs == 1
        assert queue.pool_config.default_pool_limit == 1
        # Registered before the daemon starts, so its landing sensor finds nothing new and the
        # only run is the one submitted below.
        (batch,) = pending_batches(instance, lakehouse)

        daemon = _daemon(os.environ | env, tmp_path / "daemon.log")
        try:
            run_id = "0f6a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b"
            command = ["job", "launch", "-w", WORKSPACE, "-j", "funnel", "-o", ingest.op.name]
            command += ["--run-id", run_id, "--tags", json.dumps({"dagster/partition": batch})]
            launch = subprocess.run(
                [str(Path(sys.executable).with_name("dagster")), *command],
                cwd=PROJECT,
                env=os.environ | env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert launch.returncode == 0, launch.stderr[-3000:]
            finished = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
            wait_for(lambda: _status(instance, run_id) in finished, 600, "the queued run", poll=2)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(60)
        log = (tmp_path / "daemon.log").read_text()
        assert _status(instance, run_id) == dg.DagsterRunStatus.SUCCESS, log[-3000:]

    ((status, job),) = postgres_server.query(
        "SELECT status, pipeline_name FROM runs WHERE run_id = %s", run_id
    )
    assert (status, job) == ("SUCCESS", "funnel")
    events = [
        dg.DagsterEventType(kind)
        for (kind,) in postgres_server.query(
            "SELECT dagster_event_type FROM event_logs WHERE run_id = %s"
            " AND dagster_event_type IS NOT NULL ORDER BY id",
            run_id,
        )
    ]
    # Queued by `dagster job launch`, dequeued and launched by the daemon (RUN_STARTING), run by
    # its worker.
    order = [dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_STARTING]
    order += [dg.DagsterEventType.RUN_START, dg.DagsterEventType.RUN_SUCCESS]
    assert [kind for kind in events if kind in order] == order
    materialized = {
        key
        for (key,) in postgres_server.query(
            "SELECT asset_key FROM event_logs WHERE run_id = %s"
            " AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            run_id,
        )
    }
    assert {dg.AssetKey.from_db_string(key) for key in materialized} == set(ingest.keys)
    partitions = postgres_server.query("SELECT partition FROM dynamic_partitions")
    assert partitions == [(batch,)]
    daemons = {
        kind for (kind,) in postgres_server.query("SELECT daemon_type FROM daemon_heartbeats")
    }
    assert {"QUEUED_RUN_COORDINATOR", "SENSOR"} <= daemons
    # Nothing of the instance went to SQLite beside it.
    assert not [path for path in home.rglob("*") if path.suffix in (".db", ".sqlite")]
    # And the stage did its work in the lake.
    (entry,) = ledger_entries(lakehouse.catalog(), batch_id=batch)
    assert entry.stage == "ingest"


def test_an_instance_on_postgresql_refuses_to_fall_back_to_sqlite(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_server: PostgresServer,  # noqa: F811
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("FUNNEL_DAGSTER_PG", postgres_server.url)
    prepare_instance(str(tmp_path / "lake")).dispose()
    settings = (home / "dagster.yaml").read_text()
    monkeypatch.delenv("FUNNEL_DAGSTER_PG")
    with pytest.raises(
        StorageConfigError, match="keeps its runs in PostgreSQL; set FUNNEL_DAGSTER_PG"
    ):
        prepare_instance(str(tmp_path / "lake"))
    assert (home / "dagster.yaml").read_text() == settings


def test_without_the_variable_the_instance_stays_on_sqlite_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("FUNNEL_DAGSTER_PG", raising=False)
    with prepare_instance(str(tmp_path / "lake")) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    settings = (home / "dagster.yaml").read_text()
    assert "(SQLite)" in settings and "postgres" not in settings
    assert (home / "history" / "runs.db").exists()
