"""Asset keys and materialization metadata of the lakehouse's Delta tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pyarrow as pa

from lakehouse.catalog import Catalog
from lakehouse.tables import TableSpec


def asset_key(spec: TableSpec) -> dg.AssetKey:
    """The asset key of a table: `[layer, name]`, shown as `layer/name` in the UI."""
    return dg.AssetKey([spec.layer, spec.name])


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """A Dagster column schema from an Arrow schema (types, nullability, column docs)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.type),
                description=(field.metadata or {}).get(b"doc", b"").decode() or None,
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in schema
        ]
    )


def table_metadata(
    catalog: Catalog, spec: TableSpec, version: int, partition_rows: int, **extra: Any
) -> Mapping[str, Any]:
    """Metadata of a table materialization: where, which version, how many rows, what schema."""
    return {
        "table_uri": dg.MetadataValue.path(catalog.uri(spec)),
        "delta_version": dg.MetadataValue.int(version),
        "dagster/row_count": dg.MetadataValue.int(partition_rows),
        "table_rows_total": dg.MetadataValue.int(catalog.row_count(spec, version)),
        "dagster/column_schema": column_schema(spec.schema),
        **extra,
    }
