"""The recipe: every source and threshold of a funnel run, validated by pydantic.

A recipe is one YAML file. Relative paths in it resolve against the file's own folder, so a recipe
and its landing data can move together. The recipe's sha256 (of the file bytes) is stored with every
Delta commit, so any table version can be traced to the exact recipe that produced it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lakehouse.storage import is_remote_uri

SOURCE_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file, the key path and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One kind of landing data: where its files are, how to read them, what they are."""

    name: str = Field(
        pattern=SOURCE_NAME_PATTERN, description="Short identifier, e.g. manpages_de."
    )
    path: str = Field(
        min_length=1,
        description="Glob under the landing folder, or an absolute path or URI (s3://, gs://, …).",
    )
    format: Literal["jsonl", "parquet"]
    domain: str = Field(pattern=SOURCE_NAME_PATTERN, description="Domain label, e.g. code, legal.")
    license: str = Field(min_length=1, description="License of the source's text (SPDX id).")
    text_field: str = Field(default="text", min_length=1)
    id_field: str | None = Field(
        default="id", description="The record's own id, kept as source_id."
    )


class IngestConfig(_Section):
    """Limits of the bronze ingestion stage."""

    max_record_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="Bytes of one raw record above which it is quarantined.",
    )
    read_block_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of a landing file decoded at a time; bounds ingest memory.",
    )


class ScheduleConfig(_Section):
    """When the funnel runs by itself."""

    cron: str = Field(default="0 2 * * *", description="Daily materialization of pending batches.")
    timezone: str = "UTC"
    sensor_interval_seconds: int = Field(
        default=60, ge=5, description="How often landing is polled."
    )


class DriftTolerances(_Section):
    """How far a batch may move from the previous table version before a drift warning."""

    row_count_change: float = Field(
        default=0.5,
        ge=0,
        description="Relative change of the batch's rows against the previous rows per batch.",
    )
    mean_length_change: float = Field(
        default=0.25, ge=0, description="Relative change of the mean text length."
    )
    distribution_distance: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Total variation distance of a categorical column (domain, language).",
    )
    score_mean_shift: float = Field(
        default=0.1, ge=0, description="Absolute shift of the mean of a score column."
    )


class ChecksConfig(_Section):
    """Quality gates: data contracts (blocking) and drift against the previous version (warn)."""

    enabled: bool = Field(
        default=True,
        description="Run the Great Expectations contracts and drift checks of every table.",
    )
    drift: DriftTolerances = DriftTolerances()


class Recipe(_Section):
    """A whole funnel configuration."""

    name: str = Field(pattern=SOURCE_NAME_PATTERN)
    landing: str = Field(min_length=1, description="Folder or URI that new source files land in.")
    sources: list[SourceConfig] = Field(min_length=1)
    ingest: IngestConfig = IngestConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    checks: ChecksConfig = ChecksConfig()

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [source.name for source in sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources

    def source(self, name: str) -> SourceConfig:
        """The source called `name`; KeyError naming the known sources otherwise."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(source.name for source in self.sources)
        raise KeyError(f"recipe has no source {name!r}; it has: {known}")


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe with where it came from and its content hash."""

    recipe: Recipe
    path: Path
    sha256: str

    @property
    def landing_uri(self) -> str:
        """The landing folder as an absolute path or URI."""
        return resolve_location(self.recipe.landing, self.path.parent)

    def source_glob(self, source: SourceConfig) -> str:
        """The absolute glob (path or URI) that matches a source's landing files."""
        if is_remote_uri(source.path) or os.path.isabs(source.path):
            return source.path
        return f"{self.landing_uri.rstrip('/')}/{source.path}"


def resolve_location(location: str, base: Path) -> str:
    """An absolute path or URI for `location`, relative paths taken from `base`."""
    if is_remote_uri(location) or os.path.isabs(location):
        return location
    return str((base / location).resolve())


def _key_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def parse_recipe(text: str, origin: str = "<recipe>") -> Recipe:
    """Validate recipe YAML text; RecipeError naming the first offending key path otherwise."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{origin}: not valid YAML: {error}".replace("\n", " ")) from error
    if not isinstance(raw, dict):
        raise RecipeError(f"{origin}: a recipe is a mapping of keys, got {type(raw).__name__}")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            key = _key_path(detail["loc"])
            if detail["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key")
            else:
                problems.append(f"{key}: {detail['msg']}")
        raise RecipeError(f"{origin}: " + "; ".join(problems)) from error


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read and validate the recipe file at `path`."""
    recipe_path = Path(path).resolve()
    try:
        content = recipe_path.read_bytes()
    except OSError as error:
        raise RecipeError(f"{path}: cannot read recipe: {error.strerror}") from error
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(f"{path}: recipe is not UTF-8 text") from error
    recipe = parse_recipe(text, origin=str(path))
    return LoadedRecipe(recipe, recipe_path, hashlib.sha256(content).hexdigest())
