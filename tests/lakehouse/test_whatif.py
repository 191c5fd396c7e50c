from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import CleanConfig, LoadedRecipe, parse_recipe
from lakehouse.tables import SILVER_SIGNALS
from lakehouse.whatif import WhatIfError, apply_overrides, first_rules, parse_overrides, what_if

RECIPE = """\
name: t
landing: /tmp/landing
sources:
  - {name: notes, path: "*.jsonl", format: jsonl, domain: prose, license: CC0-1.0}
"""
# Signals that no default rule fires on.
GOOD: dict[str, Any] = {
    "text_bytes": 1000,
    "text_chars": 900,
    "normalized_chars": 900,
    "lang": "en",
    "lang_score": 0.9,
    "gopher_word_count": 200,
    "gopher_mean_word_length": 5.0,
    "gopher_alpha_words_ratio": 0.95,
    "gopher_stop_words": 5,
    "c4_sentences": 10,
    "fineweb_lines": 10,
    "fineweb_line_punct_ratio": 0.9,
    "fineweb_short_line_ratio": 0.1,
    "fineweb_char_dup_ratio": 0.0,
    "fineweb_newline_ratio": 0.05,
}


def signal_row(doc_id: str, source: str, rule: str | None, **changed: Any) -> dict[str, Any]:
    """One silver/signals row: GOOD signals with some changed, zero for the rest."""
    row: dict[str, Any] = {name: 0 for name in SILVER_SIGNALS.schema.names}
    row |= {"doc_id": doc_id, "batch_id": "b1", "source": source, "domain": "prose"}
    return row | GOOD | changed | {"rule": rule}


ROWS = [
    signal_row("d1", "a", None),
    signal_row("d2", "a", "gopher_short_doc", gopher_word_count=40),
    signal_row("d3", "b", "gopher_short_doc", gopher_word_count=45),
    signal_row("d4", "b", "language_not_allowed", lang="de"),
    signal_row("d5", "b", "c4_too_few_sentences", c4_sentences=4),
    signal_row("d6", "a", "blocklist"),  # dropped by a reviewer: never re-decided
]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Catalog, LoadedRecipe, int]:
    catalog = Catalog(str(tmp_path / "lake"))
    commit = CommitInfo("run-1", "clean", "a" * 64, "test")
    version = catalog.write(SILVER_SIGNALS, pa.Table.from_pylist(ROWS), commit)
    loaded = LoadedRecipe(parse_recipe(RECIPE), tmp_path / "r.yaml", "b" * 64)
    return catalog, loaded, version


def test_first_rules_reproduce_the_stored_decisions() -> None:
    table = pa.Table.from_pylist(ROWS).cast(SILVER_SIGNALS.schema)
    assert first_rules(table, CleanConfig()).to_pylist() == [
        None,
        "gopher_short_doc",
        "gopher_short_doc",
        "language_not_allowed",
        "c4_too_few_sentences",
        None,
    ]


def test_each_change_alone_and_all_together(setup: tuple[Catalog, LoadedRecipe, int]) -> None:
    catalog, loaded, version = setup
    overrides = parse_overrides(
        ["clean.gopher_quality.min_doc_words=42", "clean.c4.min_num_sentences=12"]
    )
    report = what_if(catalog, loaded, version, overrides)
    assert (report.documents, report.signals_version, report.stored_rule_mismatches) == (6, 0, 0)
    (words, sentences) = report.changes
    assert (words.key, words.before, words.after) == ("clean.gopher_quality.min_doc_words", 50, 42)
    assert (words.newly_kept, words.newly_dropped) == (1, 0)  # d3
    assert (sentences.newly_kept, sentences.newly_dropped) == (0, 1)  # d1
    # Together, d3 is kept by Gopher but then dropped by C4: only d1 changes.
    assert (report.kept_before, report.kept_after) == (1, 0)
    assert (report.newly_kept, report.newly_dropped) == (0, 1)
    assert report.by_family == [
        {"family": "c4", "documents": 1, "kept_before": 1, "kept_after": 0, "newly_kept": 0}
        | {"newly_dropped": 1}
    ]
    by_source = {row["source"]: row for row in report.by_source}
    assert by_source["a"]["documents"] == 3 and by_source["a"]["newly_dropped"] == 1
    assert by_source["b"]["newly_dropped"] == 0
    assert {row["lang"]: row["documents"] for row in report.by_lang} == {"de": 1, "en": 5}
    assert report.as_dict()["stage"] == "clean"


def test_lists_flags_and_family_switches(setup: tuple[Catalog, LoadedRecipe, int]) -> None:
    catalog, loaded, version = setup
    languages = what_if(catalog, loaded, version, {"clean.language.allow": ["en", "de"]})
    assert (languages.newly_kept, languages.by_lang[0]["lang"]) == (1, "de")
    assert languages.by_lang[0]["newly_kept"] == 1
    c4_off = what_if(catalog, loaded, version, parse_overrides(["clean.c4.enabled=false"]))
    assert (c4_off.newly_kept, c4_off.by_family[0]["family"]) == (1, "c4")  # d5
    off = what_if(catalog, loaded, version, {"clean.gopher_quality.min_doc_words": None})
    assert off.newly_kept == 2  # d2, d3; the blocklisted d6 stays dropped


