"""Main-text extraction: quality of Resiliparse and Trafilatura, and funnel's WARC throughput.

`python -m benchmarks.extraction --pages 2000 --repeats 3`

1. Quality: the 20 pages of `benchmarks.web_pages` (five layouts, known main text) through
   Resiliparse (`extract_plain_text(main_content=True)`, what funnel uses) and Trafilatura
   (`extract()`, default settings): word precision, recall, F1 and milliseconds per page.
2. Throughput: a gzipped WARC of `--pages` response records (those pages in turn) read by
   funnel's `lakehouse.web.warc_pages` (member splitting, FastWARC parsing, charset checks,
   quarantine decisions, extraction) against the libraries' own loop — FastWARC's
   `ArchiveIterator` over the file and Resiliparse's extraction of each HTML payload. The
   ratio is funnel pages/s ÷ library pages/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import machine, write_result
from benchmarks.web_pages import KnownPage, known_pages, word_scores

RESULTS = Path("bench-data/results")


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
    for record in ArchiveIterator(str(path), record_types=WarcRecordType.response):
        body = record.reader.read()
        tree = HTMLTree.parse_from_bytes(body, record.http_charset or "utf-8")
        if extract_plain_text(tree, main_content=True):
            pages += 1
    return pages


def throughput(pages: list[KnownPage], count: int, repeats: int) -> dict[str, Any]:
    """Pages/s of funnel's WARC reader and of the libraries' loop, engines alternating."""
    with tempfile.TemporaryDirectory(prefix="funnel-extraction-") as folder:
        path = Path(folder) / "crawl.warc.gz"
        write_crawl(path, pages, count)
        runs: dict[str, list[float]] = {"funnel": [], "library": []}
        for _ in range(repeats):
            for name, loop in (("library", library_loop), ("funnel", funnel_loop)):
                started = time.perf_counter()
                found = loop(path)
                runs[name].append(time.perf_counter() - started)
                if found != count:
                    raise RuntimeError(f"{name} extracted {found} of {count} pages")
        size = path.stat().st_size
    medians = {name: statistics.median(times) for name, times in runs.items()}
    return {
        "pages": count,
        "warc_bytes": size,
        "runs_s": runs,
        "pages_per_s": {name: count / seconds for name, seconds in medians.items()},
        "ratio": medians["library"] / medians["funnel"],
    }


def main() -> None:
    """Measure, print a summary and save it under bench-data/results/extraction.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pages = known_pages()
    result = {
        "machine": machine(),
        "quality": quality(pages),
        "throughput": throughput(pages, args.pages, args.repeats),
    }
    for name, scores in result["quality"].items():
        print(
            f"{name:12} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
            f"F1 {scores['f1']:.3f}  {scores['ms_per_page']:.2f} ms/page  "
            f"by layout {', '.join(f'{k} {v:.2f}' for k, v in scores['f1_by_layout'].items())}"
        )
    speed = result["throughput"]
    print(
        f"WARC of {speed['pages']} pages: funnel {speed['pages_per_s']['funnel']:.0f} pages/s, "
        f"FastWARC+Resiliparse loop {speed['pages_per_s']['library']:.0f} pages/s, "
        f"ratio {speed['ratio']:.2f}"
    )
    write_result("extraction", result, RESULTS)


if __name__ == "__main__":
    main()
