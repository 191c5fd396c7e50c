from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakehouse.batches import (
    BatchError,
    batch_files,
    batch_ids,
    landing_files,
    new_batch_id,
    register_new_batch,
    validate_batch_id,
)
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import load_recipe
from tests.landing_files import note_text, write_jsonl_gz


def test_new_files_become_one_batch_each_time(
    catalog: Catalog, recipe_path: Path, landing: Path, commit: CommitInfo
) -> None:
    loaded = load_recipe(recipe_path)
    first = register_new_batch(catalog, loaded, commit, datetime(2026, 1, 1, tzinfo=UTC))
    assert first is not None and first.startswith("b20260101T000000Z-")
    assert register_new_batch(catalog, loaded, commit) is None
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", [{"text": note_text(1)}])
    second = register_new_batch(catalog, loaded, commit, datetime(2026, 1, 2, tzinfo=UTC))
    assert second is not None and second != first
    assert batch_ids(catalog) == [first, second]
    assert [Path(f.uri).name for f in batch_files(catalog, first)] == ["part-0.jsonl.gz"]
    assert [Path(f.uri).name for f in batch_files(catalog, second)] == ["part-1.jsonl.gz"]


def test_files_outside_every_source_are_ignored(recipe_path: Path, landing: Path) -> None:
    (landing / "stray.txt").write_text("not a source")
    (landing / "notes" / "readme.md").write_text("not jsonl")
    files = landing_files(load_recipe(recipe_path))
    assert [Path(f.uri).name for f in files] == ["part-0.jsonl.gz"]
    assert files[0].source == "notes" and files[0].size > 0


def test_batch_ids_are_validated_and_unknown_batches_named(catalog: Catalog) -> None:
    assert validate_batch_id("b20260101T000000Z-abc123") == "b20260101T000000Z-abc123"
    for bad in ("", "../etc", "a b", "x' or '1'='1"):
        with pytest.raises(BatchError, match="malformed"):
            validate_batch_id(bad)
    with pytest.raises(BatchError, match="no batch 'b1' is registered"):
        batch_files(catalog, "b1")


def test_batch_id_depends_on_time_and_file_set() -> None:
    when = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    from lakehouse.batches import LandingFile

    one = [LandingFile("s", "/a", 1)]
    two = [LandingFile("s", "/a", 1), LandingFile("s", "/b", 1)]
    assert new_batch_id(one, when) != new_batch_id(two, when)
    assert new_batch_id(two, when) == new_batch_id(list(reversed(two)), when)
