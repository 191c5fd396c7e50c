"""Loopback servers the tests and the scale benchmark start: a Spark standalone cluster, a Spark
Connect server and an S3 server (moto).

Each is a plain context manager that starts its processes on 127.0.0.1 and free ports, waits
until they answer, yields where to reach them and stops them by process id on the way out, also
when the body raised. The test fixtures in `tests/spark_cluster.py` and `tests/object_store.py`
wrap these.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

from spark_jobs.session import PROJECT_ROOT

SPARK_HOME = Path(pyspark.__file__).parent
BUCKET = "lake"
REGION = "us-east-1"
MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a started process and wait for it; kill it if it does not exit in 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def _started(command: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A process writing to `log`, stopped when the block ends."""
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process)


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except OSError:
        return 0


@contextmanager
def standalone_cluster(
    folder: Path, workers: int = 1, cores: int = 1, memory: str = "2g"
) -> Iterator[str]:
    """A Spark standalone master and `workers` workers of `cores` cores each on 127.0.0.1;
    yields the spark:// URL once every worker has registered.

    Started from the pyspark installation's `bin/spark-class`; logs and each worker's working
    and temp folders (`SPARK_LOCAL_DIRS`) are under `folder`, private to that worker, as on a
    cluster whose workers do not share the driver's disk.
    """
    folder.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(folder),
    }
    port, ui_port = free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master_url = f"spark://127.0.0.1:{port}"
    with ExitStack() as processes:
        master_command = [
            spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
            "--port", str(port), "--webui-port", str(ui_port),
        ]  # fmt: skip
        started = [processes.enter_context(_started(master_command, folder / "master.log", env))]
        for index in range(workers):
            own = folder / f"worker-{index}"
            worker_command = [
                spark_class, "org.apache.spark.deploy.worker.Worker", master_url,
                "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                "--webui-port", str(free_port()), "--work-dir", str(own / "work"),
            ]  # fmt: skip
            worker_env = env | {"SPARK_LOCAL_DIRS": str(own / "local")}
            log = folder / f"worker-{index}.log"
            started.append(processes.enter_context(_started(worker_command, log, worker_env)))
        deadline = time.monotonic() + 120
        while _alive_workers(ui_port) < workers:
            if any(process.poll() is not None for process in started):
                raise RuntimeError(f"Spark cluster did not start; logs in {folder}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{workers} Spark worker(s) not registered in 120 s; logs in {folder}"
                )
            time.sleep(1)
        # Leaving the stack stops the workers first, then the master.
        yield master_url


@contextmanager
def connect_server(folder: Path) -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1 and a free port; yields the sc:// URL.

    Started from the pyspark installation's own jars (`spark-submit` of SparkConnectServer, which
    ships in pyspark), nothing downloaded; its Python workers run this interpreter with the
    project first on their path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"), "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.driver.memory=1g", "--conf", "spark.sql.shuffle.partitions=4",
        "--conf", f"spark.local.dir={folder / 'local'}", "spark-internal",
    ]  # fmt: skip
    with _started(command, folder / "server.log", env) as server:
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


@dataclass(frozen=True)
class ObjectStore:
    """A running S3 server with one bucket, and the lake's storage options for it."""

    endpoint: str
    bucket: str
    log: Path
    """The server's request log: one line per request, with the method, key and status."""

    @property
    def storage_options(self) -> dict[str, str]:
        """delta-rs storage options (what FUNNEL_STORAGE_OPTIONS holds) for the server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
        }

    def environment(self) -> dict[str, str]:
        """FUNNEL_STORAGE_OPTIONS for processes that use the server."""
        return {"FUNNEL_STORAGE_OPTIONS": json.dumps(self.storage_options)}

    def client(self):  # type: ignore[no-untyped-def]
        """A boto3 S3 client of the server (for setting up and inspecting the bucket)."""
        import boto3

        options = self.storage_options
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=options["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=options["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in the bucket."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def upload(self, local: Path, key: str) -> str:
        """Copy a local file to `key`; returns its s3:// URI."""
        self.client().upload_file(str(local), self.bucket, key)
        return f"s3://{self.bucket}/{key}"

    def delete(self, prefix: str) -> int:
        """Delete every object under `prefix` (the server keeps them in memory); returns the
        number deleted."""
        keys = self.keys(prefix)
        client = self.client()
        # S3 deletes at most 1000 keys per request.
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": key} for key in keys[start : start + 1000]]
            client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk})
        return len(keys)


@contextmanager
def object_store(folder: Path) -> Iterator[ObjectStore]:
    """moto's S3 server on 127.0.0.1 and a free port, with bucket `lake`; its request log in
    `folder`.

    The server runs as its own process (`moto_server`), not in a thread of the caller: delta-rs
    holds the GIL in some calls (table history) while it waits on the server, and a server
    thread in the same interpreter could then never answer.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    with _started(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], log, dict(os.environ)
    ) as server:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start; see {log}") from None
                time.sleep(0.2)
        store = ObjectStore(endpoint, BUCKET, log)
        store.client().create_bucket(Bucket=BUCKET)
        yield store
