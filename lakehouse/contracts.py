"""Data contracts: what every row of a table must satisfy, and what to watch for drift.

A contract is plain data declared next to the table it protects, one per table; `checks/` turns it
into Great Expectations suites and Dagster asset checks, so a new stage gets its gates by
declaring its contract here and calling `checks.stage.stage_checks` once. Values that depend on
the recipe (allowed domains, length limits) are functions of the recipe, never constants.

`contract_violations` checks the same rules on rows in memory with Arrow compute alone, for
writers outside the orchestration layer (the training loop's consumption log) that must refuse
a bad batch before it commits without running Great Expectations.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.recipe import Recipe
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    BRONZE_QUARANTINE,
    GOLD_EMBEDDINGS,
    GOLD_RELEASE_CANDIDATE,
    GOLD_RELEASES,
    GOLD_SCORED_DOCUMENTS,
    REVIEW_DECISIONS,
    REVIEW_QUEUE,
    SERVING_CONSUMPTION,
    SILVER_DECONTAMINATED_DOCUMENTS,
    SILVER_DOCUMENTS,
    SILVER_SIGNALS,
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


@dataclass(frozen=True)
class Violation:
    """The rows of a batch that break one rule of a contract.

    `assertion` is `missing_columns`, `not_null`, `unique`, `accepted_values` or `range` (the
    names the Great Expectations results carry); `examples` are ids (or values) of such rows.
    """

    assertion: str
    column: str | None
    unexpected_count: int
    examples: tuple[str, ...] = ()


def contract_violations(
    contract: TableContract,
    recipe: Recipe | None,
    rows: pa.Table,
    *,
    id_column: str = "doc_id",
    examples: int = 5,
) -> list[Violation]:
    """Every rule of `contract` that `rows` break, checked with Arrow compute (no GX).

    Keys must not be null (NaN counts as null); `unique` columns hold no repeated value; allowed
    values and inclusive bounds hold on the non-null values. `recipe` may be None for a contract
    whose values do not depend on it. Examples name rows by `id_column` when the rows have it.
    """
    missing = [name for name in contract.columns() if name not in rows.column_names]
    violations = (
        [Violation("missing_columns", None, len(missing), tuple(missing))] if missing else []
    )
    for assertion, column, broken in _broken_rows(contract, recipe, rows):
        count = pc.sum(pc.cast(broken, pa.int64())).as_py() or 0
        if count:
            named = id_column if id_column in rows.column_names else column
            shown = pc.filter(rows[named], broken).slice(0, examples).to_pylist()
            found = tuple(str(value) for value in shown if value is not None)
            violations.append(Violation(assertion, column, count, found))
    return violations


def _broken_rows(
    contract: TableContract, recipe: Recipe | None, rows: pa.Table
) -> Iterator[tuple[str, str, pa.ChunkedArray]]:
    """(assertion, column, boolean mask of the rows that break it) for each rule of the contract."""
    present = set(rows.column_names)
    for column in (name for name in contract.keys if name in present):
        yield "not_null", column, pc.is_null(rows[column], nan_is_null=True)
    for column in (name for name in contract.unique if name in present):
        counts = pc.value_counts(rows[column])
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        yield "unique", column, pc.is_in(rows[column], value_set=repeated)
    for column, allowed in contract.allowed_values.items():
        if column in present:
            values = pa.array(sorted(allowed(recipe)), rows[column].type)  # type: ignore[arg-type]
            outside = pc.invert(pc.is_in(rows[column], value_set=values))
            yield "accepted_values", column, pc.and_(pc.is_valid(rows[column]), outside)
    for column, bounds in contract.bounds.items():
        if column in present:
            low, high = bounds(recipe)  # type: ignore[arg-type]
            below = pc.less(rows[column], low) if low is not None else None
            above = pc.greater(rows[column], high) if high is not None else None
            outside = below if above is None else above if below is None else pc.or_(below, above)
            if outside is not None:
                yield "range", column, pc.fill_null(outside, False)


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


def _judged_by_language(recipe: Recipe) -> list[Any]:
    """The clean configs of the rule profiles that run the language rules, and whether one
    does not (a code profile keeps a document whatever its detected language)."""
    clean = recipe.clean
    return [
        clean.profile_config(name) if "language" in clean.profile_families(name) else None
        for name in clean.profile_names
    ]


def allowed_languages(recipe: Recipe) -> Collection[str]:
    """Languages the clean stage keeps: those a rule profile allows, or every language the
    identifier knows when a profile does not run the language rules."""
    configs = _judged_by_language(recipe)
    if None in configs:
        from lakehouse.rules import LID176_LANGUAGES, UNDETERMINED_LANGUAGE

        return sorted({*LID176_LANGUAGES, UNDETERMINED_LANGUAGE})
    return sorted({code for config in configs for code in config.language.allow})


def language_score_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """A kept document's language confidence is at least the lowest minimum of the rule
    profiles (0 when a profile does not run the language rules), at most 1."""
    configs = _judged_by_language(recipe)
    lowest = min(0.0 if config is None else config.language.min_score for config in configs)
    return (lowest, 1.0)


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
SILVER_DECONTAMINATED_DOCUMENTS_CONTRACT = _silver_contract(
    SILVER_DECONTAMINATED_DOCUMENTS, "decontaminate"
)


def signal_rules(_recipe: Recipe) -> Collection[str]:
    """Rules a clean outcome can name: every declared rule, and the reviewers' blocklist."""
    from lakehouse.rules import RULES

    return sorted({rule.name for rule in RULES} | {"blocklist"})


