import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.recipe import CleanConfig, RecipeError, load_recipe, parse_recipe
from lakehouse.rules import (
    FAMILY_NAMES,
    RULES,
    SIGNALS_BY_NAME,
    Setting,
    active_rules,
    language_overrides,
    language_rows,
    languages_markdown,
    rules_markdown,
    setting_value,
    settings,
)
from lakehouse.storage import PROJECT_DIR
from lakehouse.tables import SILVER_DOCUMENTS

BASE = """\
name: t
landing: /tmp/landing
sources:
  - {name: notes, path: "*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
"""
# The decision order the clean stage has always used (ops/rejections history depends on it).
# The URL rules come first; they fire only for documents with a URL, which earlier lakes lack.
DECISION_ORDER = [
    "url_malformed",
    "url_not_http",
    "url_blocked_domain",
    "url_domain_not_allowed",
    "url_banned_word",
    "text_too_large",
    "empty_after_normalization",
    "language_not_allowed",
    "language_score_too_low",
    "gopher_dup_para_frac",
    "gopher_dup_para_char_frac",
    "gopher_dup_line_frac",
    "gopher_dup_line_char_frac",
    "gopher_top_2_gram",
    "gopher_top_3_gram",
    "gopher_top_4_gram",
    *(f"gopher_dup_{n}_gram" for n in range(5, 11)),
    "gopher_short_doc",
    "gopher_long_doc",
    "gopher_below_avg_word_length",
    "gopher_above_avg_word_length",
    "gopher_too_many_hashes",
    "gopher_too_many_ellipsis",
    "gopher_too_many_bullet_lines",
    "gopher_too_many_ellipsis_lines",
    "gopher_below_alpha_words_ratio",
    "gopher_too_few_stop_words",
    "c4_lorem_ipsum",
    "c4_curly_bracket",
    "c4_too_few_sentences",
    "fineweb_no_lines",
    "fineweb_line_punct_ratio",
    "fineweb_short_line_ratio",
    "fineweb_char_dup_ratio",
    "fineweb_list_ratio",
]


def test_rules_keep_their_names_and_order_and_read_declared_signals() -> None:
    assert [rule.name for rule in RULES][: len(DECISION_ORDER)] == DECISION_ORDER
    assert len({rule.name for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.family in FAMILY_NAMES, rule.name
        assert rule.signal in SIGNALS_BY_NAME, rule.name
        assert rule.value_column in SIGNALS_BY_NAME, rule.name
        assert rule.meaning, rule.name


def test_every_setting_is_a_recipe_field_with_its_declared_default() -> None:
    config = CleanConfig()
    for key, setting in settings().items():
        expected = list(setting.default) if setting.kind == "codes" else setting.default
        assert setting_value(config, key) == expected, key


def test_silver_documents_has_a_column_per_quality_signal() -> None:
    for signal in SIGNALS_BY_NAME.values():
        if signal.step == "quality":
            assert SILVER_DOCUMENTS.schema.field(signal.name).type == signal.arrow_type


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("clean: {gopher_quality: {min_doc_words: -1}}", "clean.gopher_quality.min_doc_words:"),
        ("clean: {fineweb: {line_punct_thr: 2}}", "clean.fineweb.line_punct_thr:"),
        ("clean: {fineweb: {line_punct_thr: null}}", "clean.fineweb.line_punct_thr:"),
        ("clean: {normalize: {max_text_bytes: 0}}", "clean.normalize.max_text_bytes:"),
        ("clean: {language: {allow: []}}", "clean.language.allow:"),
        (
            "clean: {gopher_repetition: {dup_ngram_char_frac: {5: 1.5}}}",
            "clean.gopher_repetition.dup_ngram_char_frac.5:",
        ),
        ("clean: {c4: {filter_lorem: true}}", "clean.c4.filter_lorem: unknown key"),
    ],
)
def test_derived_settings_check_their_bounds_and_name_the_key(section: str, message: str) -> None:
    with pytest.raises(RecipeError, match=re.escape(message)):
        parse_recipe(BASE + section + "\n")


def test_active_rules_follow_flags_toggles_and_null_thresholds() -> None:
    default = {active.rule.name: active for active in active_rules(CleanConfig())}
    assert default["gopher_short_doc"].threshold == 50
    assert default["gopher_top_3_gram"].threshold == 0.18
    assert default["language_not_allowed"].threshold == ("en",)
    assert default["language_not_allowed"].reported_threshold is None
    assert default["c4_lorem_ipsum"].reported_threshold == 0.0
    assert default["fineweb_line_punct_ratio"].exempt_zero is False
    changed = CleanConfig.model_validate(
        {
            "gopher_repetition": {"enabled": False},
            "gopher_quality": {"min_doc_words": None},
            "c4": {"filter_lorem_ipsum": False},
            "fineweb": {"line_punct_exclude_zero": True},
        }
    )
    names = {active.rule.name: active for active in active_rules(changed)}
    assert not any(name.startswith("gopher_dup") for name in names)
    assert "gopher_short_doc" not in names and "gopher_long_doc" in names
    assert "c4_lorem_ipsum" not in names and "c4_curly_bracket" in names
    assert names["fineweb_line_punct_ratio"].exempt_zero is True
    only_top_2 = CleanConfig.model_validate(
        {"gopher_repetition": {"top_ngram_char_frac": {2: 0.3}}}
    )
    top = [a.rule.name for a in active_rules(only_top_2) if a.rule.name.startswith("gopher_top")]
    assert top == ["gopher_top_2_gram"]


