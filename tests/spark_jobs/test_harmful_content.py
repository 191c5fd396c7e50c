"""The lexicon-based profanity/NSFW signal, on hand-checked texts with the real word list."""

from __future__ import annotations

import pytest

from spark_jobs.harmful_content import Lexicon, profanity_lexicon, profanity_word_ratio
from spark_jobs.quality_signals import harmful_content_signals


def test_the_packaged_lexicon_is_read_as_words_and_phrases() -> None:
    lexicon = profanity_lexicon()
    assert len(lexicon.words) > 500
    assert {"fuck", "shit"} <= lexicon.words
    assert ("auto", "erotic") in lexicon.phrases
    assert "the" not in lexicon.words and "class" not in lexicon.words


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("What the FUCK is this shit, man", 2 / 7),
        ("The class assessment passed; Scunthorpe is a town.", 0.0),  # whole words only
        ("watch 2 girls 1 cup now", 4 / 6),  # a listed phrase counts each of its words
        ("", None),
        (" ... !!! ", None),
    ],
)
def test_share_of_lexicon_words(text: str, ratio: float | None) -> None:
    assert profanity_word_ratio(text) == (pytest.approx(ratio) if ratio is not None else None)
    assert harmful_content_signals(text) == {
        "harmful_profanity_word_ratio": profanity_word_ratio(text)
    }


def test_a_phrase_needs_its_words_in_order() -> None:
    lexicon = Lexicon(frozenset({"darn"}), (("heck", "no"),))
    assert profanity_word_ratio("no heck", lexicon) == 0.0
    assert profanity_word_ratio("heck no darn it", lexicon) == 0.75
