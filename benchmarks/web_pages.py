"""Web pages with a known main text, for the extraction comparison and benchmark.

Five layouts that real sites use (news article, blog with sidebar and comments, documentation
with a navigation tree, a table layout, a bare page), each filled with real prose from the
bundled sample (licence texts and fortunes, paragraphs of at least 12 words). The main text
of every page is known, so an extractor's output can be scored word by word.
"""

from __future__ import annotations

import gzip
import html
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "landing"
LAYOUTS = ("news", "blog", "docs", "table", "bare")
_PROSE_FILES = ("licenses/part-00000.jsonl.gz", "fortunes_en/part-00000.jsonl.gz")


@dataclass(frozen=True)
class KnownPage:
    """An HTML page and the main text a perfect extractor returns."""

    layout: str
    url: str
    html: str
    main_text: str


def prose_paragraphs(limit: int = 400) -> list[str]:
    """Paragraphs of real prose from the bundled sample, whitespace collapsed, in file order."""
    paragraphs: list[str] = []
    for name in _PROSE_FILES:
        with gzip.open(SAMPLE / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                for block in json.loads(line)["text"].split("\n\n"):
                    words = block.split()
                    if len(words) >= 12 and not any(c in block for c in "<>&{}"):
                        paragraphs.append(" ".join(words))
                if len(paragraphs) >= limit * (1 + _PROSE_FILES.index(name)):
                    break
    return paragraphs


def _links(rng: random.Random, words: list[str], count: int) -> str:
    picks = [" ".join(rng.sample(words, 2)).title() for _ in range(count)]
    return "".join(f'<li><a href="/{p.lower().replace(" ", "-")}">{p}</a></li>' for p in picks)


def _paragraphs(texts: list[str]) -> str:
    return "".join(f"<p>{html.escape(text)}</p>" for text in texts)


def build_page(layout: str, title: str, texts: list[str], rng: random.Random) -> KnownPage:
    """One page of `layout` whose main text is `title` and `texts`."""
    vocabulary = " ".join(texts).split()
    article = f"<h1>{html.escape(title)}</h1>{_paragraphs(texts)}"
    nav = f'<nav class="menu"><ul>{_links(rng, vocabulary, 6)}</ul></nav>'
    footer = (
        "<footer><p>© 2026 Example Publishing Ltd. All rights reserved.</p><ul>"
        '<li><a href="/privacy">Privacy</a></li><li><a href="/terms">Terms of use</a></li>'
        "</ul></footer>"
    )
    cookie = (
        '<div id="cookie-consent">This site uses cookies to improve your experience. '
        "<button>Accept</button> <button>Decline</button></div>"
    )
    if layout == "news":
        links = _links(rng, vocabulary, 5)
        related = f'<aside class="related"><h3>Related stories</h3><ul>{links}</ul></aside>'
        body = (
            f"{cookie}<header>{nav}</header><main><article>{article}</article>{related}</main>"
            f"{footer}"
        )
    elif layout == "blog":
        sidebar = (
            f'<div class="sidebar"><h3>Recent posts</h3><ul>{_links(rng, vocabulary, 5)}</ul>'
            f"<h3>Tags</h3><p>{' '.join(rng.sample(vocabulary, 8))}</p></div>"
        )
        comments = (
            '<section class="comments"><h3>2 comments</h3>'
            '<div class="comment">Great post, thanks for sharing!</div>'
            '<div class="comment">I did not know that. Bookmarked.</div>'
            "<form><textarea>Leave a reply</textarea><button>Post comment</button></form></section>"
        )
        body = (
            f'<header><h2>My notebook</h2>{nav}</header><div class="content">'
            f'<div class="post">{article}</div>{comments}</div>{sidebar}{footer}'
        )
    elif layout == "docs":
        tree = f'<div class="toc"><h4>Contents</h4><ul>{_links(rng, vocabulary, 10)}</ul></div>'
        body = (
            f'{nav}<div class="layout">{tree}<div class="document" role="main">{article}'
            '<p class="edit"><a href="/edit">Edit this page</a></p></div></div>'
            f"{footer}"
        )
    elif layout == "table":
        body = (
            '<table width="100%"><tr><td class="left" width="20%">'
            f"<ul>{_links(rng, vocabulary, 8)}</ul></td>"
            f'<td class="main">{article}</td></tr></table>{footer}'
        )
    else:
        body = article
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body>{body}</body></html>"
    )
    main_text = "\n\n".join([title, *texts])
    url = f"https://{layout}.example.org/{title.lower().replace(' ', '-')}"
    return KnownPage(layout, url, page, main_text)


def known_pages(count: int = 20, seed: int = 7) -> list[KnownPage]:
    """`count` pages, the layouts in turn, each with 3–6 unseen paragraphs of prose."""
    rng = random.Random(seed)
    paragraphs = prose_paragraphs()
    rng.shuffle(paragraphs)
    pages = []
    for index in range(count):
        take = rng.randint(3, 6)
        texts, paragraphs = paragraphs[:take], paragraphs[take:]
        if not texts:
            paragraphs = prose_paragraphs()
            texts = paragraphs[:take]
        title = " ".join(texts[0].split()[:5]).strip(".,;:").title()
        pages.append(build_page(LAYOUTS[index % len(LAYOUTS)], title, texts, rng))
    return pages


def word_scores(extracted: str, truth: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of the extracted words against the true main text (bags)."""
    got, want = Counter(extracted.split()), Counter(truth.split())
    overlap = sum((got & want).values())
    precision = overlap / max(sum(got.values()), 1)
    recall = overlap / max(sum(want.values()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
