from pathlib import Path

import pytest

from lakehouse.reference_prose import (
    HELD_OUT_EVERY,
    ReferenceProseError,
    load_reference_prose,
)


def test_the_shipped_prose_has_thirty_paragraphs_and_junk_with_stable_ids() -> None:
    prose = load_reference_prose()
    assert len(prose.paragraphs) == 30 and len(prose.junk) >= 10
    assert all(key.startswith("prose:paragraph:") for key in prose.paragraphs)
    assert all(len(text.split()) >= 40 for text in prose.paragraphs.values())
    assert not any(text.startswith("#") for text in prose.junk.values())
    assert load_reference_prose() == prose


def test_paragraphs_are_blank_line_blocks_and_comments_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "paragraphs.txt").write_text(
        "# a comment\nOne line\nand its second line.\n\nTwo.\n\n\nThree.\n"
    )
    (tmp_path / "junk.txt").write_text("buy now\n")
    prose = load_reference_prose(tmp_path)
    assert sorted(prose.paragraphs.values()) == ["One line and its second line.", "Three.", "Two."]
    assert list(prose.junk.values()) == ["buy now"]
    (tmp_path / "junk.txt").write_text("buy later\n")
    assert load_reference_prose(tmp_path).sha256 != prose.sha256


def test_missing_or_too_small_prose_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ReferenceProseError, match=r"paragraphs\.txt is missing; restore it"):
        load_reference_prose(tmp_path)
    (tmp_path / "paragraphs.txt").write_text("Only one.\n")
    (tmp_path / "junk.txt").write_text("spam\n")
    with pytest.raises(ReferenceProseError, match=f"needs {HELD_OUT_EVERY} paragraphs"):
        load_reference_prose(tmp_path)
