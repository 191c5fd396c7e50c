"""An S3 server for tests: moto's server on 127.0.0.1, a free port, one bucket (started by
`benchmarks.servers.object_store`, in its own process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks import servers
from benchmarks.servers import BUCKET, ObjectStore

__all__ = ["BUCKET", "ObjectStore", "object_store"]


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """moto's S3 server on 127.0.0.1 and a free port, with bucket `lake`; stopped by process
    id when the session ends."""
    with servers.object_store(tmp_path_factory.mktemp("moto")) as store:
        yield store
