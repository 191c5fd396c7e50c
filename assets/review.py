"""Review: the pinned `gold/release_candidate` → `review/queue`, the sample people decide on.

`review/decisions` and `review/blocklist` are written by people through the review page
(`funnel review serve`), not by a run; they appear in the asset graph as external assets so that
the release's dependence on them is visible.
"""

from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.tables import (
    GOLD_RELEASE_CANDIDATE,
    REVIEW_BLOCKLIST,
    REVIEW_DECISIONS,
    REVIEW_QUEUE,
)
from spark_jobs.review_sample import review_sample

STAGE = "review"
REVIEW_QUEUE_KEY = asset_key(REVIEW_QUEUE)
REVIEW_DECISIONS_KEY = asset_key(REVIEW_DECISIONS)
REVIEW_BLOCKLIST_KEY = asset_key(REVIEW_BLOCKLIST)
_SAMPLED_COLUMNS = ["doc_id", "domain", "quality_score", "domain_quality_rank"]


review_decisions = dg.AssetSpec(
    key=REVIEW_DECISIONS_KEY,
    deps=[REVIEW_QUEUE_KEY],
    group_name="review",
    kinds={"delta"},
    owners=["team:data-engineering"],
    description=(
        "Reviewers' decisions (approve, reject with a reason, flag) on queued documents, "
        "appended by the review page (funnel review serve); the latest per document counts."
    ),
)

review_blocklist = dg.AssetSpec(
    key=REVIEW_BLOCKLIST_KEY,
    group_name="review",
    kinds={"delta"},
    owners=["team:data-engineering"],
    description=(
        "Terms, URLs and sources reviewers blocked on the review page, with who and when: a "
        "recipe overlay the next clean run applies (rule blocklist)."
    ),
)

COLUMN_LINEAGE = {
    REVIEW_QUEUE.key: {
        name: [Derived(GOLD_RELEASE_CANDIDATE.key, name, "stratified sample")]
        for name in ("doc_id", "domain", "quality_score")
    },
}


def sample_queue(run: StageRun) -> StageResult:
    """Sample the pinned candidate; the sample replaces the queue."""
    candidate_version = run.version(GOLD_RELEASE_CANDIDATE)
    candidate = run.rows(GOLD_RELEASE_CANDIDATE, _SAMPLED_COLUMNS)
    sample = review_sample(candidate, run.loaded.recipe.curate, run.loaded.recipe.review)
    size = sample.num_rows
    queue = sample.append_column(
        "candidate_version", pa.array([candidate_version] * size, pa.int64())
    ).append_column(
        "queued_at",
        pa.array([datetime.now(UTC)] * size, REVIEW_QUEUE.schema.field("queued_at").type),
    )
    strata = Counter(
        f"{domain} {bucket}"
        for domain, bucket in zip(
            sample["domain"].to_pylist(), sample["quality_bucket"].to_pylist(), strict=True
        )
    )
    return StageResult(
        rows_in=candidate.num_rows,
        outputs={REVIEW_QUEUE.key: queue},
        metadata={
            REVIEW_QUEUE.key: {
                "candidate_version": candidate_version,
                "candidate_rows": candidate.num_rows,
                "by_reason": dg.MetadataValue.json(dict(Counter(sample["reason"].to_pylist()))),
                "by_stratum": dg.MetadataValue.json(dict(sorted(strata.items()))),
                "review_page": "funnel review serve",
            }
        },
        summary=f"{size} of {candidate.num_rows} candidate documents queued for review: "
        "open them with `funnel review serve`",
    )


REVIEW = Stage(
    name=STAGE,
    description=(
        "A stratified sample of the release candidate for human review: the documents nearest "
        "each selection threshold, then round-robin over domain × quality-score bucket, "
        "review.sample_size documents in all. Open it with `funnel review serve`."
    ),
    group="review",
    engine="pyarrow",
    inputs=(Input(GOLD_RELEASE_CANDIDATE, "curate"),),
    outputs=(REVIEW_QUEUE,),
    operator=sample_queue,
    partitioned=False,
    settings=("curate", "review"),
    # Rebuilt by the daemon as soon as what it reads changes: landing files flow to the review
    # queue without a click.
    automation=dg.AutomationCondition.eager(),
    rejects=False,
    recorded=False,
    column_lineage=COLUMN_LINEAGE,
)

queue_for_review = stage_asset(REVIEW)
