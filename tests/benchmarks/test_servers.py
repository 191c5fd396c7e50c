"""The loopback S3 server starter: a bucket that can be emptied, and a server that is stopped
when the block it serves raises."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from benchmarks.servers import object_store


def test_the_server_is_stopped_when_the_block_raises_and_delete_empties_a_prefix(
    tmp_path: Path,
) -> None:
    with pytest.raises(RuntimeError, match="body failed"), object_store(tmp_path) as store:
        for index in range(3):
            store.client().put_object(Bucket=store.bucket, Key=f"run-1/part-{index}", Body=b"x")
        store.client().put_object(Bucket=store.bucket, Key="run-2/part-0", Body=b"x")
        assert store.delete("run-1/") == 3
        assert store.keys() == ["run-2/part-0"]
        endpoint = store.endpoint
        raise RuntimeError("body failed")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
