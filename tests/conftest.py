"""Shared fixtures: a small landing folder, a recipe for it, and a lakehouse in a temp root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from assets.resources import LakehouseResource
from lakehouse.catalog import Catalog, CommitInfo
from tests.landing_files import note_text, write_jsonl_gz, write_recipe


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder with one clean JSON-lines file of 50 notes."""
    folder = tmp_path / "landing"
    records = [{"id": f"n{i}", "text": note_text(i)} for i in range(50)]
    write_jsonl_gz(folder / "notes" / "part-0.jsonl.gz", records)
    return folder


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The recipe file for the `landing` fixture."""
    return write_recipe(tmp_path, landing)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty lakehouse root."""
    return tmp_path / "lake"


@pytest.fixture
def catalog(root: Path) -> Catalog:
    """The catalog of the empty lakehouse root."""
    return Catalog(str(root))


@pytest.fixture
def lakehouse(root: Path, recipe_path: Path) -> LakehouseResource:
    """The lakehouse resource on the temp root and test recipe."""
    return LakehouseResource(root=str(root), recipe_path=str(recipe_path))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A throwaway Dagster instance (runs, partitions and events kept in a temp folder)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def commit() -> CommitInfo:
    """Commit metadata for writes made directly by tests."""
    return CommitInfo(run_id="test-run", stage="test", recipe_sha256="0" * 64, code_version="test")
