"""The consumption log on a real Delta table: every consumed sample logged once, replay, trace,
and refused input that loses nothing."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest
import torch

from assets.resources import LakehouseResource
from assets.tables import asset_key
from checks.expectations import validate_rows
from checks.whole_table import whole_table_contract_check
from dagster_project.cli import main
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.contracts import SERVING_CONSUMPTION_CONTRACT, contract_violations
from lakehouse.provenance import trace
from lakehouse.tables import BRONZE_DOCUMENTS, SERVING_CONSUMPTION
from serving.consumption import (
    ConsumptionContractError,
    ConsumptionLog,
    ConsumptionLogError,
    replay_steps,
)
from serving.dataset import ReleaseDataLoader, ReleaseDataset
from serving.strategies import Composite, LossReport, LossReweighting, OnlineDataMixing
from tests.serving.published import publish

torch.set_num_threads(1)

PARTS = [{"a": 14, "b": 9}, {"c": 10}]
ROWS = 33


@pytest.fixture
def released(catalog: Catalog, commit: CommitInfo) -> pa.Table:
    """Release `r1` in the test lakehouse; returns its rows."""
    return publish(catalog, commit, "r1", PARTS)


def train(catalog: Catalog, run_name: str, flush_rows: int, workers: int) -> list[list[str]]:
    """A stand-in training loop with a mixture and reweighting strategy; the batches' doc ids."""
    dataset = ReleaseDataset(catalog, "r1", seed=7, buffer_size=5)
    loader = ReleaseDataLoader(dataset, batch_size=4, num_workers=workers)
    strategy = Composite([LossReweighting(), OnlineDataMixing(dataset.domains)])
    batches = []
    with ConsumptionLog(catalog, run_name, "r1", flush_rows=flush_rows) as log:
        for step, batch in enumerate(loader):
            losses = np.array([len(text) / 10 for text in batch["text"]])
            weights_in_force = dataset.domain_weights
            decision = strategy.update(LossReport(step, batch["doc_id"], batch["domain"], losses))
            log.record(
                step,
                batch["doc_id"],
                batch["domain"],
                decision.loss_weights.tolist(),
                kept=decision.keep.tolist(),
                domain_weights=weights_in_force,
                strategy_state=strategy.state_dict(),
            )
            dataset.set_domain_weights(decision.domain_weights)
            batches.append(list(batch["doc_id"]))
    return batches


@pytest.mark.parametrize("workers", [0, 2])
def test_every_consumed_sample_is_logged_exactly_once(
    catalog: Catalog, released: pa.Table, workers: int
) -> None:
    batches = train(catalog, "run-1", flush_rows=10, workers=workers)
    logged = catalog.read(SERVING_CONSUMPTION)
    consumed = [doc for batch in batches for doc in batch]
    assert len(consumed) == ROWS
    assert Counter(logged["doc_id"].to_pylist()) == Counter(consumed)
    assert set(consumed) == set(released["doc_id"].to_pylist())
    # Appended in batches: 9 steps of up to 4 rows, a commit per 10 or more rows buffered.
    history = [entry for entry in catalog.history(SERVING_CONSUMPTION) if entry.stage == "serve"]
    assert 3 <= len(history) < len(batches)
    assert {entry.run_id for entry in history} == {"run-1"}


def test_replay_gives_back_each_step_with_its_weights_and_state(
    catalog: Catalog, released: pa.Table
) -> None:
    batches = train(catalog, "run-2", flush_rows=1000, workers=0)
    steps = replay_steps(catalog, "run-2")
    assert [step["doc_ids"] for step in steps] == batches
    assert [step["step"] for step in steps] == list(range(len(batches)))
    assert all(np.mean(step["weights"]) == pytest.approx(1.0) for step in steps)
    assert steps[0]["domain_weights"] == pytest.approx({"a": 14 / 33, "b": 9 / 33, "c": 10 / 33})
    # The mixture's state after step 0 is logged, and the next step drew with its weights.
    assert steps[0]["strategy_state"]["mixture"]["step"] == 2
    assert steps[1]["domain_weights"] == pytest.approx(
        steps[0]["strategy_state"]["mixture"]["weights"]
    )
    assert replay_steps(catalog, "nobody") == []


