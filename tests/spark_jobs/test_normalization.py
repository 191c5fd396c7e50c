from spark_jobs.normalization import normalize_text


def test_unicode_nfc_and_control_characters() -> None:
    assert normalize_text("Cafe\u0301\x00 ok\x07") == "Café ok"
    assert normalize_text("ﬁ", "NFKC") == "fi"


def test_line_breaks_whitespace_and_blank_lines() -> None:
    raw = "  indented\r\nword   word\t \u00a0end   \u2028\n\n\n\nnext\n"
    assert normalize_text(raw) == "indented\nword word end\n\nnext"
    assert normalize_text("a\n    code") == "a\n    code"


def test_empty_whitespace_and_none_become_empty() -> None:
    assert normalize_text(None) == ""
    assert normalize_text(" \n\t\u200b\u3000 ") == ""
