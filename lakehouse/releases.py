"""Releases: the review gate, immutable manifests, and re-reading a release's rows exactly.

A release is one row of `gold/releases`: its name, the `gold/release_candidate` version it ships,
every upstream table pinned to the Delta version it rests on, the recipe sha and code version,
counts and tokens per domain, and the review summary its gate passed on. Rows are appended and
never rewritten; a name is published once. `release_rows(catalog, name)` reads the candidate at
the pinned version (Delta time travel), so it returns the same rows however the tables moved on,
as long as the old versions' files are not vacuumed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import ledger_entries
from lakehouse.review import ReviewProgress
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, GOLD_RELEASES, OPS_REJECTIONS, TABLES


class ReleaseGateError(RuntimeError):
    """The review does not allow a release yet; the message says what is missing."""


class ReleaseExistsError(RuntimeError):
    """A release of that name is already published; releases are immutable."""


class ReleaseNotFoundError(LookupError):
    """No release of that name."""


class ReleaseIntegrityError(RuntimeError):
    """A manifest row whose content no longer matches its recorded sha256."""


@dataclass(frozen=True)
class GateVerdict:
    """Whether a review lets a release through, and every reason it does not."""

    passed: bool
    problems: list[str]


def review_gate(progress: ReviewProgress, min_approval_rate: float) -> GateVerdict:
    """Every queued document decided and the approval rate at least `min_approval_rate`."""
    problems = []
    if progress.queue_version is None:
        problems.append("no review queue: materialize review/queue first")
    elif progress.queued == 0:
        problems.append("review/queue is empty: the release candidate holds no documents")
    elif progress.pending:
        problems.append(
            f"{progress.pending} of {progress.queued} queued documents are not decided yet"
        )
    if progress.decided and progress.approval_rate < min_approval_rate:
        problems.append(
            f"approval rate {progress.approval_rate:.3f} is below the recipe's "
            f"release.min_approval_rate {min_approval_rate:g}"
        )
    return GateVerdict(not problems, problems)


def pinned_upstream(catalog: Catalog, table: str, version: int) -> dict[str, int]:
    """`table@version` and every table version it was built from, following commit metadata."""
    pinned = {table: version}
    pending = [(table, version)]
    while pending:
        name, pinned_version = pending.pop()
        if name not in TABLES or catalog.version(name) is None:
            continue
        commit = next(
            (entry for entry in catalog.history(name) if entry.version == pinned_version), None
        )
        for upstream, upstream_version in sorted((commit.input_versions if commit else {}).items()):
            if upstream not in pinned:
                pinned[upstream] = upstream_version
                pending.append((upstream, upstream_version))
    return dict(sorted(pinned.items()))


@dataclass(frozen=True)
class ReleaseManifest:
    """What a release is: enough to re-read its rows exactly and to rebuild it."""

    name: str
    published_at: datetime
    run_id: str
    recipe_sha256: str
    code_version: str
    candidate_version: int
    pinned_tables: dict[str, int]
    documents: int
    tokens: int
    weighted_tokens: float
    domains: list[dict[str, Any]]
    review: dict[str, Any]

    def canonical_json(self) -> str:
        """The manifest as sorted, compact JSON: what its sha256 is taken of."""
        values = asdict(self) | {"published_at": self.published_at.isoformat()}
        return json.dumps(values, sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        """sha256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def as_row(self) -> dict[str, Any]:
        """The `gold/releases` row of this manifest."""
        values = asdict(self)
        for key in ("pinned_tables", "domains", "review"):
            values[key] = json.dumps(values[key], sort_keys=True)
        return values | {"manifest_sha256": self.sha256}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the manifest's sha256."""
        return asdict(self) | {
            "published_at": self.published_at.isoformat(),
            "manifest_sha256": self.sha256,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ReleaseManifest:
        """A manifest from its `gold/releases` row, checked against the recorded sha256."""
        values = {name: row[name] for name in cls.__dataclass_fields__}
        for key in ("pinned_tables", "domains", "review"):
            values[key] = json.loads(values[key])
        manifest = cls(**values)
        if manifest.sha256 != row["manifest_sha256"]:
            raise ReleaseIntegrityError(
                f"release {row['name']}: manifest sha256 {manifest.sha256} differs from the "
                f"recorded {row['manifest_sha256']}; gold/releases was changed after publishing"
            )
        return manifest


def list_releases(catalog: Catalog) -> list[ReleaseManifest]:
    """Every published release, oldest first."""
    rows = catalog.read(GOLD_RELEASES).to_pylist()
    return [ReleaseManifest.from_row(row) for row in sorted(rows, key=lambda r: r["published_at"])]


def release_manifest(catalog: Catalog, name: str) -> ReleaseManifest:
    """The manifest of release `name`."""
    rows = catalog.read(GOLD_RELEASES, where={"name": name}).to_pylist() if name else []
    if not rows:
        known = ", ".join(manifest.name for manifest in list_releases(catalog)) or "none yet"
        raise ReleaseNotFoundError(f"no release named {name!r}; published: {known}")
    return ReleaseManifest.from_row(rows[0])


def publish_release(catalog: Catalog, manifest: ReleaseManifest, commit: CommitInfo) -> int:
    """Append the manifest to `gold/releases`; refused when the name is taken. Returns version.

    The name check and the append are one Delta commit, so of two publishers racing for the same
    name exactly one succeeds.
    """
    row = pa.Table.from_pylist([manifest.as_row()], GOLD_RELEASES.schema)
    version = catalog.insert_absent(GOLD_RELEASES, row, commit, key="name")
    if version is None:
        raise ReleaseExistsError(
            f"release {manifest.name!r} is already published and releases are immutable; "
            "publish under a new name"
        )
    return version


def release_rows(catalog: Catalog, name: str, columns: list[str] | None = None) -> pa.Table:
    """The rows of release `name`: `gold/release_candidate` at its pinned version, doc_id order."""
    manifest = release_manifest(catalog, name)
    rows = catalog.read(GOLD_RELEASE_CANDIDATE, manifest.candidate_version, columns=columns)
    return rows.sort_by("doc_id") if "doc_id" in rows.column_names else rows


def release_files(catalog: Catalog, name: str) -> list[str]:
    """URIs of the Parquet files that hold release `name`'s rows (at the pinned version)."""
    return manifest_files(catalog, release_manifest(catalog, name))


def manifest_files(catalog: Catalog, manifest: ReleaseManifest) -> list[str]:
    """URIs of the Parquet files of a release already read: its candidate's pinned version."""
    table = DeltaTable(
        catalog.uri(GOLD_RELEASE_CANDIDATE),
        version=manifest.candidate_version,
        storage_options=catalog.storage_options or None,
    )
    return table.file_uris()


def domain_summary(rows: pa.Table, targets: dict[str, float]) -> list[dict[str, Any]]:
    """Per domain of candidate rows (`domain`, `tokens`, `weight`): documents, tokens, weighted
    tokens, target share (None without one) and achieved share of the weighted tokens."""
    sums: dict[str, list[float]] = {}
    for domain, tokens, weight in zip(
        rows["domain"].to_pylist(),
        rows["tokens"].to_pylist(),
        rows["weight"].to_pylist(),
        strict=True,
    ):
        entry = sums.setdefault(domain, [0, 0, 0.0])
        entry[0] += 1
        entry[1] += tokens
        entry[2] += tokens * weight
    weighted_total = sum(entry[2] for entry in sums.values())
    return [
        {
            "domain": domain,
            "documents": int(documents),
            "tokens": int(tokens),
            "weighted_tokens": round(weighted, 6),
            "target_share": targets.get(domain),
            "achieved_share": round(weighted / weighted_total, 6) if weighted_total else 0.0,
        }
        for domain, (documents, tokens, weighted) in sorted(sums.items())
    ]


def mixture_shortfalls(
    summary: Sequence[Mapping[str, Any]], targets: Mapping[str, float], tolerance: float
) -> list[str]:
    """One line per target domain whose achieved share (of `domain_summary`) falls short of its
    target by more than `tolerance`, naming the domain and by how much."""
    achieved = {row["domain"]: float(row["achieved_share"]) for row in summary}
    problems = []
    for domain, target in sorted(targets.items()):
        share = achieved.get(domain, 0.0)
        if target - share > tolerance + 1e-9:
            problems.append(
                f"domain {domain} is short by {target - share:.3f}: achieved share "
                f"{share:.3f} against target {target:.3f} (tolerance {tolerance:.3f})"
            )
    return problems


def selection_shortfall(
    selected: int, scored: int, floor: float, left_out_by_rule: Mapping[str, int]
) -> str | None:
    """Why a candidate that holds less than `floor` of the scored documents is refused (None
    when it holds enough): how many were selected and which rules left the rest out."""
    if scored == 0 or selected >= floor * scored:
        return None
    rules = ", ".join(
        f"{rule} {count}" for rule, count in sorted(left_out_by_rule.items(), key=lambda x: -x[1])
    )
    return (
        f"curate selected {selected} of {scored} scored documents ({selected / scored:.1%}, "
        f"floor {floor:.1%}); left out by rule: {rules or 'none recorded'}"
    )


def candidate_problems(catalog: Catalog, curate: Any, version: int) -> list[str]:
    """Why candidate `version` must not be released: domains short of their target share
    beyond `curate.mixture_tolerance`, or a selection under `curate.min_selected_fraction` of
    the scored documents its ledger rows count. Empty: releasable."""
    rows = catalog.read(GOLD_RELEASE_CANDIDATE, version, columns=["domain", "tokens", "weight"])
    summary = domain_summary(rows, dict(curate.target_token_shares))
    problems = mixture_shortfalls(summary, curate.target_token_shares, curate.mixture_tolerance)
    entries = [
        entry
        for entry in ledger_entries(catalog, stage="curate")
        if entry.output_version == version
    ]
    scored = sum(entry.rows_in for entry in entries)
    left_out: dict[str, int] = {}
    if catalog.exists(OPS_REJECTIONS) and entries:
        rejections_version = max(entry.rejections_version or 0 for entry in entries)
        rules = catalog.read(
            OPS_REJECTIONS, rejections_version, where={"stage": "curate"}, columns=["rule"]
        )
        for rule in rules["rule"].to_pylist():
            left_out[rule] = left_out.get(rule, 0) + 1
    floor = selection_shortfall(rows.num_rows, scored, curate.min_selected_fraction, left_out)
    if floor is not None:
        problems.append(floor)
    return problems
