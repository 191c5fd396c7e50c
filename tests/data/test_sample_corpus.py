import gzip
import json
from collections import Counter
from pathlib import Path

from lakehouse.batches import landing_files
from lakehouse.recipe import load_recipe
from lakehouse.storage import PROJECT_DIR

SAMPLE = PROJECT_DIR / "data" / "sample"


def _ground_truth() -> list[dict]:
    with gzip.open(SAMPLE / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _landing_records() -> dict[tuple[str, int], str]:
    records = {}
    for path in sorted((SAMPLE / "landing").glob("*/*.jsonl.gz")):
        relative = str(path.relative_to(SAMPLE / "landing"))
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                records[(relative, index)] = json.loads(line)["text"]
    return records


def test_sample_size_domains_and_languages() -> None:
    truth = _ground_truth()
    assert 10_000 <= len(truth) <= 30_000
    size = sum(path.stat().st_size for path in SAMPLE.rglob("*") if path.is_file())
    assert size <= 20 * 2**20
    real = [row for row in truth if row["junk"] is None]
    assert len({row["domain"] for row in real} - {"web"}) >= 4
    assert len(Counter(row["lang"] for row in real)) >= 3
    assert (SAMPLE / "SOURCES.md").read_text().count("License") >= 1


def test_ground_truth_covers_every_record_and_its_spans_are_exact() -> None:
    records = _landing_records()
    truth = _ground_truth()
    assert {(row["file"], row["record"]) for row in truth} == set(records)
    kinds = Counter()
    for row in truth:
        text = records[(row["file"], row["record"])]
        for span in row["pii"]:
            assert text[span["start"] : span["end"]] == span["value"]
            kinds[span["kind"]] += 1
        original = row["exact_duplicate_of"]
        if original is not None:
            assert text == records[(original["file"], original["record"])]
    assert {"email", "phone", "ipv4", "ipv6", "credit_card"} <= set(kinds)
    planted = Counter(row["junk"] for row in truth if row["junk"])
    assert set(planted) == {
        *("boilerplate", "spam", "lorem_ipsum", "keyword_stuffing", "too_short"),
        *("repeated_lines", "no_stop_words"),  # the multilingual source
    }
    assert sum(1 for row in truth if row["near_duplicate_of"]) > 100


def test_default_recipe_claims_every_landing_file() -> None:
    loaded = load_recipe(PROJECT_DIR / "recipes" / "default.yaml")
    claimed = {Path(f.uri).relative_to(SAMPLE / "landing") for f in landing_files(loaded)}
    present = {p.relative_to(SAMPLE / "landing") for p in (SAMPLE / "landing").glob("*/*")}
    assert claimed == present
