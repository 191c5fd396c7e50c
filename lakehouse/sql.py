"""DuckDB over the lakehouse: every table is a view named `layer.name`.

Tables are read through delta-rs as Arrow datasets pinned to their current version, so DuckDB needs
no extension (its `delta` extension would download at run time).
"""

from __future__ import annotations

import duckdb

from lakehouse.catalog import Catalog


def connect(catalog: Catalog) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per existing table (`bronze.documents`, …)."""
    connection = duckdb.connect(":memory:")
    for spec in catalog.existing_tables():
        version = catalog.version(spec)
        if version is None:
            continue
        arrow_name = f"_arrow_{spec.layer}_{spec.name}"
        connection.register(arrow_name, catalog.dataset(spec, version))
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{spec.layer}"')
        connection.execute(
            f'CREATE VIEW "{spec.layer}"."{spec.name}" AS SELECT * FROM {arrow_name}'
        )
    return connection
