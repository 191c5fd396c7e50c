from pathlib import Path

from lakehouse.batches import register_new_batch
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import load_recipe
from lakehouse.sql import connect


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
