"""Main-text extraction: quality of Resiliparse and Trafilatura, and funnel's WARC throughput.

1. Quality: the 20 pages of `benchmarks.web_pages` (five layouts, known main text) through
   Resiliparse (`extract_plain_text(main_content=True)`, what funnel uses) and Trafilatura
   (`extract()`, default settings): word precision, recall, F1 and milliseconds per page.
2. Throughput: a gzipped WARC of `--pages` response records (those pages in turn) read by
   funnel's `lakehouse.web.warc_pages` (member splitting, FastWARC parsing, charset checks,
   quarantine decisions, extraction) against the libraries' own loop — FastWARC's
   `ArchiveIterator` over the file and Resiliparse's extraction of each HTML payload. The
   ratio is funnel pages/s ÷ library pages/s (medians). Engines alternate (library, funnel,
   library, funnel…), each run in a fresh process.

The full profile reads a WARC of 2,000 pages three times per engine; the quick profile
(`--quick`) 300 pages three times.

    python -m benchmarks.extraction [--quick] [--pages N --repeats N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, record, run_engine, spread
from benchmarks.web_pages import KnownPage, known_pages, word_scores

TITLE = "WARC extraction: quality and throughput"
ENGINES = ("library", "funnel")
FULL_PAGES, FULL_REPEATS = 2_000, 3
QUICK_PAGES, QUICK_REPEATS = 300, 3


def resiliparse_text(page: str) -> str:
    """Main text by Resiliparse, as funnel extracts it."""
    from lakehouse.web import extract_main_text

    return extract_main_text(page)


def trafilatura_text(page: str) -> str:
    """Main text by Trafilatura with its default settings."""
    import trafilatura

    return trafilatura.extract(page) or ""


EXTRACTORS = {"resiliparse": resiliparse_text, "trafilatura": trafilatura_text}


def quality(pages: list[KnownPage]) -> dict[str, dict[str, Any]]:
    """Mean word precision, recall, F1 and ms per page of each extractor, overall and by layout."""
    summary: dict[str, dict[str, Any]] = {}
    for name, extract in EXTRACTORS.items():
        extract(pages[0].html)  # imports and warm-up outside the timing
        scores, seconds, by_layout = [], 0.0, {}
        for page in pages:
            started = time.perf_counter()
            text = extract(page.html)
            seconds += time.perf_counter() - started
            score = word_scores(text, page.main_text)
            scores.append(score)
            by_layout.setdefault(page.layout, []).append(score[2])
        summary[name] = {
            "precision": statistics.mean(s[0] for s in scores),
            "recall": statistics.mean(s[1] for s in scores),
            "f1": statistics.mean(s[2] for s in scores),
            "ms_per_page": 1000 * seconds / len(pages),
            "f1_by_layout": {k: statistics.mean(v) for k, v in sorted(by_layout.items())},
        }
    return summary


def write_crawl(path: Path, pages: list[KnownPage], count: int) -> None:
    """A `.warc.gz` of `count` response records cycling through `pages`."""
    from tests.warc_files import html_record, warcinfo

    with path.open("wb") as handle:
        handle.write(warcinfo())
        for index in range(count):
            page = pages[index % len(pages)]
            handle.write(html_record(f"{page.url}?n={index}", page.html))


def funnel_loop(path: Path) -> int:
    """Pages funnel reads from the file (its full WARC path, extraction included)."""
    from lakehouse.web import WebPage, warc_pages

    with path.open("rb") as raw:
        return sum(isinstance(item, WebPage) for item in warc_pages(raw, 10_000_000))


def library_loop(path: Path) -> int:
    """Pages the libraries' own loop extracts: FastWARC iteration + Resiliparse extraction."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    pages = 0
    for warc_record in ArchiveIterator(str(path), record_types=WarcRecordType.response):
        body = warc_record.reader.read()
        tree = HTMLTree.parse_from_bytes(body, warc_record.http_charset or "utf-8")
        if extract_plain_text(tree, main_content=True):
            pages += 1
    return pages


LOOPS = {"library": library_loop, "funnel": funnel_loop}


def run_loop(engine: str, path: Path) -> dict[str, Any]:
    """One engine's pass over the WARC in this process: seconds and pages extracted."""
    started = time.perf_counter()
    found = LOOPS[engine](path)
    return {"seconds": time.perf_counter() - started, "pages": found}


