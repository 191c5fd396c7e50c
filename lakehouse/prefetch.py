"""Producing an iterator's items on a background thread, a bounded number ahead of the consumer.

Generic plumbing shared by readers (landing files) and operators (encoder batches): nothing here
knows what the items are.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items`, produced by a background thread up to `depth` ahead of the consumer.

    Work that releases the GIL (decompression, Arrow parsing, hashing, tokenization) so
    overlaps with consuming the previous item. An exception in the producer is raised to the
    consumer; a consumer that stops early stops the producer.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            slots.put(("error", error))

    producer = threading.Thread(target=produce, name="funnel-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while producer.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                producer.join(timeout=0.1)
