"""Where the lakehouse lives: the data root, its storage options and the code version.

`FUNNEL_ROOT` names the data root (default `./lake`); it may be a local folder or an object-store
URI (`s3://…`, `gs://…`, `az://…`), in which case `FUNNEL_STORAGE_OPTIONS` (a JSON object)
carries the delta-rs storage options, such as credentials or endpoint.

Every reader and writer of the lake takes its filesystem from those same options: delta-rs for
the Delta tables, `filesystem` (fsspec: s3fs, gcsfs, adlfs) for the files beside them (lineage
events, model artifacts) and `arrow_filesystem` (pyarrow) for Parquet files read or written
outside delta-rs (Spark executors, the training data loader). The option names are delta-rs's
(`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, …, case-insensitive); `fsspec_options` translates them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import fsspec
import pyarrow.fs as pafs

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


# delta-rs option name (upper case) → (fsspec S3 argument, where it goes).
_S3_OPTIONS = {
    "AWS_ACCESS_KEY_ID": "key",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
    "AWS_TOKEN": "token",
    "AWS_PROFILE": "profile",
}
_S3_CLIENT_OPTIONS = {
    "AWS_ENDPOINT_URL": "endpoint_url",
    "AWS_ENDPOINT": "endpoint_url",
    "AWS_REGION": "region_name",
    "AWS_DEFAULT_REGION": "region_name",
}
_GCS_OPTIONS = {
    "GOOGLE_SERVICE_ACCOUNT": "token",
    "GOOGLE_SERVICE_ACCOUNT_PATH": "token",
    "GOOGLE_APPLICATION_CREDENTIALS": "token",
    "SERVICE_ACCOUNT": "token",
}
_AZURE_OPTIONS = {
    "AZURE_STORAGE_ACCOUNT_NAME": "account_name",
    "ACCOUNT_NAME": "account_name",
    "AZURE_STORAGE_ACCOUNT_KEY": "account_key",
    "ACCOUNT_KEY": "account_key",
    "AZURE_STORAGE_SAS_KEY": "sas_token",
    "AZURE_STORAGE_CONNECTION_STRING": "connection_string",
}


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else "file"


def fsspec_options(uri: str, storage_options: Mapping[str, str] | None) -> dict[str, Any]:
    """The fsspec filesystem arguments for `uri` from delta-rs storage options.

    Only options fsspec understands are translated; the rest (`AWS_ALLOW_HTTP`, conditional put
    settings) concern delta-rs alone.
    """
    options = {key.upper(): value for key, value in (storage_options or {}).items()}
    scheme = _scheme(uri)
    if scheme in {"s3", "s3a"}:
        arguments: dict[str, Any] = {
            name: options[key] for key, name in _S3_OPTIONS.items() if key in options
        }
        client = {name: options[key] for key, name in _S3_CLIENT_OPTIONS.items() if key in options}
        if client:
            arguments["client_kwargs"] = client
        if options.get("AWS_SKIP_SIGNATURE", "").lower() == "true":
            arguments["anon"] = True
        return arguments
    if scheme in {"gs", "gcs"}:
        return {name: options[key] for key, name in _GCS_OPTIONS.items() if key in options}
    if scheme in {"az", "abfs", "abfss"}:
        return {name: options[key] for key, name in _AZURE_OPTIONS.items() if key in options}
    return {}


def filesystem(
    uri: str, storage_options: Mapping[str, str] | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of `uri`, configured from the lake's storage options, and the path
    within it. Local paths get the local filesystem."""
    if not is_remote_uri(uri):
        return fsspec.filesystem("file"), uri.removeprefix("file://")
    protocol = "s3" if _scheme(uri) == "s3a" else _scheme(uri)
    fs = fsspec.filesystem(protocol, **fsspec_options(uri, storage_options))
    return fs, fs._strip_protocol(uri)


def arrow_filesystem(
    uri: str, storage_options: Mapping[str, str] | None = None
) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of `uri` and the path within it, from the same storage options.

    S3 uses pyarrow's own S3 client (no Python in the I/O path); other object stores go
    through their fsspec filesystem.
    """
    if not is_remote_uri(uri):
        return pafs.LocalFileSystem(), uri.removeprefix("file://")
    if _scheme(uri) in {"s3", "s3a"}:
        options = {key.upper(): value for key, value in (storage_options or {}).items()}
        arguments: dict[str, Any] = {}
        endpoint = options.get("AWS_ENDPOINT_URL") or options.get("AWS_ENDPOINT")
        if endpoint:
            parsed = urlparse(endpoint)
            arguments["endpoint_override"] = parsed.netloc or endpoint
            arguments["scheme"] = parsed.scheme or "https"
        for key, name in (
            ("AWS_ACCESS_KEY_ID", "access_key"),
            ("AWS_SECRET_ACCESS_KEY", "secret_key"),
            ("AWS_SESSION_TOKEN", "session_token"),
        ):
            if key in options:
                arguments[name] = options[key]
        region = options.get("AWS_REGION") or options.get("AWS_DEFAULT_REGION")
        if region:
            arguments["region"] = region
        if options.get("AWS_SKIP_SIGNATURE", "").lower() == "true":
            arguments["anonymous"] = True
        path = uri.split("://", 1)[1]
        return pafs.S3FileSystem(**arguments), path
    fs, path = filesystem(uri, storage_options)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


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
