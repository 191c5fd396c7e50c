"""Writing small landing folders and recipes for tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import dagster as dg

SAMPLE_LANDING = Path(__file__).resolve().parents[1] / "data" / "sample" / "landing"

RECIPE_TEMPLATE = """\
name: test
landing: {landing}
sources:
  - {{name: notes, path: "notes/*.jsonl*", format: jsonl, domain: prose, license: CC0-1.0}}
  - {{name: tables, path: "tables/*.parquet", format: parquet, domain: reference, license: MIT}}
ingest:
  max_record_bytes: {max_record_bytes}
  read_block_bytes: 65536
score:
  untrainable_heads: uniform   # these landing folders hold no reference documents
"""


def note_text(index: int) -> str:
    """A distinct, realistic-looking document."""
    return f"Note number {index}. " + " ".join(f"word{index % 97}_{j}" for j in range(40))


def sample_records(source: str, count: int) -> list[dict[str, str]]:
    """The first `count` records of a source of the bundled sample corpus (real documents)."""
    path = next(iter(sorted((SAMPLE_LANDING / source).glob("*.jsonl.gz"))))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle, strict=False)]


def write_jsonl_gz(path: Path, records: list[dict[str, object]]) -> Path:
    """Write records as gzip-compressed JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def write_recipe(folder: Path, landing: Path, max_record_bytes: int = 100_000) -> Path:
    """A recipe for `landing` with a JSON-lines and a Parquet source."""
    path = folder / "recipe.yaml"
    path.write_text(RECIPE_TEMPLATE.format(landing=landing, max_record_bytes=max_record_bytes))
    return path


# The bronze assets alone: tests of the ingest stage need not run the Spark stages after it.
INGEST_ASSETS = [dg.AssetKey(["bronze", "documents"]), dg.AssetKey(["bronze", "quarantine"])]
