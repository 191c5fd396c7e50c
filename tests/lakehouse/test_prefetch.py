"""`prefetched`: order, errors and early stops of the background producer."""

import itertools
import time
from collections.abc import Iterator

import pytest

from lakehouse.prefetch import prefetched


def test_prefetched_keeps_order_and_raises_the_producers_error() -> None:
    assert list(prefetched(iter(range(100)), depth=2)) == list(range(100))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("decoder broke")

    with pytest.raises(ValueError, match="decoder broke"):
        list(prefetched(failing(), depth=1))


def test_prefetched_stops_its_producer_when_the_consumer_stops() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        for value in itertools.count():
            produced.append(value)
            yield value

    stream = prefetched(endless(), depth=2)
    assert next(stream) == 0
    stream.close()
    settled = len(produced)
    time.sleep(0.3)
    assert len(produced) == settled <= 5
