import pytest

from spark_jobs.tokens import (
    MAX_CHUNK_CHARS,
    sentence_count,
    spacy_style_tokens,
    tokenize,
    whitespace_tokens,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("I don't know.", ["I", "do", "n't", "know", "."]),
        ("See e.g. the U.S. rules", ["See", "e.g.", "the", "U.S.", "rules"]),
        ("a well-known 32-bit (x)", ["a", "well", "-", "known", "32", "-", "bit", "(", "x", ")"]),
        ("def f(x):", ["def", "f(x", "):"]),
        ("visit https://example.org/a?b=1 now", ["visit", "https://example.org/a?b=1", "now"]),
        ("costs $5.50...", ["costs", "$", "5.50", "..."]),
        ("John's car", ["John", "'s", "car"]),
    ],
)
def test_spacy_style_tokens_follow_spacys_english_rules(text: str, tokens: list[str]) -> None:
    assert spacy_style_tokens(text) == tokens


def test_whitespace_tokens_keep_punctuation_attached() -> None:
    assert whitespace_tokens("Hello, world!\n\tBye.") == ["Hello,", "world!", "Bye."]
    assert tokenize("a, b", "whitespace") == ["a,", "b"]
    assert tokenize("a, b", "spacy") == ["a", ",", "b"]


def test_overlong_chunk_stays_one_token() -> None:
    chunk = "x" * (MAX_CHUNK_CHARS + 1) + "."
    assert spacy_style_tokens(chunk) == [chunk]


def test_sentence_count_splits_after_final_marks() -> None:
    assert sentence_count(spacy_style_tokens("One. Two! Three? Four")) == 4
    assert sentence_count(spacy_style_tokens("Wait... what?! Yes.")) == 2
    assert sentence_count([]) == 0