def test_refused_records_lose_nothing_already_logged(catalog: Catalog, released: pa.Table) -> None:
    log = ConsumptionLog(catalog, "run-3", "r1", flush_rows=100)
    log.record(0, ["d1", "d2"], ["a", "b"], [1.0, 1.0])
    with pytest.raises(ConsumptionLogError, match="2 doc ids, 1 domains, 2 weights"):
        log.record(1, ["d3", "d4"], ["a"], [1.0, 1.0])
    with pytest.raises(ConsumptionLogError, match="0 kept flags"):
        log.record(1, ["d3"], ["a"], [1.0], kept=[])
    assert log.buffered == 2
    log.close()
    assert catalog.read(SERVING_CONSUMPTION)["doc_id"].to_pylist() == ["d1", "d2"]
    with pytest.raises(ConsumptionLogError, match="run-3 is closed"):
        log.record(2, ["d5"], ["a"], [1.0])
    with pytest.raises(ConsumptionLogError, match="needs a run name"):
        ConsumptionLog(catalog, "", "r1")
    with pytest.raises(ConsumptionLogError, match="flush_rows must be >= 1"):
        ConsumptionLog(catalog, "run-4", "r1", flush_rows=0)


@pytest.mark.parametrize(
    ("step", "doc_id", "weight", "broken"),
    [
        (1, "d5", math.nan, "not_null on weight: 1 row(s), e.g. doc ids d5"),
        (1, "d5", math.inf, "range on weight: 1 row(s), e.g. doc ids d5"),
        (1, "d5", -0.5, "range on weight: 1 row(s), e.g. doc ids d5"),
        (-1, "d5", 1.0, "range on step: 1 row(s), e.g. doc ids d5"),
        (1, None, 1.0, "not_null on doc_id: 1 row(s)"),
    ],
)
def test_a_batch_breaking_the_contract_is_refused_and_nothing_is_lost(
    catalog: Catalog, step: int, doc_id: str | None, weight: float, broken: str
) -> None:
    log = ConsumptionLog(catalog, "run-6", "r1", flush_rows=100)
    log.record(0, ["d1", "d2"], ["a", "b"], [1.0, 0.5])
    committed = log.flush()
    log.record(1, ["d3", "d4"], ["a", "a"], [1.0, 2.0])
    log.record(step, [doc_id], ["b"], [weight])  # type: ignore[list-item]
    with pytest.raises(ConsumptionContractError) as refused:
        log.flush()
    message = str(refused.value)
    assert "run run-6: the batch of 3 rows" in message
    assert "breaks the serving/consumption contract" in message
    assert broken in message
    assert "nothing of it was written and it stays buffered" in message
    assert catalog.version(SERVING_CONSUMPTION) == committed
    assert catalog.read(SERVING_CONSUMPTION)["doc_id"].to_pylist() == ["d1", "d2"]
    assert log.buffered == 3
    assert log.rows_written == 2


