"""Resources the assets and checks are given: the lakehouse (data root + recipe)."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import LoadedRecipe, load_recipe
from lakehouse.storage import PROJECT_DIR, code_version, resolve_root

DEFAULT_RECIPE = PROJECT_DIR / "recipes" / "default.yaml"


def default_recipe_path() -> str:
    """`FUNNEL_RECIPE`, else the project's `recipes/default.yaml`."""
    return os.environ.get("FUNNEL_RECIPE") or str(DEFAULT_RECIPE)


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse a run reads and writes, and the recipe that configures it."""

    root: str = Field(description="Data root: a folder or object-store URI (FUNNEL_ROOT).")
    recipe_path: str = Field(description="Path of the recipe YAML (FUNNEL_RECIPE).")

    @classmethod
    def from_env(cls) -> LakehouseResource:
        """The lakehouse named by `FUNNEL_ROOT` and `FUNNEL_RECIPE` (or their defaults)."""
        return cls(root=resolve_root(), recipe_path=default_recipe_path())

    def catalog(self) -> Catalog:
        """The table catalog of this lakehouse."""
        return Catalog(self.root)

    def recipe(self) -> LoadedRecipe:
        """The validated recipe."""
        return load_recipe(self.recipe_path)

    def commit_info(
        self, run_id: str, stage: str, recipe: LoadedRecipe, inputs: dict[str, int] | None = None
    ) -> CommitInfo:
        """Commit metadata for a table version written by `stage` in run `run_id`."""
        return CommitInfo(
            run_id=run_id,
            stage=stage,
            recipe_sha256=recipe.sha256,
            code_version=code_version(),
            input_versions=inputs or {},
        )
