from pathlib import Path

import pytest

from lakehouse.catalog import Catalog
from lakehouse.planner import (
    PlannerError,
    answer_clarify,
    apply_patches,
    catalogue,
    find_languages,
    find_quantities,
    plan_id,
    plan_request,
    split_clauses,
)
from lakehouse.plans import (
    PlanStoreError,
    approve_plan,
    current_plan,
    mark_applied,
    plan_history,
    record_plan,
    reject_plan,
    write_plan_recipe,
)
from lakehouse.recipe import Recipe, load_recipe, validate_recipe
from lakehouse.rules import settings
from lakehouse.tables import OPS_PLANS

DEFAULT = Path(__file__).resolve().parents[2] / "recipes" / "default.yaml"
# The languages the default recipe keeps.
ALLOWED = load_recipe(DEFAULT).recipe.clean.language.allow


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(DEFAULT).recipe


def _changes(result: object) -> dict[str, object]:
    return {patch.path: patch.new for patch in result.patches}  # type: ignore[attr-defined]


def test_catalogue_holds_every_rule_setting_with_its_bounds() -> None:
    entries = {entry.key: entry for entry in catalogue()}
    assert set(settings()) <= set(entries)
    words = entries["clean.gopher_quality.min_doc_words"]
    assert (words.kind, words.minimum, words.direction) == ("integer", 0, "min")
    assert "gopher_short_doc" in words.rules
    quality = entries["curate.min_quality_score"]  # from the recipe model's field bounds
    assert (quality.minimum, quality.maximum, quality.fraction) == (0, 1, True)


def test_a_compound_request_becomes_ordered_patches_and_a_valid_recipe(recipe: Recipe) -> None:
    result = plan_request("keep Swedish too and require at least 30 words", recipe)
    assert result.status == "plan"
    assert [(p.path, p.old, p.new) for p in result.patches] == [
        ("clean.language.allow", ALLOWED, [*ALLOWED, "sv"]),
        ("clean.gopher_quality.min_doc_words", 50, 30),
    ]
    assert result.patches[0].source == "keep Swedish too"
    assert result.patches[1].source == "require at least 30 words"
    assert result.recipe is not None
    assert validate_recipe(result.recipe).clean.gopher_quality.min_doc_words == 30


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("don't drop code", {"clean.c4.filter_curly_bracket": False}),
        ("at most 20% bullet lines", {"clean.gopher_quality.max_bullet_lines_ratio": 0.2}),
        ("top 3-gram share at most 15%", {"clean.gopher_repetition.top_ngram_char_frac.3": 0.15}),
        ("keep documents up to 500 KB", {"clean.normalize.max_text_bytes": 500_000}),
        ("lower the minimum quality score by 10%", {"curate.min_quality_score": 0.45}),
        (
            "between 20 and 5000 words",
            {
                "clean.gopher_quality.min_doc_words": 20,
                "clean.gopher_quality.max_doc_words": 5000,
            },
        ),
        ("only Spanish", {"clean.language.allow": ["es"]}),
        ("allow sv and fi", {"clean.language.allow": [*ALLOWED, "sv", "fi"]}),
        ("run every day at 3am", {"schedule.cron": "0 3 * * *"}),
        ("disable the C4 rules", {"clean.c4.enabled": False}),
        ("set clean.c4.min_num_sentences=3", {"clean.c4.min_num_sentences": 3}),
    ],
)
def test_plans_read_quantities_units_languages_and_negations(
    recipe: Recipe, request_text: str, expected: dict[str, object]
) -> None:
    result = plan_request(request_text, recipe)
    assert result.status == "plan", result.as_dict()
    assert _changes(result) == expected


def test_a_mixture_rescales_the_domains_it_does_not_name(recipe: Recipe) -> None:
    result = plan_request("40% code, 30% prose, 20% reference and 10% legal", recipe)
    assert _changes(result) == {
        "curate.target_token_shares": {"code": 0.4, "legal": 0.1, "prose": 0.3, "reference": 0.2}
    }
    partial = plan_request("45% code", recipe)
    shares = _changes(partial)["curate.target_token_shares"]
    assert shares["code"] == 0.45 and sum(shares.values()) == pytest.approx(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("request_text", "reason"),
    [
        ("keep Klingon", "does not know Klingon (tlh)"),
        ("add language zz", "does not know"),
        ("40% code, 30% prose, 50% legal", "sum to 120%"),
        ("set the language confidence to 1.5", "must be ≤ 1"),
        ("delete the bronze table", "destructive"),
        ("wipe the ledger", "destructive"),
        ("delete all documents in the bronze table", "destructive"),
        ("filter toxic content", "no toxicity filtering"),
        (
            "drop English, German, French, Spanish, Italian, Portuguese, Dutch, Polish, Russian, "
            "Japanese and Chinese",
            "needs at least one language",
        ),
        ("30% code and 20% poetry", "'poetry' is not a domain"),
    ],
)
def test_rejects_say_why_and_plan_nothing(recipe: Recipe, request_text: str, reason: str) -> None:
    result = plan_request(request_text, recipe)
    assert result.status == "reject"
    assert reason in result.reason
    assert result.patches == [] and result.recipe is None


def test_a_reject_names_the_nearest_supported_alternative(recipe: Recipe) -> None:
    assert "curate.min_quality_score" in plan_request("remove hate speech", recipe).alternative
    assert plan_request("at most 150% bullet lines", recipe).alternative.endswith(": 1.0")


