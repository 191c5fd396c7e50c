"""Left running: random kills of every stage, concurrent runs, the daemon killed mid-chain.

Every test drives real `funnel` processes and kills them with real signals (the whole process
group, Spark's JVM included, as when a machine dies), then compares the lake with one the same
landing files went through without interruption: same rows, same rejections, same ledger
counts, no doc id twice. These run with `make chaos` (CI runs it too).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.resources import LakehouseResource
from lakehouse.catalog import CommitInfo
from lakehouse.ledger import ledger_entries
from lakehouse.releases import list_releases
from lakehouse.review import record_decision, review_queue
from lakehouse.tables import OPS_BATCHES, REVIEW_QUEUE
from tests.lake_outcomes import duplicated, funnel_process, lake_outcome, wait_for
from tests.landing_files import sample_records, write_jsonl_gz, write_recipe

pytestmark = pytest.mark.chaos

# Each stage is killed once its predecessor's outcome for the batch is recorded, after a random
# further delay: somewhere inside the stage, or in the next one when the stage is quick.
_KILL_AFTER = {
    "ingest": None,
    "clean": "ingest",
    "dedup": "clean",
    "decontaminate": "dedup",
    "score": "decontaminate",
    "curate": "score",
    "review": "curate",
}
_REVIEWER = CommitInfo(run_id="reviewer", stage="review", recipe_sha256="0" * 64, code_version="-")


def _landing_file(landing: Path, index: int) -> Path:
    """The index-th landing file: 20 real documents of the sample, a few of them repeated."""
    records = sample_records("fortunes_en", 60)[index * 15 : index * 15 + 15]
    records += sample_records("manpages_en", 12)[index * 4 : index * 4 + 4]
    records.append(records[0] | {"id": f"copy-{index}"})  # an exact duplicate for dedup
    return write_jsonl_gz(landing / "notes" / f"part-{index}.jsonl.gz", records)


def _catalog(root: Path, recipe: Path) -> Any:
    return LakehouseResource(root=str(root), recipe_path=str(recipe)).catalog()


def _recorded(root: Path, recipe: Path, stage: str, landing_file: Path) -> bool:
    """Whether `stage`'s outcome for the batch holding `landing_file` is in the ledger."""
    catalog = _catalog(root, recipe)
    if catalog.version(OPS_BATCHES) is None:
        return False
    batches = catalog.read(OPS_BATCHES, columns=["batch_id", "file_uri"]).to_pylist()
    ids = {row["batch_id"] for row in batches if row["file_uri"].endswith(landing_file.name)}
    return any(entry.batch_id in ids for entry in ledger_entries(catalog, stage=stage))


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def _run_to_end(root: Path, recipe: Path, home: Path, *arguments: str) -> str:
    process = funnel_process(root, recipe, home, *arguments)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    return output


def _approve_queue(root: Path, recipe: Path) -> None:
    """Approve every queued document, as a reviewer on the review page would."""
    catalog = _catalog(root, recipe)
    for doc_id in review_queue(catalog)["doc_id"].to_pylist():
        record_decision(catalog, doc_id, "approve", "reviewer", _REVIEWER)


def _release(root: Path, recipe: Path, home: Path) -> list[str]:
    process = funnel_process(root, recipe, home, "release", "publish", "--recipe", str(recipe))
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-4000:]
    return [release.name for release in list_releases(_catalog(root, recipe))]


def _kill_episode(
    root: Path, recipe: Path, home: Path, landing_file: Path, chance: random.Random
) -> list[str]:
    """`funnel run` killed once inside each stage in turn, then run to the end. Returns where
    each kill landed (the first stage without an outcome for the batch at that moment)."""
    landed = []
    for target, after in _KILL_AFTER.items():
        process = funnel_process(root, recipe, home, "run")
        if after is None:
            wait_for(
                lambda process=process: process.poll() is not None or _registered(root, recipe),
                300,
                "registration",
            )
        else:
            wait_for(
                lambda after=after, process=process: (
                    process.poll() is not None or _recorded(root, recipe, after, landing_file)
                ),
                600,
                f"{after} to be recorded",
            )
        time.sleep(chance.uniform(0.0, 4.0))
        finished = process.poll() is not None
        _kill_group(process)
        stages = [
            stage for stage in _KILL_AFTER if not _recorded(root, recipe, stage, landing_file)
        ]
        landed.append(f"{target}→{'(finished)' if finished else stages[0] if stages else 'review'}")
    _run_to_end(root, recipe, home, "run")
    return landed


def _registered(root: Path, recipe: Path) -> bool:
    catalog = _catalog(root, recipe)
    return catalog.version(OPS_BATCHES) is not None


def _assert_same_lake(chaos: dict[str, Any], reference: dict[str, Any]) -> None:
    assert duplicated(chaos) == {}
    for key in reference:
        assert chaos[key] == reference[key], f"{key} differs from the uninterrupted run"
    assert all(row[-1] for row in chaos["ledger"]), "a ledger row does not balance"


