"""Spark for tests: one local session per test process, a loopback standalone cluster, and a
loopback Spark Connect server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from benchmarks import servers
from spark_jobs.session import DEFAULT_MASTER, spark_session

TEST_SETTINGS = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The process's Spark session (shared by every test that needs Spark).

    On the master `SparkResource` resolves to by default, so Dagster runs in the same process
    reuse it: a session asked for on another master replaces the running one.
    """
    session = spark_session(DEFAULT_MASTER, settings=TEST_SETTINGS)
    yield session


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark standalone master and one worker (2 cores) on 127.0.0.1; yields the spark:// URL.

    The worker's working folder and its executors' temp folder (`SPARK_LOCAL_DIRS`) are
    private to it. Both are stopped by process id when the session ends.
    """
    with servers.standalone_cluster(tmp_path_factory.mktemp("spark-cluster"), cores=2) as url:
        yield url


@pytest.fixture(scope="session")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1 and a free port; yields the sc:// URL.

    Its Python workers run this interpreter with the project first on their path. Stopped by
    process id when the session ends.
    """
    with servers.connect_server(tmp_path_factory.mktemp("spark-connect")) as url:
        yield url
