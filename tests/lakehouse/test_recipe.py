from pathlib import Path

import pytest

from lakehouse.recipe import RecipeError, load_recipe, parse_recipe
from lakehouse.storage import PROJECT_DIR

VALID = """
name: small
landing: landing
sources:
  - {name: notes, path: "notes/*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
"""


def test_default_recipe_is_valid_and_hashed() -> None:
    loaded = load_recipe(PROJECT_DIR / "recipes" / "default.yaml")
    assert len(loaded.sha256) == 64
    assert len(loaded.recipe.sources) >= 4
    assert Path(loaded.landing_uri).is_dir()


def test_relative_landing_resolves_against_recipe_folder(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(VALID)
    loaded = load_recipe(path)
    assert loaded.landing_uri == str(tmp_path / "landing")
    source = loaded.recipe.source("notes")
    assert loaded.source_glob(source) == f"{tmp_path}/landing/notes/*.jsonl"


def test_remote_source_path_is_kept_as_is(tmp_path: Path) -> None:
    text = VALID.replace('"notes/*.jsonl"', '"s3://bucket/raw/*.jsonl"')
    path = tmp_path / "r.yaml"
    path.write_text(text)
    loaded = load_recipe(path)
    assert loaded.source_glob(loaded.recipe.sources[0]) == "s3://bucket/raw/*.jsonl"


def test_unknown_key_names_its_path() -> None:
    with pytest.raises(RecipeError, match=r"sources\.0\.colour: unknown key"):
        parse_recipe(VALID.replace("license: CC0-1.0", "license: CC0-1.0, colour: red"))


def test_bad_value_names_its_path() -> None:
    with pytest.raises(RecipeError, match=r"sources\.0\.format: Input should be 'jsonl'"):
        parse_recipe(VALID.replace("format: jsonl", "format: csv"))


def test_bad_nested_number_names_its_path() -> None:
    text = VALID + "ingest:\n  max_record_bytes: -3\n"
    with pytest.raises(RecipeError, match=r"ingest\.max_record_bytes: Input should be greater"):
        parse_recipe(text)


def test_duplicate_source_names_are_refused() -> None:
    text = VALID + (
        '  - {name: notes, path: "x/*", format: jsonl, domain: prose, license: CC0-1.0}\n'
    )
    with pytest.raises(RecipeError, match="repeated: notes"):
        parse_recipe(text)


def test_missing_sources_is_refused() -> None:
    with pytest.raises(RecipeError, match="sources: Field required"):
        parse_recipe("name: x\nlanding: y\n")


def test_invalid_yaml_and_non_mapping() -> None:
    with pytest.raises(RecipeError, match="not valid YAML"):
        parse_recipe("name: [unclosed")
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        parse_recipe("- just\n- a list\n")


def test_unreadable_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RecipeError, match="not UTF-8"):
        load_recipe(binary)


def test_unknown_source_lookup_lists_known() -> None:
    recipe = parse_recipe(VALID)
    with pytest.raises(KeyError, match="it has: notes"):
        recipe.source("other")


@pytest.mark.parametrize(
    ("section", "keys"),
    [
        (
            "clean: {gopher_quality: {min_doc_words: 500, max_doc_words: 100}}",
            "clean.gopher_quality.min_doc_words (500) is above "
            "clean.gopher_quality.max_doc_words (100)",
        ),
        (
            "clean: {gopher_quality: {min_avg_word_length: 12}}",
            "clean.gopher_quality.min_avg_word_length (12) is above "
            "clean.gopher_quality.max_avg_word_length (10)",
        ),
        (
            "curate: {target_token_shares: {prose: 0.5, code: 0.5}}",
            "curate.target_token_shares names domain code, which no source has "
            "(sources.*.domain: prose)",
        ),
    ],
)
def test_contradicting_settings_name_both_keys_in_one_line(section: str, keys: str) -> None:
    with pytest.raises(RecipeError) as raised:
        parse_recipe(VALID + section + "\n", origin="r.yaml")
    message = str(raised.value)
    assert message.startswith("r.yaml: " + keys), message
    assert "\n" not in message


def test_equal_bounds_are_allowed() -> None:
    recipe = parse_recipe(
        VALID + "clean: {gopher_quality: {min_doc_words: 80, max_doc_words: 80}}\n"
    )
    assert recipe.clean.gopher_quality.max_doc_words == 80


LANGUAGES = VALID + "clean:\n  languages:\n"


def test_a_language_entry_overrides_only_what_it_sets() -> None:
    recipe = parse_recipe(
        LANGUAGES + "    de: {max_avg_word_length: 15, min_doc_words: null}\n"
        "    zh: {tokenizer: characters, stop_words: [的, 是]}\n"
    )
    de, zh = recipe.clean.languages["de"], recipe.clean.languages["zh"]
    assert (de.max_avg_word_length, de.min_doc_words, de.tokenizer) == (15, None, None)
    assert zh.model_fields_set == {"tokenizer", "stop_words"}
    # Unset (inherited) and null (off) differ in the dump, and so in the stage's fingerprint.
    dumped = recipe.model_dump(mode="json")["clean"]["languages"]
    assert dumped == {
        "de": {"min_doc_words": None, "max_avg_word_length": 15.0},
        "zh": {"tokenizer": "characters", "stop_words": ["的", "是"]},
    }


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("German: {min_doc_words: 40}", r"clean\.languages\.German\.\[key\]: String should match"),
        ("de: {min_words: 40}", r"clean\.languages\.de\.min_words: unknown key"),
        ("zh: {tokenizer: jieba}", r"clean\.languages\.zh\.tokenizer: Input should be 'spacy'"),
        ("de: {stop_words: []}", r"clean\.languages\.de\.stop_words: List should have at least"),
        ("de: {min_alpha_words_ratio: 2}", r"languages\.de\.min_alpha_words_ratio: .*less than"),
    ],
)
def test_a_bad_language_entry_is_refused_naming_its_key(entry: str, error: str) -> None:
    with pytest.raises(RecipeError, match=error) as raised:
        parse_recipe(LANGUAGES + f"    {entry}\n")
    assert "\n" not in str(raised.value)


def test_default_recipe_keeps_ten_languages_beside_english_with_their_own_settings() -> None:
    clean = load_recipe(PROJECT_DIR / "recipes" / "default.yaml").recipe.clean
    wanted = {"de", "fr", "es", "it", "pt", "nl", "pl", "ru", "ja", "zh"}
    assert wanted | {"en"} <= set(clean.language.allow)
    assert wanted <= set(clean.languages)
    assert all(clean.languages[lang].stop_words for lang in wanted)
    assert {clean.languages[lang].tokenizer for lang in ("ja", "zh")} == {"characters"}
