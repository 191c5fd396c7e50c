import gzip
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lakehouse.storage import PROJECT_DIR

SAMPLE = PROJECT_DIR / "data" / "sample"


@pytest.fixture(scope="module")
def multilingual() -> ModuleType:
    """data/sample_sources/multilingual.py (data/ is no package)."""
    sys.path.insert(0, str(PROJECT_DIR / "data"))
    try:
        from sample_sources import multilingual
    finally:
        sys.path.remove(str(PROJECT_DIR / "data"))
    return multilingual


def test_multilingual_source_is_rebuilt_byte_for_byte(
    multilingual: ModuleType, tmp_path: Path
) -> None:
    truth = tmp_path / "ground_truth.jsonl.gz"
    shutil.copyfile(SAMPLE / "ground_truth.jsonl.gz", truth)
    summary = multilingual.build_multilingual(tmp_path / "landing", truth)
    assert summary.endswith("33 documents in 10 languages, 23 junk")
    landing = tmp_path / "landing" / multilingual.FILE
    assert landing.read_bytes() == (SAMPLE / "landing" / multilingual.FILE).read_bytes()
    # Its ground-truth rows are replaced, not appended twice; the other sources' stay.
    assert truth.read_bytes() == (SAMPLE / "ground_truth.jsonl.gz").read_bytes()


def test_every_language_has_a_good_document_and_labelled_junk(multilingual: ModuleType) -> None:
    with gzip.open(SAMPLE / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [row for line in handle if (row := json.loads(line))["source"] == "multilingual"]
    wanted = {"de", "fr", "es", "it", "pt", "nl", "pl", "ru", "ja", "zh"}
    assert {row["lang"] for row in rows if row["junk"] is None} == wanted
    assert {row["lang"] for row in rows if row["junk"] == "too_short"} == wanted
    assert set(multilingual.JUNK_RULES) == {row["junk"] for row in rows if row["junk"]}
    assert len({row["id"] for row in rows}) == len(rows) == 33
