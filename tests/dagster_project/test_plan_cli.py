import json
from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.catalog import Catalog
from lakehouse.plans import plan_history
from lakehouse.recipe import load_recipe
from tests.landing_files import sample_records, write_jsonl_gz, write_recipe

DEFAULT = Path(__file__).resolve().parents[2] / "recipes" / "default.yaml"


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    """The default recipe, copied (landing made absolute) so applied versions land in tmp."""
    path = tmp_path / "recipes" / "default.yaml"
    path.parent.mkdir()
    path.write_text(DEFAULT.read_text().replace("../data", str(DEFAULT.parents[1] / "data")))
    return path


def _plan(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> dict[str, object]:
    assert main(argv) == code
    return json.loads(capsys.readouterr().out)


def test_plan_approve_then_run_with_the_plan_writes_a_new_recipe(
    root: Path, recipe_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", str(root), "plan", "--recipe", str(recipe_file)]
    answer = _plan(capsys, [*base, "--json", "keep Swedish too and require at least 30 words"], 0)
    assert set(answer) >= {"status", "plan_id", "patches", "recipe", "questions", "reason"}
    assert answer["status"] == "plan"
    assert [p["path"] for p in answer["patches"]] == [  # type: ignore[union-attr]
        "clean.language.allow",
        "clean.gopher_quality.min_doc_words",
    ]
    plan_id = str(answer["plan_id"])
    # Only an approved plan runs.
    assert main(["--root", str(root), "run", "--plan", plan_id]) == 2
    assert "only an approved plan runs" in capsys.readouterr().err
    assert main(["--root", str(root), "plan", "approve", plan_id]) == 2
    assert "--by NAME" in capsys.readouterr().err
    assert main(["--root", str(root), "plan", "approve", plan_id, "--by", "alice"]) == 0
    assert f"plan {plan_id} approved by alice" in capsys.readouterr().out
    assert main(["--root", str(root), "plan", "reject", plan_id, "--by", "bob"]) == 2
    assert "is approved" in capsys.readouterr().err

    from dagster_project.plan_cli import plan_recipe
    from lakehouse.plans import mark_applied

    written = Path(plan_recipe(Catalog(str(root)), plan_id))
    mark_applied(Catalog(str(root)), plan_id, "alice", str(written))
    assert written == recipe_file.parent / "default.v1.yaml"
    recipe = load_recipe(written).recipe
    assert recipe.clean.language.allow == [*load_recipe(DEFAULT).recipe.clean.language.allow, "sv"]
    assert recipe.clean.gopher_quality.min_doc_words == 30
    statuses = [row.status for row in plan_history(Catalog(str(root)), plan_id)]
    assert statuses == ["proposed", "approved", "applied"]
    shown = _plan(capsys, ["--root", str(root), "plan", "show", plan_id, "--json"], 0)
    assert [row["by"] for row in shown] == ["planner", "alice", "alice"]  # type: ignore[index]


def test_clarify_then_answer(
    root: Path, recipe_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", str(root), "plan", "--recipe", str(recipe_file)]
    asked = _plan(capsys, [*base, "--json", "turn off the gopher rules"], 2)
    assert asked["status"] == "clarify" and asked["patches"] == []
    options = asked["questions"][0]["options"]  # type: ignore[index]
    assert options[0]["path"] == "clean.gopher_repetition.enabled"
    answered = _plan(capsys, [*base, "--json", "--answer", str(asked["plan_id"]), "1"], 0)
    assert answered["status"] == "plan"
    assert answered["patches"][0]["path"] == "clean.gopher_repetition.enabled"  # type: ignore[index]
    history = plan_history(Catalog(str(root)), str(answered["plan_id"]))
    assert history[0].parent_plan_id == asked["plan_id"]
    # A plan that is not a clarify takes no answer.
    assert main([*base, "--answer", str(answered["plan_id"]), "1"]) == 2
    assert "not clarify" in capsys.readouterr().err


def test_reject_and_human_output(
    root: Path, recipe_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", str(root), "plan", "--recipe", str(recipe_file)]
    rejected = _plan(capsys, [*base, "--json", "delete the bronze table"], 2)
    assert rejected["status"] == "reject" and "destructive" in str(rejected["reason"])
    assert main([*base, "keep Klingon"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("reject  plan-") and "does not know Klingon" in out
    assert main([*base, "at least 3 sentences"]) == 0
    out = capsys.readouterr().out
    assert "clean.c4.min_num_sentences: 5 -> 3" in out and "plan approve" in out


def test_bad_usage_exits_2_with_one_line(
    root: Path, recipe_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", str(root), "plan", "--recipe", str(recipe_file)]
    for argv, message in (
        ([*base, "   "], "empty request"),
        ([*base, "approve"], "usage: funnel plan approve PLAN_ID"),
        (["--root", str(root), "plan", "approve", "plan-nope", "--by", "a"], "no plan"),
        ([*base, "--answer", "plan-nope", "1"], "no plan"),
        (["--root", str(root), "plan", "--recipe", "/no/such.yaml", "x"], "cannot read recipe"),
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_dry_run_counts_from_stored_signals(
    root: Path, tmp_path: Path, recipe_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--root", str(root), "plan", "--recipe", str(recipe_file), "--dry-run"]
    assert main([*base, "at least 42 words"]) == 0
    assert "dry run: not available: silver/signals has not been written" in (
        capsys.readouterr().out
    )
    from tests.dagster_project.test_cli import _signals_lake

    recipe = _signals_lake(root, tmp_path)
    argv = ["--root", str(root), "plan", "--recipe", str(recipe), "--dry-run", "--json"]
    answer = _plan(capsys, [*argv, "at least 42 words"], 0)
    report = answer["dry_run"]["whatif"]  # type: ignore[index]
    assert (report["newly_kept"], report["newly_dropped"], report["documents"]) == (1, 0, 6)
    assert main([*argv[:-1], "at least 42 words"]) == 0
    assert "newly kept 1, newly dropped 0" in capsys.readouterr().out


@pytest.mark.slow
def test_a_request_traced_from_plan_to_the_documents_it_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Request → plan → dry run → approval → run → `funnel trace` naming the plan (and who
    approved it) for a document the change dropped; the dry run predicted exactly those."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    landing = tmp_path / "landing"
    records = sample_records("manpages_en", 12) + sample_records("fortunes_en", 8)
    write_jsonl_gz(landing / "notes" / "part-0.jsonl.gz", records)
    recipe = write_recipe(tmp_path, landing)
    root = ["--root", str(tmp_path / "lake")]
    assert main([*root, "run", "--recipe", str(recipe)]) == 0
    capsys.readouterr()
    catalog = Catalog(str(tmp_path / "lake"))
    kept_before = set(catalog.read("silver/documents")["doc_id"].to_pylist())
    request = "require at least 400 words"
    argv = [*root, "plan", "--recipe", str(recipe), "--json", "--dry-run", request]
    answer = _plan(capsys, argv, 0)
    plan_id = str(answer["plan_id"])
    predicted = answer["dry_run"]["whatif"]["newly_dropped"]  # type: ignore[index]
    assert predicted > 0
    reruns = answer["dry_run"]["reruns"]  # type: ignore[index]
    assert [rerun["stage"] for rerun in reruns] == [
        "clean",
        "dedup",
        "decontaminate",
        "score",
        "curate",
        "review",
    ]
    assert reruns[0]["batches"] == 1 and reruns[0]["estimated_seconds"] > 0
    assert main([*root, "plan", "approve", plan_id, "--by", "alice"]) == 0
    assert main([*root, "run", "--plan", plan_id]) == 0
    capsys.readouterr()
    dropped = sorted(kept_before - set(catalog.read("silver/documents")["doc_id"].to_pylist()))
    assert len(dropped) == predicted
    rules = {row["doc_id"]: row["rule"] for row in catalog.read("ops/rejections").to_pylist()}
    assert {rules[doc_id] for doc_id in dropped} == {"gopher_short_doc"}
    assert main([*root, "trace", dropped[0]]) == 0
    shown = capsys.readouterr().out
    assert plan_id in shown and "gopher_short_doc" in shown
    assert f'plan {plan_id}: "{request}" (approved by alice' in shown
    assert plan_history(catalog, plan_id)[-1].status == "applied"
    commit = catalog.commit_at("silver/documents", catalog.version("silver/documents"))
    assert commit is not None and commit.plan_id == plan_id
