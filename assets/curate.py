"""Curate: the pinned `gold/scored_documents` → `gold/release_candidate`, drops to `ops/rejections`.

The candidate is rebuilt whole from one version of the scored table (it is not partitioned):
selection, domain mixture, per-sample weights and token counts come from `spark_jobs/curate.py`.
Each batch's rows are still accounted for in the ledger, so conservation holds per batch:
scored rows = candidate rows + curate rejections.
"""

from collections import Counter

import dagster as dg
import pyarrow.compute as pc
from tokenizers import Tokenizer

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from assets.tables import asset_key
from lakehouse.recipe import LoadedRecipe, resolve_location
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, GOLD_SCORED_DOCUMENTS
from spark_jobs.curate import DomainMixture, curate, load_tokenizer

STAGE = "curate"
GOLD_SCORED_DOCUMENTS_KEY = asset_key(GOLD_SCORED_DOCUMENTS)
GOLD_RELEASE_CANDIDATE_KEY = asset_key(GOLD_RELEASE_CANDIDATE)


def tokenizer_for(loaded: LoadedRecipe) -> Tokenizer:
    """The recipe's tokenizer: `curate.tokenizer_path` (relative to the recipe) or the encoder's."""
    path = loaded.recipe.curate.tokenizer_path
    return load_tokenizer(resolve_location(path, loaded.path.parent) if path else None)


def mixture_markdown(domains: list[DomainMixture]) -> str:
    """The mixture as a Markdown table: documents, tokens, weight, target and achieved share."""
    lines = [
        "| domain | documents | tokens | weight | natural share | target share | achieved share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for item in domains:
        target = "-" if item.target_share is None else f"{item.target_share:.3f}"
        lines.append(
            f"| {item.domain} | {item.documents} | {item.tokens} | {item.weight:.3f} | "
            f"{item.natural_share:.3f} | {target} | {item.achieved_share:.3f} |"
        )
    return "\n".join(lines)


COLUMN_LINEAGE = {
    GOLD_RELEASE_CANDIDATE.key: {
        **{
            name: [Derived(GOLD_SCORED_DOCUMENTS.key, name, "selected document")]
            for name in ("doc_id", "text", "text_sha256", "source_uri", "quality_score", "domain")
        },
        "tokens": [
            Derived(GOLD_SCORED_DOCUMENTS.key, "text", "tokenizer token count", "TRANSFORMATION")
        ],
        "weight": [
            Derived(
                GOLD_SCORED_DOCUMENTS.key,
                "domain",
                "per-sample weight reaching the domain's target token share",
                "TRANSFORMATION",
            )
        ],
    },
}


def curate_candidate(run: StageRun) -> StageResult:
    """Curate every batch's recorded scored documents into the candidate (rebuilt whole)."""
    config = run.loaded.recipe.curate
    scored = run.rows(GOLD_SCORED_DOCUMENTS)
    outcome = curate(scored, config, tokenizer_for(run.loaded))
    by_rule = dict(sorted(Counter(outcome.rejections["rule"].to_pylist()).items()))
    tokens = int(pc.sum(outcome.candidate["tokens"]).as_py() or 0)
    domains = outcome.domains
    return StageResult(
        # Every batch with a recorded score outcome gets a ledger row, even one left empty.
        rows_in={batch_id: 0 for batch_id in run.pinned[GOLD_SCORED_DOCUMENTS.key]}
        | Counter(scored["batch_id"].to_pylist()),
        outputs={GOLD_RELEASE_CANDIDATE.key: outcome.candidate},
        rejections=outcome.rejections,
        metadata={
            GOLD_RELEASE_CANDIDATE.key: {
                "rejections_by_rule": dg.MetadataValue.json(by_rule),
                "tokens": tokens,
                "documents_per_domain": dg.MetadataValue.json(
                    {item.domain: item.documents for item in domains}
                ),
                "tokens_per_domain": dg.MetadataValue.json(
                    {item.domain: item.tokens for item in domains}
                ),
                "shares": dg.MetadataValue.json(
                    {
                        item.domain: {
                            "target": item.target_share,
                            "achieved": round(item.achieved_share, 6),
                        }
                        for item in domains
                    }
                ),
                "mixture": dg.MetadataValue.md(mixture_markdown(domains)),
            }
        },
        summary=f"{scored.num_rows} scored documents → {outcome.candidate.num_rows} in the "
        f"candidate ({tokens} tokens), {outcome.rejections.num_rows} left out: {by_rule}",
    )


CURATE = Stage(
    name=STAGE,
    description=(
        "The next release's documents: scored documents at or above the recipe's minimum "
        "quality score (and in each domain's top fraction, when set), down-sampled or "
        "up-weighted per predicted domain to the recipe's target token shares (a `weight` "
        "column, never duplicated rows), with token counts from a real tokenizer. Every "
        "document left out is a row of ops/rejections (stage curate)."
    ),
    group="gold",
    engine="pyarrow",
    inputs=(Input(GOLD_SCORED_DOCUMENTS, "score"),),
    outputs=(GOLD_RELEASE_CANDIDATE,),
    operator=curate_candidate,
    partitioned=False,
    settings=("curate",),
    # Rebuilt by the daemon as soon as what it reads changes: landing files flow to the review
    # queue without a click.
    automation=dg.AutomationCondition.eager(),
    column_lineage=COLUMN_LINEAGE,
)

release_candidate = stage_asset(CURATE)
