"""`make bench`: run every benchmark in turn; each prints and saves its own summary.

`python -m benchmarks` runs all at their default sizes; `python -m benchmarks ingest --docs 100000`
runs one with its own arguments.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "ingest",
    "extraction",
    "lineage_overhead",
    "clean",
    "dedup",
    "score",
    "curate",
    "serving",
    "export",
]


def main(argv: list[str]) -> None:
    """Run the named benchmark with its arguments, or every benchmark with defaults."""
    names = [argv[0]] if argv and argv[0] in BENCHMARKS else BENCHMARKS
    arguments = argv[1:] if argv and argv[0] in BENCHMARKS else argv
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        sys.argv = [f"benchmarks.{name}", *arguments]
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