def test_a_stored_rule_the_recipe_disagrees_with_is_counted(tmp_path: Path) -> None:
    catalog = Catalog(str(tmp_path / "lake"))
    stale = [*ROWS[:4], signal_row("d5", "b", None, c4_sentences=4)]
    commit = CommitInfo("run-1", "clean", "a" * 64, "test")
    version = catalog.write(SILVER_SIGNALS, pa.Table.from_pylist(stale), commit)
    loaded = LoadedRecipe(parse_recipe(RECIPE), tmp_path / "r.yaml", "b" * 64)
    report = what_if(catalog, loaded, version, {"clean.c4.min_num_sentences": 5})
    assert report.stored_rule_mismatches == 1
    assert (report.newly_kept, report.newly_dropped) == (0, 0)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["clean.gopher_quality.min_doc_word=3"], "unknown rule setting"),
        (["curate.min_quality=0.3"], "unknown rule setting"),
        (["clean.fineweb.short_line_length=20"], "needs the clean stage re-run"),
        (["curate.min_quality_score=0.3"], "not a rule setting"),
        (["clean.language.min_score=1.5"], "clean.language.min_score: Input should be less"),
        (["clean.gopher_quality.min_doc_words=many"], "clean.gopher_quality.min_doc_words:"),
        (["clean.gopher_repetition.top_ngram_char_frac.2=-1"], "top_ngram_char_frac.2:"),
        (["clean.c4.min_num_sentences"], "expected KEY=VALUE"),
        (["clean.c4.min_num_sentences=[3"], "not valid YAML"),
    ],
)
def test_bad_overrides_name_the_key(pairs: list[str], message: str) -> None:
    recipe = parse_recipe(RECIPE)
    with pytest.raises(WhatIfError, match=message.replace(".", r"\.").replace("[", r"\[")):
        apply_overrides(recipe, parse_overrides(pairs))


def test_nothing_to_evaluate_is_an_error(setup: tuple[Catalog, LoadedRecipe, int]) -> None:
    catalog, loaded, version = setup
    with pytest.raises(WhatIfError, match="at least one --set"):
        what_if(catalog, loaded, version, {})


def test_a_rule_that_is_off_by_default_can_be_tried(tmp_path: Path) -> None:
    catalog = Catalog(str(tmp_path / "lake"))
    shouting = signal_row("d7", "a", None, rps_doc_frac_all_caps_words=0.8)
    commit = CommitInfo("run-1", "clean", "a" * 64, "test")
    rows = [*ROWS, shouting]
    version = catalog.write(SILVER_SIGNALS, pa.Table.from_pylist(rows), commit)
    loaded = LoadedRecipe(parse_recipe(RECIPE), tmp_path / "r.yaml", "b" * 64)
    key = "clean.redpajama_v2.max_all_caps_words_frac"
    report = what_if(catalog, loaded, version, parse_overrides([f"{key}=0.5"]))
    assert (report.newly_dropped, report.by_family[0]["family"]) == (1, "redpajama_v2")
    assert (report.changes[0].before, report.changes[0].after) == (None, 0.5)


def test_a_language_threshold_replaces_the_default_for_its_documents() -> None:
    rows = [
        signal_row("en", "a", None, gopher_word_count=80),
        signal_row("zh", "a", None, lang="zh", gopher_word_count=80),
        signal_row("ja", "a", None, lang="ja", gopher_word_count=10, gopher_mean_word_length=1.0),
    ]
    recipe = RECIPE + (
        "clean:\n  language: {allow: [en, zh, ja]}\n  languages:\n"
        "    zh: {min_doc_words: 100}\n"
        "    ja: {min_doc_words: null, min_avg_word_length: null}\n"
    )
    clean = parse_recipe(recipe).clean
    # en: the family's 50 words; zh: its own 100; ja: both rules off for it alone.
    assert first_rules(pa.Table.from_pylist(rows), clean).to_pylist() == [
        None,
        "gopher_short_doc",
        None,
    ]
    default = parse_recipe(RECIPE + "clean: {language: {allow: [en, zh, ja]}}\n").clean
    assert first_rules(pa.Table.from_pylist(rows), default).to_pylist() == [
        None,
        None,
        "gopher_short_doc",
    ]


def test_whatif_tries_one_language_threshold() -> None:
    rows = [
        signal_row("en", "a", None, gopher_word_count=80),
        signal_row("zh", "a", None, lang="zh", gopher_word_count=80),
    ]
    recipe = parse_recipe(RECIPE + "clean: {language: {allow: [en, zh]}}\n")
    changed = apply_overrides(recipe, {"clean.languages.zh.min_doc_words": 100})
    assert changed.clean.languages["zh"].min_doc_words == 100
    assert first_rules(pa.Table.from_pylist(rows), changed.clean).to_pylist() == [
        None,
        "gopher_short_doc",
    ]
    # Word splitting changes the signals themselves: not answerable from stored signals.
    with pytest.raises(WhatIfError, match=r"clean\.languages\.zh\.tokenizer: unknown rule"):
        apply_overrides(recipe, {"clean.languages.zh.tokenizer": "characters"})
    with pytest.raises(
        WhatIfError, match=r"clean\.languages\.Chinese\.\[key\]: String should match"
    ):
        apply_overrides(recipe, {"clean.languages.Chinese.min_doc_words": 100})
