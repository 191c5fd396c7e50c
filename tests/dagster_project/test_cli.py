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
            "--force",
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


def test_rules_lists_every_rule_with_its_setting(capsys: pytest.CaptureFixture[str]) -> None:
    from lakehouse.rules import RULES

    rows = _json(capsys, ["rules", "--json"])
    assert [row["rule"] for row in rows] == [rule.name for rule in RULES]
    short = next(row for row in rows if row["rule"] == "gopher_short_doc")
    assert short["threshold_key"] == "clean.gopher_quality.min_doc_words"
    assert (short["default"], short["bounds"], short["unit"]) == (50, "[0, ∞), null: off", "words")
    assert short["family"] == "gopher_quality" and short["signal"] == "gopher_word_count"
    assert main(["rules"]) == 0
    text = capsys.readouterr().out
    assert "language_not_allowed" in text and "clean.language.allow" in text


def test_rules_profiles_show_which_profile_judges_each_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = {row["source"]: row for row in _json(capsys, ["rules", "--profiles", "--json"])}
    code = rows["stdlib_python"]
    assert (code["domain"], code["profile"]) == ("code", "code")
    assert "code" in code["families"].split() and "language" not in code["families"].split()
    assert rows["manpages_en"]["profile"] == "reference"
    assert "clean.language.min_score=0.3" in rows["manpages_en"]["overrides"]
    assert rows["web_crawl"]["profile"] == "default" and rows["web_crawl"]["overrides"] == ""
    assert main(["rules", "--profiles", "--recipe", "missing.yaml"]) != 0


def _signals_lake(root: Path, tmp_path: Path) -> Path:
    import pyarrow as pa

    from lakehouse.catalog import Catalog, CommitInfo
    from lakehouse.tables import SILVER_SIGNALS
    from tests.lakehouse.test_whatif import RECIPE, ROWS
    from tests.recorded_outcomes import record_written

    commit = CommitInfo("run-1", "clean", "a" * 64, "test")
    catalog = Catalog(str(root))
    version = catalog.write(SILVER_SIGNALS, pa.Table.from_pylist(ROWS), commit)
    for batch_id in sorted({row["batch_id"] for row in ROWS}):
        record_written(catalog, "clean", SILVER_SIGNALS, batch_id, version, commit)
    recipe = tmp_path / "whatif.yaml"
    recipe.write_text(RECIPE)
    return recipe


def test_whatif_reports_newly_kept_and_dropped(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _signals_lake(root, tmp_path)
    base = ["--root", str(root), "whatif", "--recipe", str(recipe)]
    report = _json(capsys, [*base, "--set", "clean.gopher_quality.min_doc_words=42", "--json"])
    assert (report["newly_kept"], report["newly_dropped"], report["documents"]) == (1, 0, 6)
    assert report["changes"][0]["before"] == 50 and report["changes"][0]["after"] == 42
    assert [row["source"] for row in report["by_source"] if row["newly_kept"]] == ["b"]
    argv = [*base, "--set", "clean.c4.min_num_sentences=12", "--set", "clean.language.allow=[en]"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("silver/signals version 0: 6 documents, kept 1 -> 0")
    assert "clean.c4.min_num_sentences" in out and "by rule family:" in out


def test_whatif_bad_input_exits_2_with_one_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "empty.yaml"
    recipe.write_text("name: t\nlanding: /tmp/x\nsources:\n" + _SOURCE)
    base = ["--root", str(root), "whatif", "--recipe", str(recipe)]
    assert main([*base, "--set", "clean.c4.min_num_sentences=3"]) == 2
    assert "silver/signals has not been written yet" in capsys.readouterr().err
    recipe = _signals_lake(root, tmp_path)
    base = ["--root", str(root), "whatif", "--recipe", str(recipe)]
    for setting, message in (
        ("clean.c4.min_sentences=3", "clean.c4.min_sentences: unknown rule setting"),
        ("clean.language.min_score=2", "clean.language.min_score: Input should be less"),
        ("clean.fineweb.short_line_length=9", "needs the clean stage re-run"),
        ("min_doc_words", "expected KEY=VALUE"),
    ):
        assert main([*base, "--set", setting]) == 2, setting
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    with pytest.raises(SystemExit) as exit_info:
        main(base)  # no --set
    assert exit_info.value.code == 2


_SOURCE = '  - {name: notes, path: "*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}\n'


def test_rules_languages_lists_each_language_as_the_recipe_resolves_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = _json(capsys, ["rules", "--languages", "--json"])
    by_lang = {row["lang"]: row for row in rows}
    assert {"de", "fr", "es", "it", "pt", "nl", "pl", "ru", "ja", "zh"} <= set(by_lang)
    assert by_lang["zh"]["tokenizer"] == "characters" and "的" in by_lang["zh"]["stop_words"]
    assert (by_lang["de"]["max_avg_word_length"], by_lang["de"]["min_doc_words"]) == (15, 50)
    assert main(["rules", "--languages"]) == 0
    assert "der die und" in capsys.readouterr().out
    missing = tmp_path / "missing.yaml"
    assert main(["rules", "--languages", "--recipe", str(missing)]) != 0
    assert "cannot read recipe" in capsys.readouterr().err
