import html

from benchmarks.web_pages import LAYOUTS, known_pages, word_scores


def test_word_scores_hand_checked() -> None:
    assert word_scores("a b c", "a b c") == (1.0, 1.0, 1.0)
    precision, recall, f1 = word_scores("a b x y", "a b c d e f")
    assert (precision, recall) == (0.5, 2 / 6)
    assert abs(f1 - 0.4) < 1e-9
    assert word_scores("", "a") == (0.0, 0.0, 0.0)


def test_known_pages_hold_their_main_text_among_boilerplate() -> None:
    pages = known_pages()
    assert len(pages) == 20 and {page.layout for page in pages} == set(LAYOUTS)
    assert len({page.url for page in pages}) == 20
    for page in pages:
        for paragraph in page.main_text.split("\n\n")[1:]:
            assert f"<p>{html.escape(paragraph)}</p>" in page.html
        if page.layout != "bare":
            assert "All rights reserved" in page.html
