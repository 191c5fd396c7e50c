"""Release: a reviewed `gold/release_candidate` → one immutable manifest row of `gold/releases`.

The gate blocks: every queued document decided and the approval rate at least the recipe's
`release.min_approval_rate`, on the queue drawn from the very candidate version being released.
Nothing here decides on a reviewer's behalf; a failed gate fails the run and writes nothing.
"""

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pyarrow.compute as pc
from pydantic import Field

from assets.curate import GOLD_RELEASE_CANDIDATE_KEY
from assets.lineage import with_lineage
from assets.resources import LakehouseResource
from assets.review import REVIEW_DECISIONS_KEY, REVIEW_QUEUE_KEY
from assets.run_processes import claim_run
from assets.runner import source_code_version
from assets.tables import asset_key, table_metadata
from lakehouse.catalog import Catalog
from lakehouse.ledger import committed_batches
from lakehouse.recipe import LoadedRecipe
from lakehouse.releases import (
    ReleaseGateError,
    ReleaseManifest,
    candidate_problems,
    domain_summary,
    pinned_upstream,
    publish_release,
    review_gate,
)
from lakehouse.review import ReviewProgress, review_progress, review_queue
from lakehouse.tables import (
    GOLD_RELEASE_CANDIDATE,
    GOLD_RELEASES,
    GOLD_SCORED_DOCUMENTS,
    OPS_LEDGER,
    REVIEW_DECISIONS,
    REVIEW_QUEUE,
)

STAGE = "release"
GOLD_RELEASES_KEY = asset_key(GOLD_RELEASES)
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReleaseNameError(ValueError):
    """A release name that is not a short identifier."""


class ReleaseRequest(dg.Config):
    """Run configuration of a release."""

    name: str = Field(
        default="",
        description="Release name (letters, digits, . _ -); empty: <recipe name>-c<candidate "
        "version>. A name is published once.",
    )


