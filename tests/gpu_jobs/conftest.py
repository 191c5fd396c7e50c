"""The encoder, loaded once per test process: loading costs seconds, every test reuses it."""

import functools
import gzip
import json
from pathlib import Path

import pytest

from gpu_jobs.encoder import Encoder, load_encoder

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "landing"
# Short truncation keeps the CPU tests fast; the code path is the same at any length.
TEST_MAX_TOKENS = 64


@functools.cache
def cpu_encoder(max_tokens: int = TEST_MAX_TOKENS, precision: str = "fp32") -> Encoder:
    """The fp32 (or int8) CPU encoder at `max_tokens`, cached for the process."""
    return load_encoder("cpu", precision, max_tokens)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    """The CPU encoder truncating to TEST_MAX_TOKENS."""
    return cpu_encoder()


def sample_texts(source: str, count: int) -> list[str]:
    """The first `count` texts of a sample source."""
    path = sorted((SAMPLE / source).glob("*.jsonl.gz"))[0]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(count), handle, strict=False)]
