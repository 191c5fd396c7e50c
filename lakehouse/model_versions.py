"""Which model versions scored each batch of gold/scored_documents, and which are stale.

Every scored row carries the version of the quality and the domain head that scored it
(`quality_model_version`, `domain_model_version`: the first 12 hex digits of the head's sha256).
A batch scored by another version than the current model's is stale: its scores are not
comparable with the scores the current model gives, until the batch is scored again.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.artifacts import current_model
from lakehouse.catalog import Catalog
from lakehouse.ledger import committed_batches, committed_rows
from lakehouse.tables import GOLD_SCORED_DOCUMENTS

# Head (model artifact name) → the scored_documents column holding its version.
MODEL_VERSION_COLUMNS = {
    "quality_classifier": "quality_model_version",
    "domain_classifier": "domain_model_version",
}
UNKNOWN_VERSION = "unknown"


@dataclass(frozen=True)
class StaleBatch:
    """A scored batch and, per head it is stale for, the version that scored it."""

    batch_id: str
    scored_with: dict[str, str]
    current: dict[str, str]


def current_versions(catalog: Catalog) -> dict[str, str | None]:
    """Head → version of its current model (None while never trained)."""
    found = {}
    for name in MODEL_VERSION_COLUMNS:
        current = current_model(catalog.root, name, catalog.storage_options)
        found[name] = current.model_version if current is not None else None
    return found


def scored_versions(catalog: Catalog) -> dict[str, dict[str, list[str]]]:
    """batch → head → the model versions its committed scored rows carry (sorted)."""
    batches = committed_batches(catalog, "score", GOLD_SCORED_DOCUMENTS)
    if not batches:
        return {}
    columns = ["batch_id", *MODEL_VERSION_COLUMNS.values()]
    rows = committed_rows(catalog, batches, GOLD_SCORED_DOCUMENTS, columns=columns).to_pydict()
    found: dict[str, dict[str, set[str]]] = {
        batch: {name: set() for name in MODEL_VERSION_COLUMNS} for batch in batches
    }
    for index, batch in enumerate(rows["batch_id"]):
        for name, column in MODEL_VERSION_COLUMNS.items():
            found[batch][name].add(rows[column][index] or UNKNOWN_VERSION)
    return {
        batch: {name: sorted(versions) for name, versions in heads.items()}
        for batch, heads in sorted(found.items())
    }


def stale_batches(catalog: Catalog) -> list[StaleBatch]:
    """Scored batches with a row scored by another version than the current model's."""
    current = current_versions(catalog)
    stale = []
    for batch, heads in scored_versions(catalog).items():
        older = {
            name: ", ".join(versions)
            for name, versions in heads.items()
            if current[name] is not None and versions and versions != [current[name]]
        }
        if older:
            now = {name: str(current[name]) for name in older}
            stale.append(StaleBatch(batch, older, now))
    return stale