def test_a_key_declared_twice_differently_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import lakehouse.rules as rules

    other = Setting("clean.gopher_quality.min_doc_words", "integer", 7, "other default")
    clash = rules.Rule("clash", "gopher_quality", "gopher_word_count", "below", "clash", other)
    monkeypatch.setattr(rules, "RULES", (*rules.RULES, clash))
    with pytest.raises(ValueError, match=r"clean\.gopher_quality\.min_doc_words"):
        rules.settings()


def test_docs_rules_table_is_generated_from_the_declarations() -> None:
    docs = (PROJECT_DIR / "docs" / "filters.md").read_text(encoding="utf-8")
    begin = docs.index("<!-- rules table:")
    begin = docs.index("\n", begin) + 1
    end = docs.index("<!-- end of rules table -->")
    assert docs[begin:end] == rules_markdown(), (
        "docs/filters.md is out of date: paste `python -m lakehouse.rules --markdown` "
        "between the rules-table markers"
    )


def test_markdown_command_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.rules", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
    )
    assert result.stdout == rules_markdown()
    assert "| gopher_quality | `gopher_short_doc` |" in result.stdout


def test_redpajama_all_caps_rule_is_off_until_a_recipe_sets_it() -> None:
    assert "redpajama_all_caps_words" not in {a.rule.name for a in active_rules(CleanConfig())}
    recipe = parse_recipe(BASE + "clean: {redpajama_v2: {max_all_caps_words_frac: 0.5}}\n")
    (active,) = [a for a in active_rules(recipe.clean) if a.rule.family == "redpajama_v2"]
    assert (active.rule.signal, active.threshold) == ("rps_doc_frac_all_caps_words", 0.5)
    with pytest.raises(RecipeError, match=r"clean\.redpajama_v2\.max_all_caps_words_frac:"):
        parse_recipe(BASE + "clean: {redpajama_v2: {max_all_caps_words_frac: 3}}\n")


def test_harmful_profanity_rule_is_off_until_a_recipe_sets_it() -> None:
    assert "harmful_profanity" not in {a.rule.name for a in active_rules(CleanConfig())}
    recipe = parse_recipe(BASE + "clean: {harmful_content: {max_profanity_word_ratio: 0.05}}\n")
    (active,) = [a for a in active_rules(recipe.clean) if a.rule.family == "harmful_content"]
    assert (active.rule.signal, active.threshold) == ("harmful_profanity_word_ratio", 0.05)
    assert SILVER_DOCUMENTS.schema.field("harmful_profanity_word_ratio").type == pa.float64()
    with pytest.raises(RecipeError, match=r"clean\.harmful_content\.max_profanity_word_ratio:"):
        parse_recipe(BASE + "clean: {harmful_content: {max_profanity_word_ratio: -1}}\n")


def test_docs_languages_table_is_generated_from_the_default_recipe() -> None:
    docs = (PROJECT_DIR / "docs" / "filters.md").read_text(encoding="utf-8")
    begin = docs.index("<!-- languages table:")
    begin = docs.index("\n", begin) + 1
    end = docs.index("<!-- end of languages table -->")
    clean = load_recipe(PROJECT_DIR / "recipes" / "default.yaml").recipe.clean
    assert docs[begin:end] == languages_markdown(clean), (
        "docs/filters.md is out of date: paste `python -m lakehouse.rules --markdown "
        "--languages` between the languages-table markers"
    )
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.rules", "--markdown", "--languages"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
    )
    assert result.stdout == languages_markdown(clean)
    assert "| `zh` | characters | 的 是" in result.stdout


def test_languages_table_of_a_bad_recipe_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "clean: {languages: {de: {tokenizer: jieba}}}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse.rules", "--markdown", "--languages", str(bad)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "clean.languages.de.tokenizer" in result.stderr


def test_language_settings_resolve_to_their_own_value_else_the_family() -> None:
    clean = parse_recipe(
        BASE + "clean:\n  redpajama_v2: {max_all_caps_words_frac: null}\n  languages:\n"
        "    de: {max_avg_word_length: 15, min_score: null, stop_words: [der, die]}\n"
        "    ja: {tokenizer: characters, min_avg_word_length: null}\n"
    ).clean
    assert language_overrides(clean, "clean.gopher_quality.max_avg_word_length") == {"de": 15}
    # A non-nullable setting set to null is the family's; a nullable one is off.
    assert language_overrides(clean, "clean.language.min_score") == {}
    assert language_overrides(clean, "clean.gopher_quality.min_avg_word_length") == {"ja": None}
    # Only declared per-language keys can be overridden.
    assert language_overrides(clean, "clean.fineweb.line_punct_thr") == {}
    de, ja = language_rows(clean)
    assert (de["lang"], de["stop_words"], de["max_avg_word_length"], de["min_score"]) == (
        "de",
        ["der", "die"],
        15,
        0.65,
    )
    assert (ja["tokenizer"], ja["stop_words"][0], ja["min_avg_word_length"]) == (
        "characters",
        "the",
        None,
    )
    active = {item.rule.name: item for item in active_rules(clean)}
    longest = active["gopher_above_avg_word_length"]
    assert (longest.threshold_for("de"), longest.threshold_for("en")) == (15, 10)
    assert active["gopher_below_avg_word_length"].threshold_for("ja") is None


def test_a_rule_off_by_default_runs_for_the_language_that_sets_it() -> None:
    clean = parse_recipe(
        BASE + "clean:\n  gopher_quality: {min_stop_words: null}\n"
        "  languages: {de: {min_stop_words: 3}}\n"
    ).clean
    (stops,) = [a for a in active_rules(clean) if a.rule.name == "gopher_too_few_stop_words"]
    assert (stops.threshold, stops.by_language) == (None, (("de", 3),))
    off = parse_recipe(BASE + "clean: {gopher_quality: {min_stop_words: null}}\n").clean
    assert "gopher_too_few_stop_words" not in {a.rule.name for a in active_rules(off)}
