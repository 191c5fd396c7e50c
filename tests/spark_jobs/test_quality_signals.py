import pytest

from lakehouse.recipe import C4RulesConfig, CleanConfig
from spark_jobs.quality_signals import (
    c4_lines,
    code_signals,
    document_signals,
    fineweb_signals,
    gopher_quality_signals,
    gopher_repetition_signals,
    redpajama_signals,
)
from spark_jobs.tokens import spacy_style_tokens


def test_gopher_repetition_counts_repeated_lines_paragraphs_and_ngrams() -> None:
    text = "a b c\na b c\n\nd e"
    signals = gopher_repetition_signals(text, spacy_style_tokens(text))
    assert signals["gopher_dup_line_frac"] == pytest.approx(1 / 3)
    assert signals["gopher_dup_line_char_frac"] == pytest.approx(5 / len(text))
    assert signals["gopher_dup_para_frac"] == 0
    # "a b" occurs twice: 3 characters x 2.
    assert signals["gopher_top_2_gram_char_frac"] == pytest.approx(6 / len(text))
    assert signals["gopher_dup_5_gram_char_frac"] == 0


def test_duplicated_ngrams_skip_past_each_repeat() -> None:
    words = ["x", "y", "z", "w", "v", "x", "y", "z", "w", "v", "x", "y", "z", "w", "v"]
    text = " ".join(words)
    signals = gopher_repetition_signals(text, words)
    # The first 5-gram repeats at position 5 and 10: 2 x 5 characters (joined without spaces).
    assert signals["gopher_dup_5_gram_char_frac"] == pytest.approx(10 / len(text))


def test_gopher_quality_ratios() -> None:
    text = "# The cat and the dog...\n- item one\n- item two"
    signals = gopher_quality_signals(text, spacy_style_tokens(text))
    tokens = spacy_style_tokens(text)
    assert signals["gopher_word_count"] == sum(token not in "#.-..." for token in tokens)
    assert signals["gopher_hash_ratio"] == pytest.approx(1 / len(tokens))
    assert signals["gopher_ellipsis_ratio"] == pytest.approx(1 / len(tokens))
    assert signals["gopher_bullet_lines_ratio"] == pytest.approx(2 / 3)
    assert signals["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 3)
    assert signals["gopher_stop_words"] == 2  # "the" and "and"; "The" is not a stop word


def test_gopher_quality_of_a_text_without_words_is_null_not_an_error() -> None:
    signals = gopher_quality_signals("", [])
    assert signals["gopher_word_count"] == 0
    assert signals["gopher_mean_word_length"] is None
    assert signals["gopher_alpha_words_ratio"] is None


def test_c4_line_rules_and_document_hits() -> None:
    text = "\n".join(
        [
            "This line is kept. It has two sentences.",
            "too short",
            "Please enable javascript to see it.",
            "We use cookies on this site for sure.",
            "A line with a {brace} in it.",
            "Lorem ipsum dolor sit amet [1].",
        ]
    )
    outcome = c4_lines(text, C4RulesConfig(), "spacy")
    assert outcome.lines_removed == 3
    assert outcome.curly_bracket_lines == 1
    assert outcome.lorem_ipsum_lines == 1
    assert outcome.sentences == 4
    assert outcome.kept_text.splitlines()[-1] == "Lorem ipsum dolor sit amet ."


def test_c4_drops_lines_with_an_overlong_word() -> None:
    outcome = c4_lines("fine words here.\n" + "y" * 1001 + " z w", C4RulesConfig(), "spacy")
    assert outcome.kept_text == "fine words here."
    assert outcome.lines_removed == 1


def test_fineweb_signals() -> None:
    text = "A complete sentence that ends here.\nshort\nshort"
    signals = fineweb_signals(text, spacy_style_tokens(text))
    assert signals["fineweb_lines"] == 3
    assert signals["fineweb_line_punct_ratio"] == pytest.approx(1 / 3)
    assert signals["fineweb_short_line_ratio"] == pytest.approx(2 / 3)
    assert signals["fineweb_char_dup_ratio"] == pytest.approx(5 / (len(text) - 2))
    assert fineweb_signals("", [])["fineweb_line_punct_ratio"] is None


def test_document_signals_feed_fineweb_the_c4_output() -> None:
    text = "Kept line one is a sentence.\nno\nKept line two is a sentence."
    signals, kept = document_signals(text, CleanConfig())
    assert kept == "Kept line one is a sentence.\nKept line two is a sentence."
    assert signals["fineweb_lines"] == 2
    assert signals["c4_lines_removed"] == 1
    whitespace = CleanConfig.model_validate({"tokenizer": "whitespace"})
    spacy_signals, _ = document_signals(text, CleanConfig())
    ws_signals, _ = document_signals(text, whitespace)
    assert ws_signals["gopher_alpha_words_ratio"] == 1.0
    assert spacy_signals["gopher_alpha_words_ratio"] < 1.0


def test_redpajama_all_caps_words_fraction() -> None:
    assert redpajama_signals("BUY NOW, CHEAP pills for you")["rps_doc_frac_all_caps_words"] == 0.5
    assert redpajama_signals(" \n")["rps_doc_frac_all_caps_words"] is None


def test_c4_removed_chars_fraction_counts_the_characters_of_removed_lines() -> None:
    kept = "This line has more than three words and stays."
    removed = "Please enable JavaScript to continue."
    outcome = c4_lines(f"{kept}\n{removed}\nMenu", C4RulesConfig(), "spacy")
    assert outcome.lines_removed == 2
    assert outcome.removed_chars == len(removed) + len("Menu")
    assert outcome.removed_chars_frac == pytest.approx(
        (len(removed) + 4) / (len(kept) + len(removed) + 4)
    )
    assert c4_lines("", C4RulesConfig(), "spacy").removed_chars_frac is None


def test_code_signals_measure_lines_symbols_and_generated_markers() -> None:
    source = "def f(x):\n    return x + 1\n"
    signals = code_signals(source)
    assert signals["code_max_line_length"] == len("    return x + 1")
    assert signals["code_mean_line_length"] == pytest.approx((9 + 16 + 0) / 3)
    alnum = sum(char.isalnum() for char in source)
    assert signals["code_alnum_frac"] == pytest.approx(alnum / len(source))
    assert signals["code_autogenerated"] == 0
    generated = "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n" + source
    assert code_signals(generated)["code_autogenerated"] == 1
    # A marker below the first five lines is a comment about something else.
    assert code_signals("\n" * 5 + "# generated by hand\n" + source)["code_autogenerated"] == 0
    assert code_signals("x = 1;" * 300)["code_max_line_length"] == 1800
