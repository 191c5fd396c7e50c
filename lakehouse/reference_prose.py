"""The project's hand-written reference prose and junk (`data/reference_prose/`).

`paragraphs.txt` holds clean English paragraphs written for this project, positives of the
quality head; `junk.txt` holds hand-written junk (menus, spam, cookie banners) that is never
trained on. A seeded third of the paragraphs is held out of training too, so the head's AUC on
held-out paragraphs against the junk measures it on sources it never saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PROSE_FOLDER = Path(__file__).resolve().parents[1] / "data" / "reference_prose"
PARAGRAPHS_FILE = "paragraphs.txt"
JUNK_FILE = "junk.txt"
ID_PREFIX = "prose:"
# Every third paragraph (in a seeded order) is kept out of training for the unseen-source AUC.
HELD_OUT_EVERY = 3


class ReferenceProseError(ValueError):
    """The reference prose files are missing or hold no paragraph."""


@dataclass(frozen=True)
class ReferenceProse:
    """Hand-written paragraphs and junk, by id (`prose:<sha256 prefix>`), and the files' hash."""

    paragraphs: dict[str, str]
    junk: dict[str, str]
    sha256: str
    folder: str


def _blocks(text: str) -> list[str]:
    """Paragraphs of a file: blocks separated by blank lines, `#` comment lines left out."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    blocks, current = [], []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    return blocks


def _by_id(blocks: list[str], kind: str) -> dict[str, str]:
    return {
        f"{ID_PREFIX}{kind}:{hashlib.sha256(block.encode()).hexdigest()[:16]}": block
        for block in blocks
    }


def load_reference_prose(folder: Path = PROSE_FOLDER) -> ReferenceProse:
    """The paragraphs and junk under `folder`, with one sha256 over both files' bytes."""
    digest = hashlib.sha256()
    texts = {}
    for name in (PARAGRAPHS_FILE, JUNK_FILE):
        path = folder / name
        if not path.is_file():
            raise ReferenceProseError(
                f"{path} is missing; restore it from the repository or set "
                "score.quality.handwritten_prose: false"
            )
        data = path.read_bytes()
        digest.update(data)
        texts[name] = data.decode("utf-8")
    paragraphs = _by_id(_blocks(texts[PARAGRAPHS_FILE]), "paragraph")
    junk = _by_id(_blocks(texts[JUNK_FILE]), "junk")
    if len(paragraphs) < HELD_OUT_EVERY or not junk:
        raise ReferenceProseError(
            f"{folder} needs {HELD_OUT_EVERY} paragraphs and one junk text at least, found "
            f"{len(paragraphs)} and {len(junk)}; separate them with blank lines"
        )
    return ReferenceProse(paragraphs, junk, digest.hexdigest(), str(folder))
