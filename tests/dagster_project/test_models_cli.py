import json
from pathlib import Path

import pytest

from dagster_project.cli import main
from tests.dagster_project.conftest import SampleLake


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_two_funnel_runs_train_the_heads_once_and_score_both_batches_with_them(
    two_batch_lake: SampleLake, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(two_batch_lake.root)
    status = _json(capsys, ["--root", root, "models", "status", "--json"])
    assert status["stale_batches"] == {}
    batches = _json(capsys, ["--root", root, "batches", "--json"])
    first = min(batch["batch_id"] for batch in batches)
    for row in status["models"]:
        # Trained in the first run, on the first batch only: the second run did not retrain.
        assert row["version"] is not None and len(row["version"]) == 12
        assert row["batches"] == 1, row
    scored = _json(
        capsys,
        [
            "--root",
            root,
            "sql",
            "--json",
            "select batch_id, quality_model_version as q, domain_model_version as d "
            "from gold.scored_documents group by all order by batch_id",
        ],
    )
    versions = {row["model"]: row["version"] for row in status["models"]}
    assert len(scored) == 2 and scored[0]["batch_id"] == first
    assert {(row["q"], row["d"]) for row in scored} == {
        (versions["quality_classifier"], versions["domain_classifier"])
    }
    assert main(["--root", root, "models", "status"]) == 0
    out = capsys.readouterr().out
    assert f"model quality_classifier: {versions['quality_classifier']} trained " in out
    assert "stale" not in out


def test_status_of_a_lake_without_models_says_how_to_train_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path / "lake"), "models", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "model quality_classifier: never trained (funnel models train)",
        "model domain_classifier: never trained (funnel models train)",
    ]


def test_training_without_ingested_batches_fails_in_one_line(
    tmp_path: Path,
    recipe_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    argv = ["--root", str(tmp_path / "lake"), "models", "train", "--recipe", str(recipe_path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    (error,) = [line for line in out.splitlines() if line.startswith("error: ")]
    assert "bronze/documents has no ingested batch to train the heads on; ingest one" in error
