from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main
from lakehouse.batches import register_new_batch
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import load_recipe
from lakehouse.sql import SqlQueryError, connect, run_query


def test_every_written_table_is_a_view(
    catalog: Catalog, recipe_path: Path, commit: CommitInfo
) -> None:
    assert connect(catalog).sql("select 1 as one").fetchall() == [(1,)]
    batch = register_new_batch(catalog, load_recipe(recipe_path), commit)
    connection = connect(catalog)
    rows = connection.sql("select batch_id, source from ops.batches").fetchall()
    assert rows == [(batch, "notes")]
    views = {
        name
        for (name,) in connection.sql(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    }
    assert "ops.batches" in views and "bronze.documents" not in views


@pytest.fixture
def lake_with_batches(catalog: Catalog, recipe_path: Path, commit: CommitInfo) -> str:
    """A lake holding `ops/batches`; returns its root."""
    register_new_batch(catalog, load_recipe(recipe_path), commit)
    return str(catalog.root)


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("copy (select * from ops.batches) to '{out}/copy.csv'", "not COPY"),
        ("attach '{out}/other.duckdb' as other", "not ATTACH"),
        ("create table stolen as select * from ops.batches", "not CREATE"),
        ("drop view ops.batches", "not DROP"),
        ("insert into ops.batches select * from ops.batches", "not INSERT"),
        ("install httpfs", "not LOAD"),
        ("load httpfs", "not LOAD"),
        ("set enable_external_access = true", "not SET"),
        ("export database '{out}/export'", "not EXPORT"),
        ("call pragma_version()", "not CALL"),
        ("select 1; select 2", "exactly one query; this text holds 2"),
        ("", "exactly one query; this text holds 0"),
        ("selec 1", "cannot parse the query"),
        # A single SELECT is let through; the locked-down engine refuses its file access.
        ("select * from read_text('/etc/passwd')", "file system operations are disabled"),
        ("select * from read_csv('{out}/../*.csv')", "file system operations are disabled"),
        ("select * from glob('/etc/*')", "file system operations are disabled"),
        ("select * from '{out}/anything.parquet'", "file system operations are disabled"),
    ],
)
def test_funnel_sql_refuses_everything_but_one_read_only_query(
    lake_with_batches: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    query: str,
    refusal: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--root", lake_with_batches, "sql", query.format(out=out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err.strip()
    assert error.startswith("error: ") and "\n" not in error and refusal in error
    assert list(out.iterdir()) == []
    # Nothing changed: the view is still there and still the lake's table.
    assert main(["--root", lake_with_batches, "sql", "select count(*) as n from ops.batches"]) == 0
    assert capsys.readouterr().out.split() == ["n", "1"]


def test_read_only_queries_still_read_the_arrow_views(lake_with_batches: str) -> None:
    connection = connect(Catalog(lake_with_batches))
    queries = [
        "with b as (select source from ops.batches) select source from b",
        "from ops.batches select source",
        "select source from ops.batches",
    ]
    for query in queries:
        assert run_query(connection, query).fetchall() == [("notes",)]
    assert ("source", "VARCHAR") in [
        row[:2] for row in run_query(connection, "describe ops.batches").fetchall()
    ]
    with pytest.raises(SqlQueryError, match="not SET"):
        run_query(connection, "set lock_configuration = false")
    with pytest.raises(duckdb.Error, match="Cannot change configuration option"):
        connection.execute("set enable_external_access = true")
