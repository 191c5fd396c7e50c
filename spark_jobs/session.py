"""Starting the Spark session the funnel's stages share: local, standalone cluster or Connect."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
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
MASTER_CONNECT_TIMEOUT_S = 5.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds `spark_jobs` and the project's other packages."""


class SparkMasterError(ValueError):
    """A Spark master URL the funnel cannot use."""


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here: no Java, or the master does not answer."""


def java_executable() -> str | None:
    """The `java` Spark would start: `$JAVA_HOME/bin/java`, else `java` on PATH (None: none)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def check_spark_available(master: str, timeout_s: float = MASTER_CONNECT_TIMEOUT_S) -> None:
    """Fail fast, in one line, when Spark cannot start: no Java, or a master that does not answer.

    Left alone, a missing `java` surfaces as a gateway traceback and a closed master port as
    about a minute and a half of connection retries before "stopped SparkContext".
    """
    if not master.startswith("sc://") and java_executable() is None:
        where = "JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "java on PATH"
        raise SparkUnavailableError(
            f"Spark needs Java and found no {where}: install a Java 17+ runtime "
            "(e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME to one"
        )
    if master.startswith(("spark://", "sc://")):
        parsed = urlparse(master)
        host = parsed.hostname or ""
        port = parsed.port or (15002 if master.startswith("sc://") else 7077)
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                pass
        except OSError as error:
            raise SparkUnavailableError(
                f"Spark master {master} does not answer ({error.strerror or error}): check that "
                f"the master is running and listening on {host}:{port}, and that "
                "FUNNEL_SPARK_MASTER or the recipe's clean.spark_master names it"
            ) from error


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
    if SparkContext._active_spark_context is None:
        check_spark_available(master)
    _stop_session_on_other_master(master)
    if master.startswith("sc://"):
        return SparkSession.builder.remote(master).appName(app_name).getOrCreate()
    builder = SparkSession.builder.master(master).appName(app_name)
    conf = dict(DEFAULT_SETTINGS) | {
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.executorEnv.PYTHONPATH": worker_python_path(),
    }
    if _is_loopback(master):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    conf |= dict(settings or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # PySpark names the workers' interpreter from $PYSPARK_PYTHON or else whatever `python3`
    # is on PATH, ignoring `spark.pyspark.python`; outside the project's environment that
    # interpreter lacks the project and its dependencies.
    session.sparkContext.pythonExec = sys.executable
    return session


def worker_python_path() -> str:
    """The Python workers' PYTHONPATH: the project's root, then the driver's `sys.path`.

    The project's root comes first because an editable install makes it importable through a
    meta-path finder, not a `sys.path` entry, so from another working directory the driver's
    `sys.path` alone does not reach `spark_jobs`.
    """
    entries = [str(PROJECT_ROOT), *(path for path in sys.path if path)]
    return os.pathsep.join(dict.fromkeys(entries))