# make chaos runs the full suite; CI may run fewer repetitions within its time budget.
EPISODES = int(os.environ.get("FUNNEL_CHAOS_EPISODES", "3"))
REPETITIONS = int(os.environ.get("FUNNEL_CHAOS_REPETITIONS", "10"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    """What a lake holds after 1, 2 and 3 landing files, each carried through by one
    uninterrupted `funnel run` as it arrived (documents named by file and record)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    landing = folder / "landing"
    recipe = write_recipe(folder, landing)
    outcomes = {}
    for index in range(3):
        _landing_file(landing, index)
        _run_to_end(folder / "lake", recipe, folder / "home", "run")
        outcomes[index + 1] = lake_outcome(folder / "lake", recipe)
    return outcomes


def test_runs_killed_at_random_points_of_every_stage_converge(
    tmp_path: Path, uninterrupted: dict[int, dict[str, Any]]
) -> None:
    """Landing files arriving one after the other, each carried through by runs killed inside
    every stage in turn, then a release killed midway (8 kills a file, 24 for three files):
    after each file, the lake equals the uninterrupted one's and one release is published."""
    chance = random.Random(int(os.environ.get("FUNNEL_CHAOS_SEED", "14")))
    landing = tmp_path / "landing"
    recipe = write_recipe(tmp_path, landing)
    root, home = tmp_path / "lake", tmp_path / "home"
    kills = []
    for index in range(EPISODES):
        landing_file = _landing_file(landing, index)
        kills += _kill_episode(root, recipe, home, landing_file, chance)
        _assert_same_lake(lake_outcome(root, recipe), uninterrupted[index + 1])
        # The release, killed midway, then published by the rerun: exactly once.
        _approve_queue(root, recipe)
        process = funnel_process(root, recipe, home, "release", "publish", "--recipe", str(recipe))
        time.sleep(chance.uniform(3.0, 12.0))
        _kill_group(process)
        kills.append("release")
        published = [release.name for release in list_releases(_catalog(root, recipe))]
        if len(published) == index:  # the kill came before the publish commit
            published = _release(root, recipe, home)
        assert len(published) == len(set(published)) == index + 1
        release = list_releases(_catalog(root, recipe))[-1]
        candidate = _catalog(root, recipe).read("gold/release_candidate")
        assert release.documents == candidate.num_rows
        assert release.tokens == sum(candidate["tokens"].to_pylist())
    print("kills (target→stage it landed in):", ", ".join(kills))
    assert len(kills) == (len(_KILL_AFTER) + 1) * EPISODES


def _concurrent_runs(root: Path, recipe: Path, home: Path) -> None:
    runs = [funnel_process(root, recipe, home, "run") for _ in range(2)]
    for run in runs:
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, output[-4000:]


@pytest.mark.parametrize("repetition", range(REPETITIONS))
def test_two_runs_at_once_on_a_fresh_root_and_on_new_files_duplicate_nothing(
    tmp_path: Path, repetition: int, uninterrupted: dict[int, dict[str, Any]]
) -> None:
    """Two `funnel run` started together on a fresh root, then again once a new landing file
    arrived: each time the lake equals one where a single run carried each file through."""
    landing = tmp_path / "landing"
    recipe = write_recipe(tmp_path, landing)
    root, home = tmp_path / "lake", tmp_path / "home"
    for index in range(2):
        _landing_file(landing, index)
        _concurrent_runs(root, recipe, home)
        outcome = lake_outcome(root, recipe)
        _assert_same_lake(outcome, uninterrupted[index + 1])
        assert len({row[1] for row in outcome["ledger"]}) == index + 1  # one batch per file


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_daemon_carries_a_new_file_to_the_review_queue_even_when_killed_midway(
    tmp_path: Path, uninterrupted: dict[int, dict[str, Any]]
) -> None:
    """With only `funnel ui` (webserver + daemon) running, a new landing file flows to a review
    queue built from it; the whole tree killed mid-chain and restarted, it still gets there, and
    the lake equals an uninterrupted `funnel run`'s."""
    landing = tmp_path / "landing"
    recipe = write_recipe(tmp_path, landing)
    recipe.write_text(
        recipe.read_text()
        + "schedule:\n  sensor_interval_seconds: 5\nrelease:\n  sensor_interval_seconds: 5\n"
    )
    root, home, log = tmp_path / "lake", tmp_path / "home", tmp_path / "ui.log"
    port = _free_port()
    ui = funnel_process(root, recipe, home, "ui", "--port", str(port), log=log)
    try:
        wait_for(lambda: _listening(port), 180, "the webserver")
        landing_file = _landing_file(landing, 0)
        wait_for(lambda: _recorded(root, recipe, "clean", landing_file), 600, "clean by the daemon")
        _kill_group(ui)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            stuck = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert stuck, "the kill should have cut a run short"
        assert not _recorded(root, recipe, "curate", landing_file)
        ui = funnel_process(root, recipe, home, "ui", "--port", str(port), log=log)
        wait_for(lambda: _queued(root, recipe, landing_file), 900, "the review queue", poll=2)
    finally:
        _kill_group(ui)
    _assert_same_lake(lake_outcome(root, recipe), uninterrupted[1])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records(dg.RunsFilter(job_name="funnel"))
        failed = [
            record for record in runs if record.dagster_run.status == dg.DagsterRunStatus.FAILURE
        ]
        assert failed and all("is gone" in _failure(instance, r.dagster_run.run_id) for r in failed)
        assert any(record.dagster_run.status == dg.DagsterRunStatus.SUCCESS for record in runs)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _queued(root: Path, recipe: Path, landing_file: Path) -> bool:
    """Whether the review queue was built after the candidate took in the file's batch."""
    if not _recorded(root, recipe, "curate", landing_file):
        return False
    catalog = _catalog(root, recipe)
    queue = catalog.version(REVIEW_QUEUE)
    if queue is None:
        return False
    commit = catalog.commit_at(REVIEW_QUEUE, queue)
    candidate = catalog.version("gold/release_candidate")
    return commit is not None and commit.input_versions.get("gold/release_candidate") == candidate


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return " ".join(record.event_log_entry.dagster_event.message or "" for record in records)