def release_name(requested: str, recipe_name: str, candidate_version: int) -> str:
    """The requested name, or `<recipe>-c<candidate version>`; ReleaseNameError if malformed."""
    name = requested.strip() or f"{recipe_name}-c{candidate_version}"
    if not RELEASE_NAME.match(name):
        raise ReleaseNameError(
            f"release name {name!r} is not allowed: use up to 100 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    return name


def _refuse_stale_candidate(catalog: Catalog, candidate_version: int) -> None:
    """ReleaseGateError when batches were scored (or re-scored) after the candidate was built:
    a release always ships the candidate of the newest scored batches."""
    commit = catalog.commit_at(GOLD_RELEASE_CANDIDATE, candidate_version)
    built_from = (commit.input_versions if commit else {}).get(OPS_LEDGER.key)
    if built_from is None:
        return
    then = committed_batches(catalog, "score", GOLD_SCORED_DOCUMENTS, ledger_version=built_from)
    now = committed_batches(catalog, "score", GOLD_SCORED_DOCUMENTS)
    if then != now:
        newer = sorted(batch for batch, version in now.items() if then.get(batch) != version)
        raise ReleaseGateError(
            f"gold/release_candidate@{candidate_version} predates the scores of batches "
            f"{', '.join(newer)}; next: funnel run (rebuilds it and its review queue)"
        )


@dataclass(frozen=True)
class ReleasableCandidate:
    """The pinned versions a release may ship, and the review progress its gate passed on."""

    candidate_version: int
    queue_version: int
    decisions_version: int | None
    progress: ReviewProgress


def releasable(catalog: Catalog, loaded: LoadedRecipe) -> ReleasableCandidate:
    """The candidate the curate stage recorded, if it may be released now; else a
    ReleaseGateError whose one-line message says why and which command comes next."""
    # The candidate as the curate stage's recorded outcome names it, never a half-done rebuild.
    recorded = committed_batches(catalog, "curate", GOLD_RELEASE_CANDIDATE)
    candidate_version = max(recorded.values(), default=None)
    queue_version = catalog.version(REVIEW_QUEUE)
    decisions_version = catalog.version(REVIEW_DECISIONS)
    if candidate_version is None or queue_version is None:
        raise ReleaseGateError(
            "nothing to release: no release candidate and review queue yet; next: funnel run"
        )
    _refuse_stale_candidate(catalog, candidate_version)
    problems = candidate_problems(catalog, loaded.recipe.curate, candidate_version)
    if problems:
        raise ReleaseGateError(
            f"gold/release_candidate@{candidate_version} is not releasable: "
            + "; ".join(problems)
            + "; next: adjust curate in the recipe (or the data), then funnel run"
        )
    sampled = set(review_queue(catalog, queue_version)["candidate_version"].to_pylist())
    if sampled and sampled != {candidate_version}:
        raise ReleaseGateError(
            f"review/queue@{queue_version} was sampled from gold/release_candidate@"
            f"{min(sampled)}, not the current @{candidate_version}; next: funnel run "
            "(queues the current candidate), then funnel review serve"
        )
    progress = review_progress(catalog, queue_version, decisions_version)
    verdict = review_gate(progress, loaded.recipe.release.min_approval_rate)
    if not verdict.passed:
        raise ReleaseGateError(
            "release blocked: " + "; ".join(verdict.problems) + "; next: funnel review serve"
        )
    return ReleasableCandidate(candidate_version, queue_version, decisions_version, progress)


@dg.asset(
    key=GOLD_RELEASES_KEY,
    deps=[GOLD_RELEASE_CANDIDATE_KEY, REVIEW_QUEUE_KEY, REVIEW_DECISIONS_KEY],
    group_name="gold",
    kinds={"delta"},
    owners=["team:data-engineering"],
    tags={"stage": STAGE},
    code_version=source_code_version(publish_release),
    description=(
        "Published releases: behind a blocking review gate (every queued document decided, "
        "approval rate ≥ release.min_approval_rate), an immutable manifest pinning the "
        "candidate and every upstream table to its Delta version, with the recipe sha, code "
        "version, counts and tokens per domain and the review summary. A name is published once."
    ),
)
@with_lineage(STAGE)
def releases(
    context: dg.AssetExecutionContext, config: ReleaseRequest, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Check the review gate on pinned versions, then append the release's manifest."""
    started = time.perf_counter()
    claim_run(context)
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    found = releasable(catalog, loaded)
    candidate_version, queue_version = found.candidate_version, found.queue_version
    decisions_version, progress = found.decisions_version, found.progress
    name = release_name(config.name, loaded.recipe.name, candidate_version)
    pinned = pinned_upstream(catalog, GOLD_RELEASE_CANDIDATE.key, candidate_version)
    pinned[REVIEW_QUEUE.key] = queue_version
    if decisions_version is not None:
        pinned[REVIEW_DECISIONS.key] = decisions_version
    rows = catalog.read(
        GOLD_RELEASE_CANDIDATE, candidate_version, columns=["domain", "tokens", "weight"]
    )
    weighted = pc.multiply(pc.cast(rows["tokens"], "double"), rows["weight"])
    commit = lakehouse.commit_info(context.run_id, STAGE, loaded, dict(sorted(pinned.items())))
    manifest = ReleaseManifest(
        name=name,
        published_at=datetime.now(UTC),
        run_id=context.run_id,
        recipe_sha256=loaded.sha256,
        code_version=commit.code_version,
        candidate_version=candidate_version,
        pinned_tables=dict(sorted(pinned.items())),
        documents=rows.num_rows,
        tokens=int(pc.sum(rows["tokens"]).as_py() or 0),
        weighted_tokens=round(float(pc.sum(weighted).as_py() or 0.0), 6),
        domains=domain_summary(rows, loaded.recipe.curate.target_token_shares),
        review=progress.as_dict() | {"min_approval_rate": loaded.recipe.release.min_approval_rate},
    )
    version = publish_release(catalog, manifest, commit)
    context.log.info(
        f"published release {name}: {manifest.documents} documents, {manifest.tokens} tokens, "
        f"gold/release_candidate@{candidate_version}, approval rate "
        f"{progress.approval_rate:.3f} over {progress.queued} reviewed documents"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            catalog,
            GOLD_RELEASES,
            version,
            1,
            release=name,
            candidate_version=candidate_version,
            documents=manifest.documents,
            tokens=manifest.tokens,
            pinned_tables=dg.MetadataValue.json(manifest.pinned_tables),
            review=dg.MetadataValue.json(manifest.review),
            manifest_sha256=manifest.sha256,
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round(time.perf_counter() - started, 3),
        )
    )
