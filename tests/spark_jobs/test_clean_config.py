import pytest

from lakehouse.recipe import CleanConfig, RecipeError, parse_recipe

BASE = """\
name: t
landing: /tmp/landing
sources:
  - {name: notes, path: "*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
"""


def test_defaults_are_fineweb_settings() -> None:
    config = parse_recipe(BASE).clean
    assert config == CleanConfig()
    assert config.tokenizer == "spacy"
    assert config.language.allow == ["en"] and config.language.min_score == 0.65
    assert config.c4.filter_no_terminal_punct is False
    assert config.gopher_repetition.top_ngram_char_frac == {2: 0.2, 3: 0.18, 4: 0.16}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("clean: {tokenizer: words}", "clean.tokenizer:"),
        (
            "clean: {gopher_quality: {min_stop_word: 2}}",
            "clean.gopher_quality.min_stop_word: unknown key",
        ),
        ("clean: {language: {min_score: 1.5}}", "clean.language.min_score:"),
        (
            "clean: {gopher_repetition: {top_ngram_char_frac: {7: 0.1}}}",
            "clean.gopher_repetition.top_ngram_char_frac",
        ),
        ("clean: {pii: {kinds: [ssn]}}", "clean.pii.kinds.0:"),
    ],
)
def test_bad_clean_settings_name_their_key_path(section: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message.replace(".", r"\.")):
        parse_recipe(BASE + section + "\n")
