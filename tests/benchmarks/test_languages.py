import json
import subprocess
import sys
from pathlib import Path

from benchmarks.languages import markdown
from lakehouse.storage import PROJECT_DIR

ROWS = [
    {
        "lang": "en",
        "has_settings": False,
        "documents": 100,
        "kept": 40,
        "keep_rate": 0.4,
        "keep_rate_english_only": 0.4,
        "top_rule": "gopher_short_doc (30)",
    },
    {
        "lang": "zh",
        "has_settings": True,
        "documents": 3,
        "kept": 1,
        "keep_rate": 0.333,
        "keep_rate_english_only": 0.0,
        "top_rule": "gopher_dup_line_frac (1)",
    },
    *(
        {
            "lang": lang,
            "has_settings": False,
            "documents": 2,
            "kept": 0,
            "keep_rate": 0.0,
            "keep_rate_english_only": 0.0,
            "top_rule": "language_not_allowed (2)",
        }
        for lang in ("da", "ko")
    ),
]


def test_table_lists_languages_with_settings_and_sums_the_small_rest() -> None:
    lines = markdown(ROWS).splitlines()
    assert lines[2] == "| `en` | no | 100 | 40 | 40.0% | 40.0% | gopher_short_doc (30) |"
    # A language with its own settings is listed however few documents it has.
    assert lines[3] == "| `zh` | yes | 3 | 1 | 33.3% | 0.0% | gopher_dup_line_frac (1) |"
    assert lines[4] == "| da, ko | no | 4 | 0 | | | |"
    assert len(lines) == 5


def test_a_saved_run_prints_its_table(tmp_path: Path) -> None:
    saved = tmp_path / "rates.json"
    saved.write_text(json.dumps(ROWS))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.languages", "--from-json", str(saved)],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
    )
    assert result.stdout == markdown(ROWS)
