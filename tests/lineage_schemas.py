"""Validating OpenLineage events offline against the official schemas in ../shared/openlineage-spec.

Every schema (the core model, each standard facet, and funnel's own facet) is registered under
its `$id`, so `$ref`s between them resolve without any network access. An event is validated
against the core RunEvent schema, then every facet in it against the schema its `_schemaURL`
names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lakehouse.lineage import SCHEMA_DIR
from lakehouse.storage import PROJECT_DIR

SPEC_DIR = PROJECT_DIR.parent / "shared" / "openlineage-spec"
CORE_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
_FORMATS = Draft202012Validator.FORMAT_CHECKER


def _schema_files() -> list[Path]:
    standard = sorted((SPEC_DIR / "facets").glob("*.json"))
    return [SPEC_DIR / "OpenLineage.json", *standard, *sorted(SCHEMA_DIR.glob("*.json"))]


def registry() -> Registry:
    """Every known schema, keyed by its `$id`."""
    resources = []
    for path in _schema_files():
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from event["run"].get("facets", {}).items()
    yield from event["job"].get("facets", {}).items()
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for group in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(group, {}).items()


def validation_errors(event: dict[str, Any], schemas: Registry) -> list[str]:
    """Every schema violation in `event`: core model first, then each facet by `_schemaURL`."""
    problems = []
    core = Draft202012Validator(
        {"$ref": f"{CORE_URL}#/$defs/RunEvent"}, registry=schemas, format_checker=_FORMATS
    )
    problems += [f"event: {error.message}" for error in core.iter_errors(event)]
    for name, facet in _facets(event):
        url = facet.get("_schemaURL")
        if not url:
            problems.append(f"facet {name}: no _schemaURL")
            continue
        base = url.split("#", 1)[0]
        try:
            schemas.get_or_retrieve(base)
        except Exception:
            problems.append(f"facet {name}: schema {base} is not among the known schemas")
            continue
        validator = Draft202012Validator({"$ref": url}, registry=schemas, format_checker=_FORMATS)
        problems += [f"facet {name}: {error.message}" for error in validator.iter_errors(facet)]
    return problems
