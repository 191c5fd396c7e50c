"""A PostgreSQL server for tests: Debian's binaries, a fresh cluster in a temp folder, a free
port on 127.0.0.1, a password, one database; stopped and removed at teardown.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user
and its commands run through `runuser`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

DATABASE = "dagster"
USER = "funnel"
PASSWORD = "funnel-test-password"


@dataclass(frozen=True)
class PostgresServer:
    """A running server and the URL of its test database."""

    host: str
    port: int
    folder: Path

    @property
    def url(self) -> str:
        """postgresql://USER:PASSWORD@127.0.0.1:PORT/dagster (what FUNNEL_DAGSTER_PG holds)."""
        return f"postgresql://{USER}:{PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    def query(self, sql: str, *parameters: object) -> list[tuple]:
        """Rows of `sql` in the test database."""
        with psycopg2.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()


def postgres_binary(name: str) -> str:
    """`name` (initdb, pg_ctl) on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(f"PostgreSQL's {name} not found: run `make install` (Debian's postgresql)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list[str]) -> list[str]:
    """`command` run as the `postgres` user when this process is root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 with the `dagster` database, owned by user `funnel`."""
    folder = Path(tempfile.mkdtemp(prefix="funnel-postgres-"))
    if os.getuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, log, password = folder / "data", folder / "server.log", folder / "password"
    password.write_text(PASSWORD + "\n")
    if os.getuid() == 0:
        shutil.chown(password, "postgres", "postgres")
    port = free_port()
    initdb = [postgres_binary("initdb"), "-D", str(data), "-U", USER, f"--pwfile={password}"]
    # Password checks over TCP, as a deployment has them; the socket (in the folder) is trusted.
    initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_owner(initdb), check=True, capture_output=True, cwd=folder)
    pg_ctl = postgres_binary("pg_ctl")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]
    started = subprocess.run(_as_owner(start), capture_output=True, text=True, cwd=folder)
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stdout}{started.stderr}")
    try:
        admin = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
        connection = psycopg2.connect(admin)
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        connection.close()
        yield PostgresServer("127.0.0.1", port, folder)
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_owner(stop), capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)
