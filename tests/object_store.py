"""An S3 server for tests: moto's server on 127.0.0.1, a free port, one bucket.

The server runs as its own process (`moto_server`), not in a thread of the test process: delta-rs
holds the GIL in some calls (table history) while it waits on the server, and a server thread in
the same interpreter could then never answer.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

BUCKET = "lake"
REGION = "us-east-1"
MOTO_SERVER = Path(sys.executable).with_name("moto_server")


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """moto's S3 server on 127.0.0.1 and a free port, with bucket `lake`; stopped by process
    id when the session ends."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
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
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
