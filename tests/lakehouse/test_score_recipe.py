from pathlib import Path

import pytest

from lakehouse.recipe import RecipeError, load_recipe, parse_recipe

DEFAULT = Path(__file__).resolve().parents[2] / "recipes" / "default.yaml"
MINIMAL = """\
name: minimal
landing: landing
sources:
  - {name: notes, path: "*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
"""


def test_the_default_recipe_names_its_reference_and_mixed_sources() -> None:
    recipe = load_recipe(DEFAULT).recipe
    names = {source.name for source in recipe.sources}
    assert set(recipe.score.quality.reference_sources) <= names
    assert set(recipe.score.domain.mixed_sources) <= names
    assert recipe.score.max_tokens == 256 and recipe.score.device == "auto"


def test_a_recipe_without_a_score_section_gets_the_defaults() -> None:
    score = parse_recipe(MINIMAL).score
    assert score.cpu_precision == "fp32" and score.quality.reference_sources == []
    assert score.semdedup.cosine_threshold == 0.95
    assert parse_recipe(MINIMAL + "score: {cpu_precision: bf16}\n").score.cpu_precision == "bf16"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("score: {max_tokens: 1024}", r"score\.max_tokens: Input should be less than or equal"),
        ("score: {device: tpu}", r"score\.device: Input should be 'auto', 'cpu' or 'cuda'"),
        (
            "score: {cpu_precision: fp16}",
            r"score\.cpu_precision: Input should be 'fp32', 'bf16' or 'int8'",
        ),
        ("score: {semdedup: {cosine_threshold: 1.5}}", r"score\.semdedup\.cosine_threshold"),
        ("score: {quality: {epoch: 3}}", r"score\.quality\.epoch: unknown key"),
    ],
)
def test_bad_score_settings_name_their_key(section: str, problem: str) -> None:
    with pytest.raises(RecipeError, match=problem):
        parse_recipe(MINIMAL + section + "\n")