@pytest.mark.parametrize(
    "request_text", ["make the data better", "fewer duplicates", "turn off the gopher rules"]
)
def test_vague_requests_ask_with_concrete_options(recipe: Recipe, request_text: str) -> None:
    result = plan_request(request_text, recipe)
    assert result.status == "clarify" and result.recipe is None
    options = [option for question in result.questions for option in question.options]
    keys = {entry.key for entry in catalogue()}
    assert options and all(option.path in keys for option in options)


def test_an_answer_picks_an_option_and_becomes_a_plan(recipe: Recipe) -> None:
    asked = plan_request("turn off the gopher rules", recipe)
    paths = [option.path for option in asked.questions[0].options]
    assert paths == ["clean.gopher_repetition.enabled", "clean.gopher_quality.enabled"]
    answered = answer_clarify(asked, "2", recipe)
    assert answered.status == "plan"
    assert _changes(answered) == {"clean.gopher_quality.enabled": False}
    by_words = answer_clarify(asked, "the repetition ones", recipe)
    assert _changes(by_words) == {"clean.gopher_repetition.enabled": False}
    vague = plan_request("fewer duplicates", recipe)
    valued = answer_clarify(vague, "the semantic one, 0.9", recipe)
    assert _changes(valued) == {"score.semdedup.cosine_threshold": 0.9}
    assert valued.request == "fewer duplicates → the semantic one, 0.9"
    assert valued.patches[0].source == valued.request


def test_the_same_request_gives_the_same_answer(recipe: Recipe) -> None:
    text = "keep French too; at most 25% of characters in repeated lines"
    first, second = plan_request(text, recipe), plan_request(text, recipe)
    assert first.as_dict() == second.as_dict()
    assert plan_id(text, "a" * 64) == plan_id(text, "a" * 64) != plan_id(text, "b" * 64)


def test_bad_input_is_an_error(recipe: Recipe) -> None:
    with pytest.raises(PlannerError, match="empty request"):
        plan_request("   ", recipe)
    with pytest.raises(PlannerError, match="longer than 2000"):
        plan_request("keep German " * 300, recipe)


def test_parsers() -> None:
    assert [(q.value, q.percent) for q in find_quantities("2 MB and 15% and 50k")] == [
        (2_000_000, False),
        (15, True),
        (50_000, False),
    ]
    assert find_quantities("top 3-gram") == []
    assert find_languages("keep German and 'fr' too") == [("de", True), ("fr", True)]
    assert find_languages("keep Klingon") == [("tlh", False)]
    assert find_languages("is it ok to drop code") == []
    assert split_clauses("keep German, French and Italian too; at most 20% bullet lines") == [
        "keep German, French, Italian too",
        "at most 20% bullet lines",
    ]


def test_apply_patches_refuses_a_recipe_that_changed(recipe: Recipe) -> None:
    result = plan_request("require at least 30 words", recipe)
    patches = [{"path": p.path, "old": p.old, "new": p.new} for p in result.patches]
    assert apply_patches(recipe, patches).clean.gopher_quality.min_doc_words == 30
    changed = apply_patches(recipe, [{**patches[0], "new": 40}])
    with pytest.raises(PlannerError, match="the plan expected 50"):
        apply_patches(changed, patches)


def test_plans_are_proposed_approved_and_applied_in_ops_plans(
    tmp_path: Path, recipe: Recipe
) -> None:
    catalog = Catalog(str(tmp_path / "lake"))
    recipe_file = tmp_path / "default.yaml"
    recipe_file.write_text(DEFAULT.read_text().replace("../data", str(DEFAULT.parents[1] / "data")))
    loaded = load_recipe(recipe_file)
    result = plan_request("keep Swedish too", loaded.recipe)
    identity = plan_id(result.request, loaded.sha256)
    stored = record_plan(catalog, identity, result, str(recipe_file), loaded.sha256)
    assert stored.status == "proposed" and stored.by == "planner"
    assert record_plan(catalog, identity, result, str(recipe_file), loaded.sha256) == stored
    with pytest.raises(PlanStoreError, match="--by"):
        approve_plan(catalog, identity, " ")
    approve_plan(catalog, identity, "alice")
    with pytest.raises(PlanStoreError, match="is approved; only a proposed"):
        approve_plan(catalog, identity, "bob")
    with pytest.raises(PlanStoreError, match="no plan"):
        approve_plan(catalog, "plan-000000000000", "alice")
    plan = current_plan(catalog, identity)
    written = write_plan_recipe(
        recipe_file, plan, apply_patches(loaded.recipe, plan.patches).model_dump()
    )
    assert written.name == "default.v1.yaml"
    assert load_recipe(written).recipe.clean.language.allow == [*ALLOWED, "sv"]
    assert identity in written.read_text().splitlines()[0]
    assert write_plan_recipe(written, plan, loaded.recipe.model_dump()).name == ("default.v2.yaml")
    mark_applied(catalog, identity, "alice", str(written))
    history = plan_history(catalog, identity)
    assert [(row.status, row.by) for row in history] == [
        ("proposed", "planner"),
        ("approved", "alice"),
        ("applied", "alice"),
    ]
    assert history[-1].applied_recipe == str(written)
    assert catalog.read(OPS_PLANS).num_rows == 3


def test_a_rejected_plan_cannot_be_approved(tmp_path: Path, recipe: Recipe) -> None:
    catalog = Catalog(str(tmp_path / "lake"))
    result = plan_request("at least 3 sentences", recipe)
    record_plan(catalog, "plan-aaaaaaaaaaaa", result, "r.yaml", "a" * 64)
    assert reject_plan(catalog, "plan-aaaaaaaaaaaa", "bob").status == "rejected"
    with pytest.raises(PlanStoreError, match="is rejected"):
        approve_plan(catalog, "plan-aaaaaaaaaaaa", "alice")
