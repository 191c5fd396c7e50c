"""`make bench`: run every benchmark, each in a fresh process, then generate docs/benchmarks.md.

    python -m benchmarks [--quick] [NAME …]

`--quick` runs the benchmarks of `QUICK_SET` at their reduced sizes (`make bench-quick`, under 15
minutes on 2 cores): the comparisons with a peer whose fixed costs fit. The others start
clusters, servers or several whole-funnel runs, or train for each of three seeds, and take
minutes even at their smallest; `python -m benchmarks --quick NAME` still runs any of them
reduced. Names pick benchmarks (default: all, in `BENCHMARKS` order). A benchmark that fails
leaves a results file saying so, which the report shows instead of its old figures; the runner
goes on with the others and exits 1 at the end. One benchmark with its own arguments:
`python -m benchmarks.ingest --docs 100000`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks.measure import FULL, QUICK, load_average, record_failure
from benchmarks.report import BENCHMARKS, write_report

QUICK_SET = ("ingest", "extraction", "clean", "dedup", "curate", "export", "planner")


def run(name: str, quick: bool) -> tuple[bool, float]:
    """Run one benchmark in a fresh process; (succeeded, seconds)."""
    arguments = ["--quick"] if quick else []
    command = [sys.executable, "-m", f"benchmarks.{name}", *arguments]
    print(f"== {name} ({QUICK if quick else FULL})", flush=True)
    load_before = load_average()
    started = time.perf_counter()
    completed = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-4000:])
        record_failure(
            name,
            f"python -m benchmarks.{name} {' '.join(arguments)}".strip(),
            completed.stderr[-2000:],
            quick=quick,
            load_before=load_before,
        )
    return completed.returncode == 0, seconds


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks, report the time each took, regenerate the document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (make bench-quick)")
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME")
    args = parser.parse_args(argv)
    names = args.names or list(QUICK_SET if args.quick else BENCHMARKS)
    outcomes = {name: run(name, args.quick) for name in names}
    path = write_report()
    print(f"\nwrote {path}")
    for name, (succeeded, seconds) in outcomes.items():
        print(f"{name:<18} {'ok' if succeeded else 'FAILED':<7} {seconds / 60:6.1f} min")
    total = sum(seconds for _, seconds in outcomes.values())
    print(f"{'total':<26} {total / 60:6.1f} min")
    return 0 if all(succeeded for succeeded, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