def throughput(pages: list[KnownPage], count: int, repeats: int) -> dict[str, Any]:
    """Pages/s of funnel's WARC reader and of the libraries' loop, engines alternating, each run
    in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="funnel-extraction-") as folder:
        path = Path(folder) / "crawl.warc.gz"
        write_crawl(path, pages, count)
        runs: list[dict[str, Any]] = []
        for _ in range(repeats):
            for engine in ENGINES:
                run = run_engine("benchmarks.extraction", ["--engine", engine, "--warc", str(path)])
                if run["pages"] != count:
                    raise RuntimeError(f"{engine} extracted {run['pages']} of {count} pages")
                runs.append({"engine": engine, **run})
        size = path.stat().st_size
    seconds = {
        engine: spread([run["seconds"] for run in runs if run["engine"] == engine])
        for engine in ENGINES
    }
    return {
        "pages": count,
        "warc_bytes": size,
        "seconds": seconds,
        "pages_per_s": {engine: round(count / seconds[engine]["median"], 1) for engine in ENGINES},
        "ratio": round(seconds["library"]["median"] / seconds["funnel"]["median"], 3),
        "runs": runs,
    }


def render(result: dict[str, Any]) -> str:
    """The quality table of both extractors and the throughput table with its ratio."""
    summary = result["summary"]
    rows = [
        f"**Quality** on the {summary['known_pages']} pages of `benchmarks.web_pages` (mean word "
        "scores against the known main text):",
        "",
        "| extractor | precision | recall | F1 | ms/page | F1 by layout |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, scores in summary["quality"].items():
        layouts = ", ".join(f"{k} {v:.2f}" for k, v in scores["f1_by_layout"].items())
        rows.append(
            f"| {name} | {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['f1']:.3f} | "
            f"{scores['ms_per_page']:.2f} | {layouts} |"
        )
    speed = summary["throughput"]
    what = {
        "library": "FastWARC `ArchiveIterator` + Resiliparse extraction",
        "funnel": "`lakehouse.web.warc_pages`",
    }
    rows += [
        "",
        f"**Throughput** on a WARC of {speed['pages']:,} pages "
        f"({speed['warc_bytes'] / 2**20:.1f} MiB gzipped):",
        "",
        "| engine | median s | min–max s, n | pages/s |",
        "|---|---:|---|---:|",
    ]
    for engine in ENGINES:
        seconds = speed["seconds"][engine]
        rows.append(
            f"| {what[engine]} | {seconds['median']:.3f} | {seconds['min']:.3f}–"
            f"{seconds['max']:.3f}, {seconds['n']} | {speed['pages_per_s'][engine]:,.0f} |"
        )
    rows += ["", f"Ratio funnel ÷ library pages/s: **{speed['ratio']:.2f}**."]
    return "\n".join(rows)


def main() -> None:
    """Measure quality and throughput, print a summary and record it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a WARC of 300 pages")
    parser.add_argument("--pages", type=int, help="response records in the WARC")
    parser.add_argument("--repeats", type=int, help="runs of each engine")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--warc", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(run_loop(args.engine, args.warc)))
        return
    count = args.pages or (QUICK_PAGES if args.quick else FULL_PAGES)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    command = "python -m benchmarks.extraction" + (" --quick" if args.quick else "")
    if args.pages or args.repeats:
        command += f" --pages {count} --repeats {repeats}"
    load_before = load_average()
    pages = known_pages()
    speed = throughput(pages, count, repeats)
    runs = speed.pop("runs")
    summary = {"known_pages": len(pages), "quality": quality(pages), "throughput": speed}
    for name, scores in summary["quality"].items():
        print(
            f"{name:12} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
            f"F1 {scores['f1']:.3f}  {scores['ms_per_page']:.2f} ms/page"
        )
    print(
        f"WARC of {count} pages: funnel {speed['pages_per_s']['funnel']:.0f} pages/s, "
        f"FastWARC+Resiliparse loop {speed['pages_per_s']['library']:.0f} pages/s, "
        f"ratio {speed['ratio']:.2f}"
    )
    record("extraction", command, summary, runs, quick=args.quick, load_before=load_before)


if __name__ == "__main__":
    main()
