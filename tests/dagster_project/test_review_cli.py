from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, REVIEW_QUEUE
from tests.scored_documents import write_review_recipe, write_scored


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The recipe whose sources and mixture match the scored rows."""
    return write_review_recipe(tmp_path, landing)


def test_run_builds_the_review_queue_and_says_how_to_open_it(
    root: Path,
    recipe_path: Path,
    catalog: Catalog,
    commit: CommitInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    argv = ["--root", str(root), "run", "--recipe", str(recipe_path)]
    assert main(argv) == 0  # nothing scored yet: no candidate, no review line
    out = capsys.readouterr().out
    assert "nothing to do" in out and "review:" not in out

    write_scored(catalog, commit)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "review: 12 of 12 queued documents wait for review (review/queue@0)" in out
    assert "funnel review serve" in out and "http://127.0.0.1:8765/" in out
    assert catalog.version(GOLD_RELEASE_CANDIDATE) == 0

    # Nothing new: the candidate is not rebuilt, the queue still waits for people.
    assert main(argv) == 0
    assert "12 of 12 queued documents wait" in capsys.readouterr().out
    assert catalog.version(REVIEW_QUEUE) == 0


def test_release_commands_before_any_release(
    root: Path, recipe_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(root), "release", "list"]) == 0
    assert capsys.readouterr().out.strip() == "(no releases)"
    assert main(["--root", str(root), "release", "show", "r1", "--json"]) == 1
    assert "no release named 'r1'; published: none yet" in capsys.readouterr().err
    report = ["--root", str(root), "review", "report", "--recipe", str(recipe_path)]
    assert main(report) == 0
    assert "nothing to review" in capsys.readouterr().out
