"""Resources the assets and checks are given: the lakehouse (data root + recipe), Spark, torch."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field
from pyspark.sql import SparkSession

from lakehouse.artifacts import Artifact
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.recipe import LoadedRecipe, ScoreConfig, load_recipe
from lakehouse.storage import PROJECT_DIR, code_version, resolve_root

if TYPE_CHECKING:
    from gpu_jobs.encoder import Encoder

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
        self,
        run_id: str,
        stage: str,
        recipe: LoadedRecipe,
        inputs: dict[str, int] | None = None,
        artifacts: Sequence[Artifact] = (),
    ) -> CommitInfo:
        """Commit metadata for a table version written by `stage` in run `run_id`."""
        return CommitInfo(
            run_id=run_id,
            stage=stage,
            recipe_sha256=recipe.sha256,
            code_version=code_version(),
            input_versions=inputs or {},
            artifacts=tuple(artifacts),
            plan_id=recipe.recipe.plan,
        )


class SparkResource(dg.ConfigurableResource):
    """The Spark session of a run: one per process, shared by every stage that needs Spark."""

    master: str | None = Field(
        default=None,
        description="Spark master; None takes FUNNEL_SPARK_MASTER, then the recipe, then local[*].",
    )
    settings: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings (spark.* keys)."
    )

    def resolved_master(self, recipe: LoadedRecipe | None = None) -> str:
        """The master this resource connects to, by precedence: field, env, recipe, local[*]."""
        from spark_jobs.session import DEFAULT_MASTER

        configured = recipe.recipe.clean.spark_master if recipe is not None else None
        return self.master or os.environ.get("FUNNEL_SPARK_MASTER") or configured or DEFAULT_MASTER

    def session(self, recipe: LoadedRecipe | None = None) -> SparkSession:
        """The process's Spark session (started on first use, then reused)."""
        from spark_jobs.session import spark_session

        return spark_session(self.resolved_master(recipe), settings=self.settings)


@functools.cache
def _loaded_encoder(device: str, cpu_precision: str, max_tokens: int) -> Encoder:
    """One encoder per process and setting: loading it costs seconds, scoring batches reuse it."""
    from gpu_jobs.encoder import load_encoder

    return load_encoder(device, cpu_precision, max_tokens)  # type: ignore[arg-type]


class TorchResource(dg.ConfigurableResource):
    """Where the model stages run: the device (CUDA when present by default) and the encoder."""

    device: str | None = Field(
        default=None,
        description="auto, cpu or cuda; None takes FUNNEL_DEVICE, then the recipe's score.device.",
    )

    def resolved_device(self, config: ScoreConfig) -> str:
        """The device setting by precedence: field, FUNNEL_DEVICE, recipe."""
        return self.device or os.environ.get("FUNNEL_DEVICE") or config.device

    def encoder(self, config: ScoreConfig) -> Encoder:
        """The process's encoder for the recipe's device, CPU precision and max_tokens."""
        return _loaded_encoder(
            self.resolved_device(config), config.cpu_precision, config.max_tokens
        )
