"""Review: the pinned `gold/release_candidate` → `review/queue`, the sample people decide on.

`review/decisions` and `review/blocklist` are written by people through the review page
(`funnel review serve`), not by a run; they appear in the asset graph as external assets so that
the release's dependence on them is visible.
"""

import time
from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from assets.curate import GOLD_RELEASE_CANDIDATE_KEY
from assets.lineage import Derived, with_lineage
from assets.resources import LakehouseResource
from assets.tables import asset_key, table_metadata
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


class ReviewInputError(RuntimeError):
    """The table the review queue is sampled from is missing."""


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


@dg.asset(
    key=REVIEW_QUEUE_KEY,
    deps=[GOLD_RELEASE_CANDIDATE_KEY],
    group_name="review",
    kinds={"pyarrow", "delta"},
    owners=["team:data-engineering"],
    tags={"stage": STAGE},
    code_version="1",
    description=(
        "A stratified sample of the release candidate for human review: the documents nearest "
        "each selection threshold, then round-robin over domain × quality-score bucket, "
        "review.sample_size documents in all. Open it with `funnel review serve`."
    ),
)
@with_lineage(STAGE, COLUMN_LINEAGE)
def queue_for_review(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Sample the pinned candidate and overwrite the queue with the sample."""
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    candidate_version = catalog.version(GOLD_RELEASE_CANDIDATE)
    if candidate_version is None:
        raise ReviewInputError(
            "gold/release_candidate does not exist; materialize it before the review queue"
        )
    commit = lakehouse.commit_info(
        context.run_id, STAGE, loaded, {GOLD_RELEASE_CANDIDATE.key: candidate_version}
    )
    candidate = catalog.read(GOLD_RELEASE_CANDIDATE, candidate_version, columns=_SAMPLED_COLUMNS)
    sample = review_sample(candidate, loaded.recipe.curate, loaded.recipe.review)
    size = sample.num_rows
    queue = sample.append_column(
        "candidate_version", pa.array([candidate_version] * size, pa.int64())
    ).append_column(
        "queued_at",
        pa.array([datetime.now(UTC)] * size, REVIEW_QUEUE.schema.field("queued_at").type),
    )
    version = catalog.write(REVIEW_QUEUE, queue, commit, overwrite=True)
    strata = Counter(
        f"{domain} {bucket}"
        for domain, bucket in zip(
            sample["domain"].to_pylist(), sample["quality_bucket"].to_pylist(), strict=True
        )
    )
    context.log.info(
        f"{size} of {candidate.num_rows} candidate documents queued for review: "
        "open them with `funnel review serve`"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            catalog,
            REVIEW_QUEUE,
            version,
            size,
            candidate_version=candidate_version,
            candidate_rows=candidate.num_rows,
            by_reason=dg.MetadataValue.json(dict(Counter(sample["reason"].to_pylist()))),
            by_stratum=dg.MetadataValue.json(dict(sorted(strata.items()))),
            review_page="funnel review serve",
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round(time.perf_counter() - started, 3),
        )
    )
