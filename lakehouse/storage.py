"""Where the lakehouse lives: the data root, its storage options and the code version.

`FUNNEL_ROOT` names the data root (default `./lake`); it may be a local folder or an object-store
URI (`s3://…`, `gs://…`, `az://…`), in which case `FUNNEL_STORAGE_OPTIONS` (a JSON object)
carries the delta-rs storage options, such as credentials or endpoint.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

DEFAULT_ROOT = "lake"
REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "gcs://", "az://", "abfs://", "abfss://", "memory://")
PROJECT_DIR = Path(__file__).resolve().parent.parent


class StorageConfigError(ValueError):
    """The data root or its storage options are unusable."""


def is_remote_uri(location: str) -> bool:
    """True for object-store and other non-local URIs."""
    return "://" in location and not location.startswith("file://")


def resolve_root(root: str | None = None) -> str:
    """The data root as an absolute path or URI, from `root` or `FUNNEL_ROOT`."""
    location = root or os.environ.get("FUNNEL_ROOT") or DEFAULT_ROOT
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    if is_remote_uri(location):
        return location.rstrip("/")
    return str(Path(location).expanduser().resolve())


def storage_options_from_env() -> dict[str, str]:
    """delta-rs storage options from `FUNNEL_STORAGE_OPTIONS` (a JSON object of strings)."""
    raw = os.environ.get("FUNNEL_STORAGE_OPTIONS", "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as error:
        raise StorageConfigError(f"FUNNEL_STORAGE_OPTIONS is not valid JSON: {error}") from error
    if not isinstance(options, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in options.items()
    ):
        raise StorageConfigError("FUNNEL_STORAGE_OPTIONS must be a JSON object of string values")
    return options


def dagster_home(root: str) -> Path:
    """The Dagster instance folder: `DAGSTER_HOME`, else `<root>/_dagster` for a local root."""
    explicit = os.environ.get("DAGSTER_HOME")
    if explicit:
        return Path(explicit).resolve()
    if is_remote_uri(root):
        raise StorageConfigError(
            f"FUNNEL_ROOT {root} is remote; set DAGSTER_HOME to a local folder for the run history"
        )
    return Path(root) / "_dagster"


def leases_folder(root: str) -> Path:
    """Where the lake's leases live (lakehouse/leases.py): beside the Dagster instance."""
    return dagster_home(root) / "leases"


@functools.cache
def code_version() -> str:
    """The package version, plus the git commit (and a dirty mark) when run from a checkout."""
    version = metadata.version("funnel-lakehouse")
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_DIR), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{commit}{'.dirty' if dirty else ''}"
