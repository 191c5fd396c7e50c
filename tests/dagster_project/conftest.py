"""A small lake shared by the CLI tests: two batches (synthetic notes, then English documents of
the bundled sample) through `funnel run`."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagster_project.cli import main
from tests.landing_files import note_text, sample_records, write_jsonl_gz, write_recipe


@dataclass(frozen=True)
class SampleLake:
    """Where the two-batch lake lives, and its recipe and Dagster home."""

    root: Path
    recipe: Path
    dagster_home: Path


@pytest.fixture(scope="session")
def two_batch_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleLake]:
    """A lake where `funnel run` ran twice, on two landing files arriving one after the other."""
    folder = tmp_path_factory.mktemp("sample_lake")
    landing = folder / "landing"
    english = sample_records("fortunes_en", 24) + sample_records("manpages_en", 8)
    write_jsonl_gz(
        landing / "notes" / "part-0.jsonl.gz",
        [{"id": f"n{i}", "text": note_text(i)} for i in range(10)] + english[:16],
    )
    recipe = write_recipe(folder, landing)
    root = folder / "lake"
    home = folder / "dagster_home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        assert main(["--root", str(root), "run", "--recipe", str(recipe)]) == 0
        write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", english[16:])
        assert main(["--root", str(root), "run", "--recipe", str(recipe)]) == 0
    yield SampleLake(root, recipe, home)
