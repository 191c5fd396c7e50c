"""Deterministic scale-up generator for benchmark corpora.

Reads the bundled sample landing files (``data/sample/landing/<source>/*.jsonl.gz``) and writes a
corpus of any size in the same JSON-lines format::

    python -m benchmarks.corpus --docs 1000000 --out /tmp/corpus1m [--seed 0] [--shard-docs 50000]

Output layout: ``OUT/<source>/part-NNNNN.jsonl.gz``, one ``{"id": ..., "text": ...}`` object per
line, ids unique across the output. Source proportions follow the sample. New documents are made
by recombining paragraphs of sample documents of the same source and substituting a few words,
so the large corpus is not the sample repeated. About 3 % of the documents are exact copies and
about 3 % near-duplicates (about 0.6-1.8 % of their words substituted) of recently generated
documents, mirroring the sample's duplicate rates.

The generator streams: memory is bounded by the sample plus a fixed-size window of recent
documents, independent of ``--docs``. The same arguments always produce byte-identical files.
Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "landing"
EXACT_DUP_RATE = 0.03
NEAR_DUP_RATE = 0.03
RECENT_WINDOW = 4096
FLUSH_LINES = 512

_escape = json.JSONEncoder(ensure_ascii=False).encode
PARA_SEP = b"\\n\\n"


def escaped(text: str) -> bytes:
    """Return ``text`` as the UTF-8 bytes of a JSON string body (escaped, without quotes).

    Documents are assembled from pre-escaped pieces so that no per-document JSON encoding is
    needed. Word substitutions only touch the bytes between two spaces, and JSON escape sequences
    never contain a space, so the result stays valid JSON.
    """
    return _escape(text)[1:-1].encode("utf-8")


class SourceModel:
    """The sample documents of one source, split into paragraphs, plus a word vocabulary."""

    def __init__(self, name: str, texts: list[str]) -> None:
        """Index ``texts`` (the source's sample documents) for recombination."""
        self.name = name
        self.docs: list[list[bytes]] = [
            [escaped(p) for p in t.split("\n\n") if p.strip()] or [escaped(t)] for t in texts
        ]
        self.paragraphs: list[bytes] = [p for doc in self.docs for p in doc]
        vocab: set[str] = set()
        for text in texts[:300]:
            vocab.update(w for w in text.split() if w.isalpha() and 2 < len(w) < 16)
        self.vocab: list[bytes] = [escaped(w) for w in sorted(vocab)] or [b"data"]

    def new_document(self, rng: random.Random) -> bytes:
        """Return a new document: a sample document with paragraphs swapped and words replaced."""
        paras = list(self.docs[rng.randrange(len(self.docs))])
        n = len(paras)
        for _ in range(rng.randint(1, 2 + n // 4)):
            paras[rng.randrange(n)] = self.paragraphs[rng.randrange(len(self.paragraphs))]
        if n > 2 and rng.random() < 0.3:
            i = rng.randrange(n - 1)
            paras[i], paras[i + 1] = paras[i + 1], paras[i]
        return substitute(rng, PARA_SEP.join(paras), rng.randint(1, 3), self.vocab)


def substitute(rng: random.Random, text: bytes, k: int, vocab: list[bytes]) -> bytes:
    """Replace the words at ``k`` random positions of ``text`` by words from ``vocab``."""
    size = len(text)
    if size < 2:
        return text + b" " + vocab[rng.randrange(len(vocab))]
    cuts = sorted(rng.randrange(size) for _ in range(k))
    out: list[bytes] = []
    pos = 0
    for c in cuts:
        if c < pos:
            continue
        start = text.find(b" ", c)
        if start < 0:
            break
        end = text.find(b" ", start + 1)
        if end < 0:
            end = size
        out.append(text[pos : start + 1])
        out.append(vocab[rng.randrange(len(vocab))])
        pos = end
    out.append(text[pos:])
    return b"".join(out)


def near_duplicate(rng: random.Random, text: bytes, vocab: list[bytes]) -> bytes:
    """Return a near-duplicate of ``text``: ~0.6-1.8 % of words substituted, whitespace noise."""
    n_words = text.count(b" ") + 1
    if n_words < 40:
        out = text + b" " + vocab[rng.randrange(len(vocab))]
    else:
        out = substitute(rng, text, max(1, round(n_words * rng.uniform(0.006, 0.018))), vocab)
    if rng.random() < 0.5:
        out = out.replace(PARA_SEP, PARA_SEP + b"\\n", 1)
    return out if out != text else out + b"\\n"


def load_sample(sample_dir: Path) -> dict[str, list[str]]:
    """Return ``{source: [text, ...]}`` read from the sample landing directory."""
    sources: dict[str, list[str]] = {}
    for src_dir in sorted(p for p in sample_dir.iterdir() if p.is_dir()):
        texts: list[str] = []
        for path in sorted(src_dir.glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                texts.extend(json.loads(line)["text"] for line in fh)
        if texts:
            sources[src_dir.name] = texts
    if not sources:
        raise FileNotFoundError(f"no landing files under {sample_dir}")
    return sources


class ShardWriter:
    """Writes one source's documents into ``part-NNNNN.jsonl.gz`` shards."""

    def __init__(self, directory: Path, shard_docs: int) -> None:
        """Prepare to write shards of at most ``shard_docs`` documents into ``directory``."""
        self.directory = directory
        self.shard_docs = shard_docs
        self.shard = 0
        self.in_shard = 0
        self.pending: list[bytes] = []
        self.files: list[Path] = []
        self._raw: BinaryIO | None = None
        self._gz: gzip.GzipFile | None = None

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"part-{self.shard:05d}.jsonl.gz"
        self.files.append(path)
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in _close_shard
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=1
        )

    def _flush(self) -> None:
        if self.pending:
            if self._gz is None:
                self._open()
            assert self._gz is not None
            self._gz.write(b"".join(self.pending))
            self.pending = []

    def _close_shard(self) -> None:
        self._flush()
        if self._gz is not None and self._raw is not None:
            self._gz.close()
            self._raw.close()
        self._gz = self._raw = None

    def write(self, line: bytes) -> None:
        """Append one serialized JSON line."""
        self.pending.append(line)
        self.in_shard += 1
        if self.in_shard >= self.shard_docs:
            self._close_shard()
            self.shard += 1
            self.in_shard = 0
        elif len(self.pending) >= FLUSH_LINES:
            self._flush()

    def close(self) -> None:
        """Flush and close the current shard."""
        self._close_shard()


def generate(
    out_dir: Path,
    docs: int,
    seed: int = 0,
    shard_docs: int = 50000,
    sample_dir: Path = DEFAULT_SAMPLE,
) -> dict[str, Any]:
    """Generate ``docs`` documents under ``out_dir`` and return a summary dictionary.

    The summary has ``docs``, ``bytes`` (compressed output size), ``seconds``, ``docs_per_s``,
    ``files``, per-source document counts (``sources``) and the number of exact and near
    duplicates written.
    """
    if docs < 0 or shard_docs < 1:
        raise ValueError("docs must be >= 0 and shard_docs >= 1")
    started = time.perf_counter()
    sample = load_sample(Path(sample_dir))
    names = sorted(sample)
    models = {name: SourceModel(name, sample[name]) for name in names}
    total = sum(len(v) for v in sample.values())
    cumulative: list[float] = []
    acc = 0
    for name in names:
        acc += len(sample[name])
        cumulative.append(acc / total)
    cumulative[-1] = 1.0

    rng = random.Random(seed)
    writers = {name: ShardWriter(Path(out_dir) / name, shard_docs) for name in names}
    counts = dict.fromkeys(names, 0)
    recent: list[tuple[str, bytes]] = []
    exact = near = 0
    for i in range(docs):
        name = names[bisect.bisect_right(cumulative, rng.random())]
        roll = rng.random()
        if roll < EXACT_DUP_RATE and recent:
            name, text = recent[rng.randrange(len(recent))]
            exact += 1
        elif roll < EXACT_DUP_RATE + NEAR_DUP_RATE and recent:
            name, text = recent[rng.randrange(len(recent))]
            text = near_duplicate(rng, text, models[name].vocab)
            near += 1
        else:
            text = models[name].new_document(rng)
            if len(recent) < RECENT_WINDOW:
                recent.append((name, text))
            else:
                recent[rng.randrange(RECENT_WINDOW)] = (name, text)
        head = f'{{"id": "{name}-{seed}-{i:010d}", "text": "'.encode()
        writers[name].write(b"".join((head, text, b'"}\n')))
        counts[name] += 1
    files: list[Path] = []
    for writer in writers.values():
        writer.close()
        files.extend(writer.files)
    size = sum(p.stat().st_size for p in files)
    seconds = time.perf_counter() - started
    return {
        "docs": docs,
        "bytes": size,
        "seconds": round(seconds, 3),
        "docs_per_s": round(docs / seconds, 1) if seconds > 0 else 0.0,
        "files": len(files),
        "exact_duplicates": exact,
        "near_duplicates": near,
        "sources": counts,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; prints a one-line summary."""
    ap = argparse.ArgumentParser(description="Generate a large synthetic corpus from the sample.")
    ap.add_argument("--docs", type=int, required=True, help="number of documents to write")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard-docs", type=int, default=50000, help="documents per shard file")
    ap.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE, help="sample landing dir")
    args = ap.parse_args(argv)
    s = generate(args.out, args.docs, args.seed, args.shard_docs, args.sample)
    print(
        f"docs={s['docs']} bytes={s['bytes']} seconds={s['seconds']} "
        f"docs_per_s={s['docs_per_s']} files={s['files']} exact_dups={s['exact_duplicates']} "
        f"near_dups={s['near_duplicates']}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
