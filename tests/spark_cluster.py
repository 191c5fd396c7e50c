"""Spark for tests: one local session per test process, a loopback standalone cluster, and a
loopback Spark Connect server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession

from spark_jobs.session import DEFAULT_MASTER, PROJECT_ROOT, spark_session

SPARK_HOME = Path(pyspark.__file__).parent
TEST_SETTINGS = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The process's Spark session (shared by every test that needs Spark).

    On the master `SparkResource` resolves to by default, so Dagster runs in the same process
    reuse it: a session asked for on another master replaces the running one.
    """
    session = spark_session(DEFAULT_MASTER, settings=TEST_SETTINGS)
    yield session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except OSError:
        return 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark standalone master and one worker on 127.0.0.1; yields the spark:// URL.

    The worker's working folder and its executors' temp folder (`SPARK_LOCAL_DIRS`) are
    private to it.

    Both are started from the pyspark installation's `bin/spark-class` and stopped by process
    id when the session ends.
    """
    folder = tmp_path_factory.mktemp("spark-cluster")
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(folder),
    }
    port, ui_port = _free_port(), _free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master_url = f"spark://127.0.0.1:{port}"
    logs = [open(folder / name, "wb") for name in ("master.log", "worker.log")]  # noqa: SIM115
    master = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(ui_port)],
        env=env, stdout=logs[0], stderr=subprocess.STDOUT,
    )  # fmt: skip
    # The worker's working and temp folders are its own: nothing the driver writes is there,
    # as on a cluster whose workers do not share the driver's disk.
    worker_env = env | {"SPARK_LOCAL_DIRS": str(folder / "worker-local")}
    worker = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host",
         "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port()),
         "--work-dir", str(folder / "work")],
        env=worker_env, stdout=logs[1], stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _alive_workers(ui_port) < 1:
            if master.poll() is not None or worker.poll() is not None:
                raise RuntimeError(f"Spark cluster did not start; logs in {folder}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Spark worker registered in 120 s; logs in {folder}")
            time.sleep(1)
        yield master_url
    finally:
        _stop(worker)
        _stop(master)
        for log in logs:
            log.close()


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1 and a free port; yields the sc:// URL.

    Started from the pyspark installation's own jars (`spark-submit` of SparkConnectServer, which
    ships in pyspark), nothing downloaded; its Python workers run this interpreter with the
    project first on their path. Stopped by process id when the session ends.
    """
    folder = tmp_path_factory.mktemp("spark-connect")
    port = _free_port()
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [str(SPARK_HOME / "bin" / "spark-submit"), "--class",
         "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
         "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.driver.memory=1g", "--conf", "spark.sql.shuffle.partitions=4",
         "--conf", f"spark.local.dir={folder / 'local'}", "spark-internal"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"Spark Connect server exited; log in {folder}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Spark Connect did not listen in 180 s; log in {folder}"
                    ) from None
                time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        _stop(server)
        log.close()
