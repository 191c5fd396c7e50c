"""A source's files stay inside its root: no `..` out of landing, no symlink to elsewhere."""

from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.batches import source_files
from lakehouse.recipe import RecipeError, load_recipe

RECIPE = """
name: roots
landing: landing
sources:
  - {{name: notes, path: "{path}", format: jsonl, domain: prose, license: CC0-1.0}}
"""


def _recipe(folder: Path, path: str) -> Path:
    (folder / "landing" / "notes").mkdir(parents=True, exist_ok=True)
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE.format(path=path))
    return recipe


@pytest.mark.parametrize(
    "path", ["../../etc/host*", "../outside/*.jsonl", "notes/../../*", "./../x/*.jsonl"]
)
def test_a_relative_path_leaving_landing_is_refused_naming_the_source(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(RecipeError, match=r"sources\.notes\.path .* leads outside the landing"):
        load_recipe(_recipe(tmp_path, path))


def test_paths_inside_landing_and_explicit_absolute_paths_are_allowed(tmp_path: Path) -> None:
    assert load_recipe(_recipe(tmp_path, "notes/../notes/*.jsonl"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.jsonl").write_text('{"text": "t"}\n')
    loaded = load_recipe(_recipe(tmp_path, f"{elsewhere}/*.jsonl"))
    source = loaded.recipe.sources[0]
    assert loaded.source_root(source) == str(elsewhere)
    assert [f.uri for f in source_files(loaded, source)] == [str(elsewhere / "a.jsonl")]


def test_a_symlink_out_of_the_root_is_refused_naming_the_source(tmp_path: Path) -> None:
    loaded = load_recipe(_recipe(tmp_path, "notes/*.jsonl"))
    secret = tmp_path / "secret.txt"
    secret.write_text("not landing data\n")
    landing = tmp_path / "landing" / "notes"
    (landing / "good.jsonl").write_text('{"text": "t"}\n')
    (landing / "inner.jsonl").symlink_to(landing / "good.jsonl")  # inside: fine
    source = loaded.recipe.sources[0]
    assert len(source_files(loaded, source)) == 2
    (landing / "evil.jsonl").symlink_to(secret)
    with pytest.raises(RecipeError, match=r"sources\.notes\.path matches .*evil\.jsonl.*outside"):
        source_files(loaded, source)
    # An absolute path is its own root: a link under it pointing elsewhere is refused too.
    absolute = load_recipe(_recipe(tmp_path, f"{landing}/*.jsonl"))
    with pytest.raises(RecipeError, match="outside the source's root"):
        source_files(absolute, absolute.recipe.sources[0])


def test_the_cli_refuses_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    recipe = _recipe(tmp_path, "../../etc/host*")
    assert main(["--root", str(tmp_path / "lake"), "run", "--recipe", str(recipe)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sources.notes.path" in err
