"""Broken environments get one line naming the object and the fix, and exit 1."""

import socket
import time
from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.catalog import Catalog, CommitInfo, CorruptTableError
from lakehouse.tables import OPS_BATCHES
from spark_jobs.session import SparkUnavailableError, check_spark_available


@pytest.fixture(autouse=True)
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_damaged_delta_log_names_the_table_and_the_fix(
    root: Path, catalog: Catalog, commit: CommitInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog.write(OPS_BATCHES, OPS_BATCHES.schema.empty_table(), commit)
    (log,) = (root / "ops" / "batches" / "_delta_log").glob("*.json")
    log.write_bytes(log.read_bytes()[:100])  # a commit cut short
    with pytest.raises(CorruptTableError, match="ops/batches"):
        catalog.version(OPS_BATCHES)
    for command in (["batches"], ["tables"], ["history", "ops/batches"]):
        assert main(["--root", str(root), *command]) == 1, command
        err = _one_line(capsys)
        assert "table ops/batches" in err and "has a damaged Delta log" in err
        assert "_delta_log" in err and "restore" in err


def test_an_unreachable_spark_master_fails_fast_naming_it(
    root: Path,
    recipe_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    master = f"spark://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("FUNNEL_SPARK_MASTER", master)
    started = time.monotonic()
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 1
    assert time.monotonic() - started < 20
    err = _one_line(capsys)
    assert f"Spark master {master} does not answer" in err
    assert "check that the master is running" in err


def test_missing_java_is_one_line(
    root: Path,
    recipe_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 1
    err = _one_line(capsys)
    assert "Spark needs Java and found no JAVA_HOME/bin/java" in err and "install" in err
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SparkUnavailableError, match="found no java on PATH"):
        check_spark_available("local[2]")


def test_a_reachable_master_passes_the_check() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        check_spark_available(f"spark://127.0.0.1:{server.getsockname()[1]}")
    check_spark_available("local[1]")
