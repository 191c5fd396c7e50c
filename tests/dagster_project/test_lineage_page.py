import subprocess
from pathlib import Path

import pytest

from dagster_project.cli import main

CHROMIUM = Path("/usr/bin/chromium")
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_lineage_page_renders_in_a_real_browser(
    root: Path,
    recipe_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert CHROMIUM.exists(), "make installs Debian's chromium for the browser tests"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert main(["--root", str(root), "run", "--recipe", str(recipe_path)]) == 0
    capsys.readouterr()
    assert main(["--root", str(root), "lineage", "bronze/documents", "--format", "html"]) == 0
    page = tmp_path / "lineage.html"
    page.write_text(capsys.readouterr().out)
    browser = [str(CHROMIUM), *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<svg" in dom
    assert "bronze/documents@0" in dom
    assert "part-0.jsonl.gz" in dom
    shot = tmp_path / "lineage.png"
    subprocess.run(
        [*browser, "--window-size=1200,800", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
