import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import (
    LedgerEntry,
    audit_conservation,
    committed_batches,
    committed_version,
    ledger_entries,
    record_entries,
    record_rejections,
    record_stage,
)
from lakehouse.tables import OPS_BATCHES, OPS_LEDGER, OPS_REJECTIONS


def _entry(**changes: object) -> LedgerEntry:
    values: dict[str, object] = {
        "stage": "register",
        "batch_id": "b1",
        "rows_in": 2,
        "rows_out": 2,
        "rows_rejected": 0,
        "rows_quarantined": 0,
        "output_table": "ops/batches",
        "output_version": 0,
        "run_id": "r1",
    }
    return LedgerEntry(**(values | changes))  # type: ignore[arg-type]


@pytest.fixture
def batches_written(catalog: Catalog, commit: CommitInfo) -> None:
    rows = [
        {
            "batch_id": "b1",
            "source": "s",
            "file_uri": f"/f{i}",
            "file_bytes": 1,
            "registered_at": None,
        }
        for i in range(2)
    ]
    table = pa.Table.from_pylist(rows)
    table = table.set_column(4, "registered_at", pa.array([0, 0], pa.timestamp("us", tz="UTC")))
    catalog.write(OPS_BATCHES, table, commit)


@pytest.mark.usefixtures("batches_written")
def test_audit_passes_when_ledger_matches_tables(catalog: Catalog, commit: CommitInfo) -> None:
    record_stage(catalog, _entry(), commit)
    audit = audit_conservation(catalog, "register", "b1")
    assert audit.passed, audit.problems
    assert audit.found == {"rows_out": 2, "rows_quarantined": 0, "rows_rejected": 0}


@pytest.mark.usefixtures("batches_written")
def test_audit_fails_on_a_tampered_count(catalog: Catalog, commit: CommitInfo) -> None:
    record_stage(catalog, _entry(rows_in=3, rows_out=3), commit)
    audit = audit_conservation(catalog, "register", "b1")
    assert not audit.passed
    assert audit.problems == ["ledger says rows_out=3 but the table holds 2"]


@pytest.mark.usefixtures("batches_written")
def test_audit_fails_when_rows_vanish_from_the_table(catalog: Catalog, commit: CommitInfo) -> None:
    DeltaTable(catalog.uri(OPS_BATCHES)).delete("file_uri = '/f0'")
    record_stage(catalog, _entry(output_version=1), commit)
    audit = audit_conservation(catalog, "register", "b1")
    assert audit.problems == ["ledger says rows_out=2 but the table holds 1"]


@pytest.mark.usefixtures("batches_written")
def test_audit_fails_on_an_unbalanced_row(catalog: Catalog, commit: CommitInfo) -> None:
    record_stage(catalog, _entry(rows_in=5), commit)
    audit = audit_conservation(catalog, "register", "b1")
    assert audit.problems == ["rows_in 5 != rows_out 2 + rows_rejected 0 + rows_quarantined 0"]


def test_audit_without_ledger_row(catalog: Catalog) -> None:
    audit = audit_conservation(catalog, "ingest", "b9")
    assert not audit.passed and "no ledger row" in audit.problems[0]


@pytest.mark.usefixtures("batches_written")
def test_rejections_are_counted_and_replaced_per_stage_and_batch(
    catalog: Catalog, commit: CommitInfo
) -> None:
    rejected = pa.table(
        {
            "doc_id": ["d1", "d2"],
            "rule": ["too_short", "too_short"],
            "value": [3.0, 4.0],
            "threshold": [50.0, 50.0],
            "detail": [None, None],
        }
    )
    for _ in range(2):
        version = record_rejections(catalog, "register", "b1", rejected, commit)
    assert catalog.count(OPS_REJECTIONS, version) == 2
    record_stage(catalog, _entry(rows_in=4, rows_rejected=2, rejections_version=version), commit)
    assert audit_conservation(catalog, "register", "b1").passed
    record_stage(catalog, _entry(rows_in=5, rows_rejected=3, rejections_version=version), commit)
    assert audit_conservation(catalog, "register", "b1").problems == [
        "ledger says rows_rejected=3 but the table holds 2"
    ]


def test_ledger_rows_are_replaced_not_appended(catalog: Catalog, commit: CommitInfo) -> None:
    record_stage(catalog, _entry(), commit)
    record_stage(catalog, _entry(rows_in=9, run_id="r2"), commit)
    record_stage(catalog, _entry(batch_id="b2"), commit)
    entries = ledger_entries(catalog, stage="register")
    assert [(e.batch_id, e.rows_in, e.run_id) for e in entries] == [
        ("b1", 9, "r2"),
        ("b2", 2, "r1"),
    ]


def test_entries_follow_the_funnel_order_not_the_alphabet(
    catalog: Catalog, commit: CommitInfo
) -> None:
    for stage in ("score", "dedup", "register", "clean", "ingest"):
        record_stage(catalog, _entry(stage=stage), commit)
    record_stage(catalog, _entry(stage="clean", batch_id="a0"), commit)
    entries = ledger_entries(catalog)
    assert [(e.batch_id, e.stage) for e in entries] == [
        ("a0", "clean"),
        ("b1", "ingest"),
        ("b1", "clean"),
        ("b1", "dedup"),
        ("b1", "score"),
        ("b1", "register"),
    ]


def test_one_outcome_is_one_commit_and_readers_take_versions_from_it(
    catalog: Catalog, commit: CommitInfo
) -> None:
    rows = pa.table(
        {
            "batch_id": ["b1", "b2"],
            "source": ["s", "s"],
            "file_uri": ["/f1", "/f2"],
            "file_bytes": [1, 1],
            "registered_at": pa.array([0, 0], pa.timestamp("us", tz="UTC")),
        }
    )
    version = catalog.write(OPS_BATCHES, rows, commit)
    entries = [_entry(batch_id=b, rows_in=1, rows_out=1, output_version=version) for b in "xy"]
    before = catalog.version(OPS_LEDGER)
    record_entries(catalog, entries, commit)
    assert catalog.version(OPS_LEDGER) == (0 if before is None else before + 1)
    assert committed_batches(catalog, "register", OPS_BATCHES) == {"x": version, "y": version}
    # A later write that no ledger row names is invisible to readers that pin through it.
    catalog.write(OPS_BATCHES, rows, commit)
    assert committed_version(catalog, "register", OPS_BATCHES.key, "x") == version
    with pytest.raises(ValueError, match="one outcome, one stage"):
        record_entries(catalog, [_entry(), _entry(stage="other")], commit)
