import pytest

from spark_jobs.tokens import (
    MAX_CHUNK_CHARS,
    character_tokens,
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


def test_characters_split_han_and_kana_and_keep_latin_runs_whole() -> None:
    assert character_tokens("今天很好。我们用Python！") == [
        "今", "天", "很", "好", "。", "我", "们", "用", "Python", "！",
    ]  # fmt: skip
    assert character_tokens("東京タワーは1958年に") == [
        "東", "京", "タ", "ワ", "ー", "は", "1958", "年", "に",
    ]  # fmt: skip
    # Runs of other scripts are split as spaCy-style tokens, whitespace never a token.
    assert character_tokens("see  e.g. 橋") == ["see", "e.g.", "橋"]
    assert tokenize("一二三", "characters") == ["一", "二", "三"]
    # Every character sentence mark ends a sentence, which a whitespace split cannot see.
    assert sentence_count(character_tokens("我来了。你好吗？很好！")) == 3
    assert sentence_count(spacy_style_tokens("我来了。你好吗？很好！")) == 1