def consumption_batch(step: int, doc_id: str | None, weight: float) -> pa.Table:
    """Three rows of the log: two good ones and one with the given step, doc id and weight."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [(1, "d3", 1.0), (1, "d4", 2.0), (step, doc_id, weight)]
    return pa.Table.from_pylist(
        [
            {
                "run_name": "run", "release": "r1", "step": s, "doc_id": d, "domain": "a",
                "kept": True, "weight": w, "domain_weights": "{}", "strategy_state": "{}",
                "consumed_at": now,
            }
            for s, d, w in rows
        ],
        SERVING_CONSUMPTION.schema,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("step", "doc_id", "weight"),
    [(1, "d5", math.nan), (1, "d5", math.inf), (1, "d5", -0.5), (-1, "d5", 1.0), (1, None, 1.0),
     (2, "d6", 0.0)],
)  # fmt: skip
def test_the_arrow_check_agrees_with_the_great_expectations_suite(
    step: int, doc_id: str | None, weight: float
) -> None:
    # The training loop checks with Arrow alone; the orchestration layer runs the GX suite of
    # the same contract. Both must refuse the same rows for the same reasons.
    batch = consumption_batch(step, doc_id, weight)
    arrow = {
        (v.assertion, v.column, v.unexpected_count)
        for v in contract_violations(SERVING_CONSUMPTION_CONTRACT, None, batch)
    }
    gx = validate_rows(SERVING_CONSUMPTION_CONTRACT, None, batch)
    assert arrow == {(a.assertion, a.column, a.unexpected_count) for a in gx.failures}
    assert bool(arrow) == (weight != 0.0)


def test_serving_imports_nothing_above_the_lakehouse() -> None:
    # serving -> lakehouse only: no orchestration code and no Great Expectations in training.
    probe = (
        "import sys, serving.consumption, serving.dataset, serving.strategies\n"
        "above = {'assets', 'checks', 'dagster', 'dagster_project', 'great_expectations',\n"
        "         'spark_jobs', 'gpu_jobs', 'pyspark'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & above))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"


def test_a_refused_batch_is_not_flushed_again_on_exit(catalog: Catalog) -> None:
    with (
        pytest.raises(ConsumptionContractError, match="range on weight") as refused,
        ConsumptionLog(catalog, "run-7", "r1", flush_rows=2) as log,
    ):
        log.record(0, ["d1", "d2"], ["a", "b"], [1.0, -1.0])
    # One refusal, raised by record's flush; leaving the block did not repeat it.
    assert refused.value.__context__ is None
    assert not log.closed and log.buffered == 2
    assert not catalog.exists(SERVING_CONSUMPTION)
    with (
        pytest.raises(ConsumptionContractError, match="not_null on weight"),
        ConsumptionLog(catalog, "run-8", "r1") as log,
    ):
        log.record(0, ["d1"], ["a"], [math.nan])
    assert not catalog.exists(SERVING_CONSUMPTION)


def test_discarded_samples_are_logged_with_weight_zero(catalog: Catalog) -> None:
    with ConsumptionLog(catalog, "run-5", "r1") as log:
        log.record(3, ["d1", "d2"], ["a", "a"], [1.5, 0.5], kept=[True, False])
    rows = catalog.read(SERVING_CONSUMPTION).to_pylist()
    assert [(row["doc_id"], row["kept"], row["weight"]) for row in rows] == [
        ("d1", True, 1.5),
        ("d2", False, 0.0),
    ]


def test_trace_shows_when_and_how_a_document_was_consumed(
    catalog: Catalog, commit: CommitInfo, released: pa.Table, capsys: pytest.CaptureFixture
) -> None:
    row = released.slice(0, 1).to_pylist()[0]
    bronze = {
        "doc_id": row["doc_id"],
        "batch_id": "b1",
        "source": row["source"],
        "domain": row["domain"],
        "license": row["license"],
        "source_uri": row["source_uri"],
        "source_record": row["source_record"],
        "source_id": None,
        "text": row["text"],
        "text_sha256": row["text_sha256"],
        "text_bytes": len(row["text"].encode()),
        "ingested_at": datetime(2026, 11, 1, tzinfo=UTC),
    }
    catalog.write(BRONZE_DOCUMENTS, pa.Table.from_pylist([bronze], BRONZE_DOCUMENTS.schema), commit)
    assert trace(catalog, row["doc_id"]).consumption == []
    with ConsumptionLog(catalog, "run-6", "r1") as log:
        log.record(4, [row["doc_id"]], [row["domain"]], [1.25])
        log.record(9, [row["doc_id"]], [row["domain"]], [0.5], kept=[False])
    consumption = trace(catalog, row["doc_id"]).consumption
    assert [(c["run_name"], c["step"], c["kept"], c["weight"]) for c in consumption] == [
        ("run-6", 4, True, 1.25),
        ("run-6", 9, False, 0.0),
    ]
    root = str(Path(catalog.root))
    assert main(["--root", root, "trace", row["doc_id"], "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [entry["step"] for entry in printed["consumption"]] == [4, 9]
    assert main(["--root", root, "trace", row["doc_id"]]) == 0
    text = capsys.readouterr().out
    assert "consumed in training:" in text
    assert "run-6" in text and "1.25" in text


def test_the_orchestration_layer_runs_the_gx_contract_on_the_written_log(
    catalog: Catalog, lakehouse: LakehouseResource, instance: dg.DagsterInstance
) -> None:
    # What training wrote is checked again, whole, by the Great Expectations suite of the same
    # contract, as a blocking Dagster asset check on the `serving/consumption` table.
    with ConsumptionLog(catalog, "run-9", "r1") as log:
        log.record(0, ["d1", "d2"], ["a", "b"], [1.0, 0.5])
    check = whole_table_contract_check(SERVING_CONSUMPTION_CONTRACT)
    job = dg.define_asset_job("consumption_checks", selection=dg.AssetSelection.checks(check))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(asset_key(SERVING_CONSUMPTION))],
        asset_checks=[check],
        jobs=[job],
        resources={"lakehouse": lakehouse},
    )
    job_def = defs.resolve_job_def("consumption_checks")
    (evaluation,) = job_def.execute_in_process(instance=instance).get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.description == "every expectation met"
    # A writer that bypassed the log's own check is caught here.
    commit = CommitInfo(run_id="rogue", stage="serve", recipe_sha256="", code_version="")
    catalog.write(SERVING_CONSUMPTION, consumption_batch(1, "d5", -0.5), commit)
    result = job_def.execute_in_process(instance=instance, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.description == "failed: range(weight): 1"
