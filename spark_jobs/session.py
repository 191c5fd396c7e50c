"""Starting the Spark session the funnel's stages share: local, standalone cluster or Connect."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from urllib.parse import urlparse

from pyspark import SparkContext
from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
# Settings for text-heavy rows: small Arrow batches keep the Python workers' memory flat, and a
# few shuffle partitions suit one batch of documents.
DEFAULT_SETTINGS: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "500",
    "spark.sql.execution.pythonUDF.arrow.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class SparkMasterError(ValueError):
    """A Spark master URL the funnel cannot use."""


def _is_loopback(master: str) -> bool:
    if master.startswith("local"):
        return True
    return (urlparse(master).hostname or "") in _LOOPBACK


def _stop_session_on_other_master(master: str) -> None:
    """Stop this process's in-JVM Spark session when it runs on another master than `master`.

    `getOrCreate` would hand the running session back whatever master the builder names.
    """
    running = SparkContext._active_spark_context
    if running is not None and running.master != master:
        active = SparkSession._instantiatedSession
        if active is not None:
            active.stop()
        else:
            running.stop()


def spark_session(
    master: str = DEFAULT_MASTER,
    app_name: str = "funnel",
    settings: Mapping[str, str] = (),  # type: ignore[assignment]
) -> SparkSession:
    """The process's Spark session for `master` (`local[*]`, `spark://h:p` or `sc://h:p`).

    One session per process: a running session on the same master is reused (with `settings`
    that can change at run time applied to it); one on another master is stopped first, so the
    session returned always runs where it was asked to. Python workers run this interpreter.
    For a local or loopback master the driver binds to 127.0.0.1, so nothing listens beyond
    this machine.
    """
    if not master.startswith(("local", "spark://", "sc://")):
        raise SparkMasterError(
            f"unsupported Spark master {master!r}: use local[N], spark://host:port or sc://host:port"
        )
    _stop_session_on_other_master(master)
    if master.startswith("sc://"):
        return SparkSession.builder.remote(master).appName(app_name).getOrCreate()
    builder = SparkSession.builder.master(master).appName(app_name)
    conf = dict(DEFAULT_SETTINGS) | {
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.executorEnv.PYTHONPATH": os.pathsep.join(path for path in sys.path if path),
    }
    if _is_loopback(master):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    conf |= dict(settings or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
