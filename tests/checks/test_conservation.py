import dataclasses

import dagster as dg
import pytest

import assets.runner
from assets.ingest import BRONZE_DOCUMENTS_KEY, STAGE, ingest
from assets.partitions import batches
from assets.resources import LakehouseResource
from checks.conservation import conservation_check
from dagster_project.runs import pending_batches
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import LedgerEntry, record_entries


def _definitions(lakehouse: LakehouseResource, downstream_runs: list[str]) -> dg.Definitions:
    @dg.asset(deps=[BRONZE_DOCUMENTS_KEY], partitions_def=batches)
    def downstream(context: dg.AssetExecutionContext) -> None:
        downstream_runs.append(context.partition_key)

    return dg.Definitions(
        assets=[ingest, downstream],
        asset_checks=[conservation_check(BRONZE_DOCUMENTS_KEY, STAGE)],
        jobs=[dg.define_asset_job("all", partitions_def=batches)],
        resources={"lakehouse": lakehouse},
    )


def _run(
    instance: dg.DagsterInstance, defs: dg.Definitions, batch: str
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("all")
    return job.execute_in_process(instance=instance, partition_key=batch, raise_on_error=False)


def test_passing_check_lets_downstream_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    downstream_runs: list[str] = []
    result = _run(instance, _definitions(lakehouse, downstream_runs), batch)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.metadata["rows_in"].value == 50
    assert downstream_runs == [batch]


def test_tampered_count_fails_the_check_and_blocks_downstream(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    def record_inflated(
        catalog: Catalog, entries: list[LedgerEntry], commit: CommitInfo, **options: str | None
    ) -> int:
        inflated = [
            dataclasses.replace(entry, rows_in=entry.rows_in + 1, rows_out=entry.rows_out + 1)
            for entry in entries
        ]
        return record_entries(catalog, inflated, commit, **options)

    monkeypatch.setattr(assets.runner, "record_entries", record_inflated)
    (batch,) = pending_batches(instance, lakehouse)
    downstream_runs: list[str] = []
    result = _run(instance, _definitions(lakehouse, downstream_runs), batch)
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["found_rows_out"].value == 50
    assert "ledger says rows_out=51 but the table holds 50" in evaluation.description
    assert downstream_runs == []
