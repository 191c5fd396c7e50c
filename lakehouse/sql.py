"""DuckDB over the lakehouse, read-only: every table is a view named `layer.name`.

Tables are read through delta-rs as Arrow datasets pinned to their current version, so DuckDB needs
no extension (its `delta` extension would download at run time). Once the views are registered
the connection is locked down: no file system or network access (`enable_external_access`), no
extension installed or loaded, and the configuration locked so a query cannot undo any of it.
`run_query` runs one read-only query (a single SELECT, `WITH …`, `FROM …`, DESCRIBE, SHOW) and
refuses every other statement before DuckDB sees it.
"""

from __future__ import annotations

import duckdb

from lakehouse.catalog import Catalog

# Applied in this order once the views exist; the last one makes the others permanent.
READ_ONLY_SETTINGS: tuple[tuple[str, str], ...] = (
    ("autoinstall_known_extensions", "false"),
    ("autoload_known_extensions", "false"),
    ("allow_community_extensions", "false"),
    ("enable_external_access", "false"),
    ("lock_configuration", "true"),
)


class SqlQueryError(ValueError):
    """A query that `funnel sql` refuses, or that DuckDB cannot run; the message says why."""


def connect(catalog: Catalog) -> duckdb.DuckDBPyConnection:
    """An in-memory, locked-down DuckDB connection with a view per existing table."""
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
    for name, value in READ_ONLY_SETTINGS:
        connection.execute(f"SET {name} = {value}")
    return connection


def run_query(connection: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyRelation:
    """The result of one read-only query; SqlQueryError for anything else or a failed query."""
    try:
        statements = connection.extract_statements(query)
    except duckdb.Error as error:
        raise SqlQueryError(f"cannot parse the query: {_first_line(error)}") from error
    if len(statements) != 1:
        raise SqlQueryError(f"give exactly one query; this text holds {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise SqlQueryError(
            f"only a read-only query (SELECT, WITH …, FROM …, DESCRIBE, SHOW) is allowed, "
            f"not {kind.name}: funnel sql reads the lake's tables and changes nothing"
        )
    try:
        return connection.sql(query)
    except duckdb.Error as error:
        raise SqlQueryError(_first_line(error)) from error


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]
