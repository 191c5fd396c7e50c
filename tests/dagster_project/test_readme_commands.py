"""Every `funnel …` line of a `sh` block in README.md and docs/ runs against a small lake, with
its placeholders filled from that lake, and the output the README shows has the shape the
commands print."""

import re
import shlex
from pathlib import Path

import pytest

from dagster_project.cli import main
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.releases import list_releases
from lakehouse.review import record_decision, review_queue
from lakehouse.tables import BRONZE_DOCUMENTS, OPS_BATCHES
from tests.dagster_project.conftest import SampleLake

PROJECT = Path(__file__).resolve().parents[2]
DOCUMENTS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
# Commands that serve until stopped; the tests of the review page and the UI start them.
LONG_RUNNING = (("review", "serve"), ("ui",))


def shown_commands() -> list[tuple[str, int, str]]:
    """(file, line, command) of every `funnel` line inside a fenced block of the docs."""
    found = []
    for path in DOCUMENTS:
        fenced = False
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.startswith("```"):
                fenced = not fenced
            # `funnel …` or `.venv/bin/funnel …`; not a path that merely ends in funnel
            # (`PYTHONPATH=/opt/funnel spark-submit …`).
            elif fenced and re.match(r"^([\w.-]*/)*funnel\s", line.strip()):
                found.append((path.name, number, line.strip()))
    return found


def _arguments(command: str, fill: dict[str, str]) -> list[str]:
    """The command's arguments after `funnel`, placeholders filled, a `> file` redirect dropped."""
    words = shlex.split(command, comments=True)[1:]
    if ">" in words:
        words = words[: words.index(">")]
    return [fill.get(word, word) for word in words]


def _publish_a_release(lake: SampleLake) -> str:
    """Approve every queued document and publish; returns the release name."""
    catalog = Catalog(str(lake.root))
    commit = CommitInfo(run_id="readme", stage="review", recipe_sha256="0", code_version="t")
    for doc_id in review_queue(catalog)["doc_id"].to_pylist():
        record_decision(catalog, doc_id, "approve", "readme", commit)
    root = ["--root", str(lake.root)]
    assert main([*root, "release", "publish", "--recipe", str(lake.recipe)]) == 0
    return list_releases(catalog)[-1].name


def test_the_docs_show_commands() -> None:
    commands = [command for _, _, command in shown_commands()]
    assert any(" trace DOC_ID" in command for command in commands)
    assert any(" lineage " in command and "--format html" in command for command in commands)


def test_every_shown_command_runs_on_the_sample_lake(
    two_batch_lake: SampleLake,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(two_batch_lake.dagster_home))
    catalog = Catalog(str(two_batch_lake.root))
    fill = {
        "DOC_ID": catalog.read(BRONZE_DOCUMENTS, columns=["doc_id"])["doc_id"][0].as_py(),
        "BATCH_ID": catalog.read(OPS_BATCHES, columns=["batch_id"])["batch_id"][0].as_py(),
        "RELEASE": _publish_a_release(two_batch_lake),
        "my_recipe.yaml": str(two_batch_lake.recipe),
    }
    ran = 0
    outputs: dict[str, str] = {}
    for name, line, command in shown_commands():
        arguments = _arguments(command, fill)
        if any(tuple(arguments[: len(words)]) == words for words in LONG_RUNNING):
            continue
        if arguments[0] in {"run", "review", "release", "whatif"} and "--recipe" not in arguments:
            arguments += ["--recipe", str(two_batch_lake.recipe)]
        capsys.readouterr()
        status = main(["--root", str(two_batch_lake.root), *arguments])
        captured = capsys.readouterr()
        assert status == 0, f"{name}:{line}: {command} → exit {status}: {captured.err.strip()}"
        assert captured.out.strip(), f"{name}:{line}: {command} printed nothing"
        outputs[" ".join(arguments[:2])] = captured.out
        ran += 1
    assert ran >= 12

    # The `make run` output the README shows has the columns `funnel run` prints.
    readme = (PROJECT / "README.md").read_text()
    shown_header = next(line for line in readme.splitlines() if line.startswith("stage   rows_in"))
    rerun = outputs["run --batch"]
    printed_header = next(line for line in rerun.splitlines() if line.startswith("stage"))
    assert printed_header.split() == shown_header.split()
    assert re.search(r"^batch \S+  run \S+  SUCCESS$", rerun, re.MULTILINE)
