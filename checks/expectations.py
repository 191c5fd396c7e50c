"""Great Expectations suites built from table contracts, validated on a batch's real rows.

Each contract becomes a GX 1.x `ExpectationSuite`, run on the batch's rows of the exact table
version a stage wrote, reading only the columns the contract names. The table's Arrow schema is
compared with its spec from the Delta log alone (no data files read). The GX context is ephemeral
(nothing written to disk), its progress bars and usage statistics are off.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakehouse.catalog import Catalog
from lakehouse.contracts import TableContract
from lakehouse.recipe import Recipe

EXAMPLE_IDS = 5
_CONTEXT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Assertion:
    """One expectation's verdict on a batch: what was tested, on which column, with what result."""

    assertion: str
    success: bool
    column: str | None = None
    unexpected_count: int = 0
    examples: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class ContractResult:
    """All assertions of a table contract on one batch of one table version."""

    table: str
    version: int | None  # None: rows not written yet
    batch_id: str
    rows: int
    assertions: list[Assertion]

    @property
    def success(self) -> bool:
        """True when every assertion held."""
        return all(assertion.success for assertion in self.assertions)

    @property
    def failures(self) -> list[Assertion]:
        """The assertions that did not hold."""
        return [assertion for assertion in self.assertions if not assertion.success]


def schema_assertions(actual: pa.Schema, contract: TableContract) -> list[Assertion]:
    """The table version's columns, types and nullability against the contract's table spec."""
    expected = contract.table.schema
    problems = []
    missing = [name for name in expected.names if name not in actual.names]
    extra = [name for name in actual.names if name not in expected.names]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected columns: {', '.join(extra)}")
    for wanted in expected:
        if wanted.name not in actual.names:
            continue
        found = actual.field(wanted.name)
        if not _same_type(found.type, wanted.type):
            problems.append(f"{wanted.name}: type {found.type}, expected {wanted.type}")
        if found.nullable and not wanted.nullable:
            problems.append(f"{wanted.name}: nullable, expected not null")
    return [
        Assertion(
            assertion="schema_matches_table_spec",
            success=not problems,
            unexpected_count=len(problems),
            detail="; ".join(problems),
        )
    ]


def _same_type(found: pa.DataType, wanted: pa.DataType) -> bool:
    """Equal types, counting Delta's storage variants (string views, large strings) as one."""
    if found.equals(wanted):
        return True
    strings = (pa.string(), pa.large_string(), pa.string_view())
    if any(found.equals(kind) for kind in strings):
        return any(wanted.equals(kind) for kind in strings)
    return False


@functools.cache
def _gx_context() -> Any:
    """One ephemeral GX context per process: no files, no progress bars, no usage statistics.

    Usage statistics are switched off in the context's own configuration rather than through
    `GX_ANALYTICS_ENABLED`, so the process's environment is left as it was.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.analytics_enabled = False
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def expectation_suite(contract: TableContract, recipe: Recipe | None, columns: list[str]) -> Any:
    """The GX suite of a contract, for the columns present in the batch (`recipe` None: the
    contract's values do not depend on it)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=f"{contract.table.key}:contract")
    for column in contract.keys:
        if column in columns:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in contract.unique:
        if column in columns:
            suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=column))
    for column, allowed in contract.allowed_values.items():
        if column in columns:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(allowed(recipe)))
            )
    for column, bounds in contract.bounds.items():
        if column in columns:
            low, high = bounds(recipe)
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
            )
    return suite


_ASSERTION_NAMES = {
    "expect_column_values_to_not_be_null": "not_null",
    "expect_column_values_to_be_unique": "unique",
    "expect_column_values_to_be_in_set": "accepted_values",
    "expect_column_values_to_be_between": "range",
}


def validate_batch(
    catalog: Catalog,
    contract: TableContract,
    recipe: Recipe,
    version: int,
    batch_id: str | None,
) -> ContractResult:
    """Run a table's contract on the rows of `batch_id` (None: every row) in `version`."""
    dataset = catalog.dataset(contract.table, version)
    columns = [name for name in contract.columns() if name in dataset.schema.names]
    id_column = "doc_id" if "doc_id" in dataset.schema.names else None
    wanted = list(dict.fromkeys([*columns, *([id_column] if id_column else [])]))
    where = {"batch_id": batch_id} if batch_id is not None else None
    rows = catalog.read(contract.table, version, where=where, columns=wanted)
    return validate_rows(
        contract, recipe, rows, schema=dataset.schema, version=version, batch_id=batch_id
    )


def validate_rows(
    contract: TableContract,
    recipe: Recipe | None,
    rows: pa.Table,
    *,
    schema: pa.Schema | None = None,
    version: int | None = None,
    batch_id: str | None = None,
) -> ContractResult:
    """Run a table's contract on rows in memory: a version's batch read back (`schema`: the
    version's full schema), or a batch about to be written (`version` None, schema its own).

    `recipe` may be None for a contract whose values do not depend on the recipe.
    """
    assertions = schema_assertions(schema or rows.schema, contract)
    columns = [name for name in contract.columns() if name in rows.schema.names]
    id_column = "doc_id" if "doc_id" in rows.schema.names else None
    frame = rows.select(list(dict.fromkeys([*columns, *([id_column] if id_column else [])])))
    # Strings as categoricals: GX fingerprints a batch by hashing every value, twice per
    # validation, and a categorical hashes each distinct value once; null, unique and in-set
    # checks read its codes.
    frame = frame.to_pandas(strings_to_categorical=True)
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": EXAMPLE_IDS,
    }
    if id_column:
        result_format["unexpected_index_column_names"] = [id_column]
    with _CONTEXT_LOCK:
        context = _gx_context()
        suite = expectation_suite(contract, recipe, columns)
        name = (
            f"{contract.table.key}@{version if version is not None else 'new'}:{batch_id or 'all'}"
        )
        source = context.data_sources.add_or_update_pandas(name)
        asset = source.add_dataframe_asset(name="rows")
        definition = asset.add_batch_definition_whole_dataframe("batch")
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(suite, result_format=result_format)
        context.data_sources.delete(name)
    for outcome in validation.results:
        config = outcome.expectation_config
        details = outcome.result or {}
        examples = [
            str(index.get(id_column))
            for index in details.get("partial_unexpected_index_list") or []
            if id_column and index.get(id_column) is not None
        ]
        if not examples:
            examples = [str(value) for value in details.get("partial_unexpected_list") or []]
        assertions.append(
            Assertion(
                assertion=_ASSERTION_NAMES.get(config.type, config.type),
                success=bool(outcome.success),
                column=config.kwargs.get("column"),
                unexpected_count=int(details.get("unexpected_count") or 0),
                examples=examples[:EXAMPLE_IDS],
                detail=config.type,
            )
        )
    return ContractResult(contract.table.key, version, batch_id or "", rows.num_rows, assertions)
