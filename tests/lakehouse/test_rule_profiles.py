"""Rule profiles of the recipe: which families and thresholds judge which documents."""

import pytest

from lakehouse.contracts import allowed_languages, language_score_bounds
from lakehouse.recipe import DEFAULT_PROFILE, RecipeError, load_recipe, parse_recipe
from lakehouse.storage import PROJECT_DIR

SOURCES = """
name: small
landing: landing
sources:
  - {name: notes, path: "n/*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
  - {name: repo, path: "r/*.jsonl", format: jsonl, domain: code, license: MIT}
  - {name: manual, path: "m/*.jsonl", format: jsonl, domain: reference, license: MIT}
  - {name: snippets, path: "s/*.jsonl", format: jsonl, domain: reference, license: MIT}
"""
PROFILES = """
clean:
  language: {allow: [en], min_score: 0.65}
  profiles:
    code: {domains: [code], sources: [snippets], families: [url, code]}
    reference:
      domains: [reference]
      families: [language, gopher_quality]
      overrides: {language: {min_score: 0.3}, gopher_quality: {min_alpha_words_ratio: 0.4}}
"""


def test_a_source_named_by_a_profile_wins_over_its_domain() -> None:
    clean = parse_recipe(SOURCES + PROFILES).clean
    assert clean.profile_of("notes", "prose") == DEFAULT_PROFILE
    assert clean.profile_of("repo", "code") == "code"
    assert clean.profile_of("manual", "reference") == "reference"
    assert clean.profile_of("snippets", "reference") == "code"


def test_profile_families_run_in_decision_order_with_normalize_always() -> None:
    clean = parse_recipe(SOURCES + PROFILES).clean
    assert clean.profile_families("code") == ("url", "normalize", "code")
    assert clean.profile_families("reference") == ("normalize", "language", "gopher_quality")
    # The default profile runs every family but the profile-only ones.
    assert "code" not in clean.profile_families(DEFAULT_PROFILE)
    assert "fineweb" in clean.profile_families(DEFAULT_PROFILE)


def test_profile_overrides_change_only_that_profile() -> None:
    clean = parse_recipe(SOURCES + PROFILES).clean
    reference = clean.profile_config("reference")
    assert reference.language.min_score == 0.3
    assert reference.gopher_quality.min_alpha_words_ratio == 0.4
    assert reference.gopher_quality.min_doc_words == clean.gopher_quality.min_doc_words
    assert clean.language.min_score == 0.65
    assert clean.profile_config(DEFAULT_PROFILE) is clean


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ("{code: {domains: [code], families: [cod]}}", "unknown rule family cod; known: url"),
        (
            "{code: {domains: [code], families: [code], overrides: {c4: {min_words_per_line: 1}}}}",
            "clean.c4.min_words_per_line is not a rule setting",
        ),
        (
            "{code: {domains: [code], families: [code], overrides: {prose: {x: 1}}}}",
            "'prose' is not a rule family",
        ),
        ("{default: {domains: [code], families: [code]}}", "'default' is the profile of every"),
        ("{code: {families: [code]}}", "a rule profile needs domains or sources"),
        (
            "{a: {domains: [code], families: [code]}, b: {domains: [code], families: [c4]}}",
            "domain 'code' is in profiles 'a' and 'b'",
        ),
        (
            "{a: {sources: [repo, gone], families: [code]}}",
            "clean.profiles.a names source gone, which the recipe does not have",
        ),
        (
            "{a: {domains: [legal], families: [code]}}",
            "clean.profiles.a names domain legal, which the recipe does not have",
        ),
    ],
)
def test_a_bad_profile_is_refused_in_one_line(profiles: str, message: str) -> None:
    with pytest.raises(RecipeError) as raised:
        parse_recipe(SOURCES + f"clean: {{profiles: {profiles}}}\n", origin="r.yaml")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_contracts_accept_what_each_profile_keeps() -> None:
    plain = parse_recipe(SOURCES + "clean: {language: {allow: [en, de], min_score: 0.5}}\n")
    assert allowed_languages(plain) == ["de", "en"]
    assert language_score_bounds(plain) == (0.5, 1.0)
    # A code profile keeps documents whatever their language, a reference one down to 0.3.
    profiled = parse_recipe(SOURCES + PROFILES)
    assert {"en", "de", "zh", "und"} <= set(allowed_languages(profiled))
    assert language_score_bounds(profiled) == (0.0, 1.0)
    only_reference = parse_recipe(SOURCES + PROFILES.replace("[url, code]", "[url, language]"))
    assert allowed_languages(only_reference) == ["en"]
    assert language_score_bounds(only_reference) == (0.3, 1.0)


def test_the_default_recipe_judges_code_and_reference_text_by_their_own_profiles() -> None:
    recipe = load_recipe(PROJECT_DIR / "recipes" / "default.yaml").recipe
    profiles = {s.name: recipe.clean.profile_of(s.name, s.domain) for s in recipe.sources}
    assert profiles["stdlib_python"] == "code"
    assert profiles["manpages_en"] == profiles["licenses"] == "reference"
    assert profiles["web_crawl"] == profiles["fortunes_en"] == DEFAULT_PROFILE
    assert "language" not in recipe.clean.profile_families("code")


def test_a_profile_setting_wins_over_the_same_setting_of_a_language() -> None:
    from lakehouse.rules import active_rules

    recipe = parse_recipe(
        SOURCES
        + PROFILES
        + "  languages: {de: {min_alpha_words_ratio: 0.9, min_avg_word_length: 4}}\n"
    )
    clean = recipe.clean

    def alpha_rule(config):
        (rule,) = [
            active
            for active in active_rules(config)
            if active.rule.name == "gopher_below_alpha_words_ratio"
        ]
        return rule

    assert alpha_rule(clean).threshold_for("de") == 0.9
    reference = clean.profile_config("reference")
    assert alpha_rule(reference).threshold_for("de") == 0.4
    assert alpha_rule(reference).threshold_for("en") == 0.4
    # A setting the profile does not change stays the language's.
    (length,) = [
        a for a in active_rules(reference) if a.rule.name == "gopher_below_avg_word_length"
    ]
    assert length.threshold_for("de") == 4
