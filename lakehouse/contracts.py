"""Data contracts: what every row of a table must satisfy, and what to watch for drift.

A contract is plain data declared next to the table it protects, one per table; `checks/` turns it
into Great Expectations suites and Dagster asset checks, so a new stage gets its gates by
declaring its contract here and calling `checks.stage.stage_checks` once. Values that depend on
the recipe (allowed domains, length limits) are functions of the recipe, never constants.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from lakehouse.recipe import Recipe
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    BRONZE_QUARANTINE,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
    TableSpec,
)

AllowedValues = Callable[[Recipe], Collection[str]]
Bounds = Callable[[Recipe], tuple[float | None, float | None]]


@dataclass(frozen=True)
class DriftProfile:
    """Which columns summarize a table version for drift checks (absent columns are skipped).

    `length_column` holds a length in bytes or characters whose mean is compared;
    `categorical` columns are compared by the distance between their value distributions;
    `numeric` columns (scores) by the shift of their mean.
    """

    length_column: str | None = None
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()

    def columns(self) -> list[str]:
        """Every column the profile reads."""
        named = [self.length_column, *self.categorical, *self.numeric]
        return [name for name in named if name is not None]


@dataclass(frozen=True)
class TableContract:
    """The data contract of one table, checked on each batch a stage writes.

    `keys` must never be null (checked on the rows, beyond the schema's declared nullability,
    which the schema assertion compares); `unique` must hold no repeated value within the batch;
    `allowed_values` maps a column to the set its values come from; `bounds` maps a numeric
    column to its inclusive (min, max), None meaning unbounded. The table's Arrow schema
    (names, types, nullability) is part of every contract.
    """

    table: TableSpec
    stage: str
    keys: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    allowed_values: Mapping[str, AllowedValues] = field(default_factory=dict)
    bounds: Mapping[str, Bounds] = field(default_factory=dict)
    drift: DriftProfile = DriftProfile()

    def columns(self) -> list[str]:
        """The columns a validation reads: only these are loaded, keeping memory bounded."""
        named = [
            *self.keys,
            *self.unique,
            *self.allowed_values,
            *self.bounds,
            *self.drift.columns(),
        ]
        present = set(self.table.schema.names)
        return [name for name in dict.fromkeys(named) if name in present]


def recipe_domains(recipe: Recipe) -> Collection[str]:
    """Domain labels the recipe's sources declare."""
    return sorted({source.domain for source in recipe.sources})


def recipe_sources(recipe: Recipe) -> Collection[str]:
    """Names of the recipe's sources."""
    return sorted(source.name for source in recipe.sources)


def quarantine_reasons(_recipe: Recipe) -> Collection[str]:
    """Every machine-readable reason the ingest stage quarantines with."""
    from lakehouse.landing import Reason

    return sorted(
        value for name, value in vars(Reason).items() if name.isupper() and isinstance(value, str)
    )


def text_bytes_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """Bronze text is non-empty and no longer than the largest record ingest accepts, bytes."""
    return (1, recipe.ingest.max_record_bytes)


BRONZE_DOCUMENTS_CONTRACT = TableContract(
    table=BRONZE_DOCUMENTS,
    stage="ingest",
    keys=("doc_id", "text_sha256"),
    unique=("doc_id",),
    allowed_values={"domain": recipe_domains, "source": recipe_sources},
    bounds={"text_bytes": text_bytes_bounds, "source_record": lambda _recipe: (0, None)},
    drift=DriftProfile(length_column="text_bytes", categorical=("domain", "language")),
)

BRONZE_QUARANTINE_CONTRACT = TableContract(
    table=BRONZE_QUARANTINE,
    stage="ingest",
    keys=("reason",),
    unique=("doc_id",),
    allowed_values={"reason": quarantine_reasons, "source": recipe_sources},
    bounds={"raw_bytes": lambda _recipe: (0, None)},
    drift=DriftProfile(categorical=("reason",)),
)


def allowed_languages(recipe: Recipe) -> Collection[str]:
    """Languages the clean stage keeps."""
    return sorted(recipe.clean.language.allow)


def language_score_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """A kept document's language confidence is at least the recipe's minimum, at most 1."""
    return (recipe.clean.language.min_score, 1.0)


def _silver_contract(table: TableSpec, stage: str) -> TableContract:
    return TableContract(
        table=table,
        stage=stage,
        keys=("doc_id", "text_sha256", "lang"),
        unique=("doc_id",),
        allowed_values={
            "domain": recipe_domains,
            "source": recipe_sources,
            "lang": allowed_languages,
        },
        bounds={"lang_score": language_score_bounds, "text_chars": lambda _recipe: (1, None)},
        drift=DriftProfile(length_column="text_chars", categorical=("domain", "lang")),
    )


SILVER_DOCUMENTS_CONTRACT = _silver_contract(SILVER_DOCUMENTS, "clean")
SILVER_UNIQUE_DOCUMENTS_CONTRACT = _silver_contract(SILVER_UNIQUE_DOCUMENTS, "dedup")

CONTRACTS: dict[str, TableContract] = {
    contract.table.key: contract
    for contract in (
        BRONZE_DOCUMENTS_CONTRACT,
        BRONZE_QUARANTINE_CONTRACT,
        SILVER_DOCUMENTS_CONTRACT,
        SILVER_UNIQUE_DOCUMENTS_CONTRACT,
    )
}


def table_contract(key: str) -> TableContract | None:
    """The contract of table `layer/name`, or None when the table declares none."""
    return CONTRACTS.get(key.replace(".", "/"))