SILVER_SIGNALS_CONTRACT = TableContract(
    table=SILVER_SIGNALS,
    stage="clean",
    keys=("doc_id", "source", "text_bytes"),
    unique=("doc_id",),
    allowed_values={"source": recipe_sources, "domain": recipe_domains, "rule": signal_rules},
    bounds={"lang_score": lambda _recipe: (0, 1), "text_bytes": lambda _recipe: (0, None)},
    drift=DriftProfile(categorical=("rule", "lang")),
)


def encoder_token_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """A scored document has at least its two special tokens, at most the recipe's maximum."""
    return (2, recipe.score.max_tokens)


def semantic_cluster_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """k-means clusters are numbered from 0 to the recipe's cluster count minus one."""
    return (0, recipe.score.semdedup.clusters - 1)


GOLD_SCORED_DOCUMENTS_CONTRACT = TableContract(
    table=GOLD_SCORED_DOCUMENTS,
    stage="score",
    keys=("doc_id", "text_sha256", "quality_score", "domain", "domain_prob", "ingested_at"),
    unique=("doc_id",),
    allowed_values={
        "domain": recipe_domains,
        "source_domain": recipe_domains,
        "source": recipe_sources,
    },
    bounds={
        "quality_score": lambda _recipe: (0, 1),
        "domain_prob": lambda _recipe: (0, 1),
        "encoder_tokens": encoder_token_bounds,
        "semantic_cluster": semantic_cluster_bounds,
    },
    drift=DriftProfile(
        length_column="text_chars", categorical=("domain",), numeric=("quality_score",)
    ),
)

GOLD_EMBEDDINGS_CONTRACT = TableContract(
    table=GOLD_EMBEDDINGS,
    stage="score",
    keys=("doc_id", "embedding", "text_sha256", "encoder"),
    unique=("doc_id",),
    bounds={"encoder_tokens": encoder_token_bounds},
)


def candidate_quality_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """A candidate's quality score is at least the recipe's minimum, at most 1."""
    return (recipe.curate.min_quality_score or 0.0, 1.0)


def candidate_weight_bounds(recipe: Recipe) -> tuple[float | None, float | None]:
    """Per-sample weights lie between 1 and the recipe's `curate.max_weight`."""
    return (1.0, recipe.curate.max_weight)


def review_decision_values(_recipe: Recipe) -> Collection[str]:
    """The decisions a reviewer can take."""
    from lakehouse.review import DECISIONS

    return sorted(DECISIONS)


GOLD_RELEASE_CANDIDATE_CONTRACT = TableContract(
    table=GOLD_RELEASE_CANDIDATE,
    stage="curate",
    keys=("doc_id", "text_sha256", "domain", "tokens", "weight"),
    unique=("doc_id",),
    allowed_values={"source": recipe_sources},
    bounds={
        "quality_score": candidate_quality_bounds,
        "weight": candidate_weight_bounds,
        "tokens": lambda _recipe: (0, None),
        "domain_quality_rank": lambda _recipe: (0, 1),
    },
    drift=DriftProfile(categorical=("domain",), numeric=("quality_score",)),
)

REVIEW_QUEUE_CONTRACT = TableContract(
    table=REVIEW_QUEUE,
    stage="review",
    keys=("doc_id", "position"),
    unique=("doc_id", "position"),
    bounds={"quality_score": lambda _recipe: (0, 1), "position": lambda _recipe: (0, None)},
)

REVIEW_DECISIONS_CONTRACT = TableContract(
    table=REVIEW_DECISIONS,
    stage="review",
    keys=("doc_id", "reviewer", "decision"),
    allowed_values={"decision": review_decision_values},
)

GOLD_RELEASES_CONTRACT = TableContract(
    table=GOLD_RELEASES,
    stage="release",
    keys=("name", "manifest_sha256"),
    unique=("name",),
    bounds={"documents": lambda _recipe: (0, None), "tokens": lambda _recipe: (0, None)},
)

# Finite and >= 0: the upper bound refuses infinities; NaN counts as null for the key check.
SERVING_CONSUMPTION_CONTRACT = TableContract(
    table=SERVING_CONSUMPTION,
    stage="serve",
    keys=("run_name", "release", "step", "doc_id", "domain", "kept", "weight", "consumed_at"),
    bounds={"step": lambda _recipe: (0, None), "weight": lambda _recipe: (0.0, sys.float_info.max)},
)
"""Checked by `serving.consumption.ConsumptionLog` on each batch before it commits, with
`contract_violations` (training writes this table, not a Dagster asset, so it is not in
`CONTRACTS`, which drives the asset checks); `checks.expectations.validate_batch` runs it as a
Great Expectations suite on a written version. Its values do not depend on the recipe."""

CONTRACTS: dict[str, TableContract] = {
    contract.table.key: contract
    for contract in (
        BRONZE_DOCUMENTS_CONTRACT,
        BRONZE_QUARANTINE_CONTRACT,
        SILVER_DOCUMENTS_CONTRACT,
        SILVER_UNIQUE_DOCUMENTS_CONTRACT,
        SILVER_DECONTAMINATED_DOCUMENTS_CONTRACT,
        SILVER_SIGNALS_CONTRACT,
        GOLD_SCORED_DOCUMENTS_CONTRACT,
        GOLD_EMBEDDINGS_CONTRACT,
        GOLD_RELEASE_CANDIDATE_CONTRACT,
        REVIEW_QUEUE_CONTRACT,
        REVIEW_DECISIONS_CONTRACT,
        GOLD_RELEASES_CONTRACT,
    )
}


def table_contract(key: str) -> TableContract | None:
    """The contract of table `layer/name`, or None when the table declares none."""
    return CONTRACTS.get(key.replace(".", "/"))
