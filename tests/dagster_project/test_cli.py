import json
from pathlib import Path

import pytest

from dagster_project.cli import main
from tests.landing_files import note_text, write_jsonl_gz


@pytest.fixture(autouse=True)
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_run_then_inspect_the_lakehouse(
    root: Path, recipe_path: Path, capsys: pytest.CaptureFixture[str], dagster_home: Path
) -> None:
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    out = capsys.readouterr().out
    assert "SUCCESS" in out
    assert "check bronze/documents:conservation: PASSED" in out
    ingest_line = next(line for line in out.splitlines() if line.startswith("ingest"))
    assert ingest_line.split()[:6] == ["ingest", "50", "50", "0", "0", "bronze/documents"]
    assert (dagster_home / "dagster.yaml").exists()

    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    assert "nothing to do" in capsys.readouterr().out

    tables = _json(capsys, ["--root", str(root), "tables", "--json"])
    by_name = {row["table"]: row for row in tables}
    assert by_name["bronze/documents"]["rows"] == 50
    assert by_name["bronze/documents"]["stage"] == "ingest"
    assert {"bronze/documents", "bronze/quarantine", "ops/batches", "ops/ledger"} <= set(by_name)

    rows = _json(
        capsys,
        [
            "--root",
            str(root),
            "sql",
            "--json",
            "select count(*) as n, count(distinct doc_id) as ids from bronze.documents",
        ],
    )
    assert rows == [{"n": 50, "ids": 50}]

    (batch,) = _json(capsys, ["--root", str(root), "batches", "--json"])
    runs = _json(
        capsys,
        [
            "--root",
            str(root),
            "run",
            "--recipe",
            str(recipe_path),
            "--batch",
            batch["batch_id"],
            "--json",
        ],
    )
    ingest_stage = next(stage for stage in runs[0]["stages"] if stage["stage"] == "ingest")
    assert runs[0]["success"] and ingest_stage["output_version"] == 1

    history = _json(capsys, ["--root", str(root), "history", "bronze/documents", "--json"])
    assert [entry["version"] for entry in history] == [1, 0]
    assert history[0]["run_id"] == runs[0]["run_id"]


def test_bad_recipe_exits_2_naming_the_key(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: x\nlanding: y\nsources: []\ningest: {max_record_bytes: 0}\n")
    assert main(["--root", str(root), "run", "--recipe", str(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "sources: List should have at least 1 item" in err
    assert "ingest.max_record_bytes: Input should be greater than 0" in err


def test_bad_usage_exits_2(
    root: Path, recipe_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path), "--batch", "nope"]) == 2
    assert "no batch 'nope' is registered" in capsys.readouterr().err
    assert main(["--root", str(root), "sql", "select * from nowhere.at_all"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["--root", str(root), "history", "silver/nope"]) == 2
    assert "unknown table" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_bad_storage_options_exit_2(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FUNNEL_STORAGE_OPTIONS", "{not json")
    assert main(["--root", str(root), "tables"]) == 2
    assert "FUNNEL_STORAGE_OPTIONS is not valid JSON" in capsys.readouterr().err


def test_tables_on_an_empty_lakehouse(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _json(capsys, ["--root", str(root), "tables", "--json"]) == []


def test_drift_is_reported_as_a_warning_without_failing_the_run(
    root: Path, recipe_path: Path, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    capsys.readouterr()
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", [{"text": note_text(1)}])
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    out = capsys.readouterr().out
    assert "check bronze/documents:drift: WARNING" in out
    assert "check bronze/documents:contract: PASSED" in out
    assert "SUCCESS" in out
