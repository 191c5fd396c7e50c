"""Curate: the pinned `gold/scored_documents` → `gold/release_candidate`, drops to `ops/rejections`.

The candidate is rebuilt whole from one version of the scored table (it is not partitioned):
selection, domain mixture, per-sample weights and token counts come from `spark_jobs/curate.py`.
Each batch's rows are still accounted for in the ledger, so conservation holds per batch:
scored rows = candidate rows + curate rejections.
"""

import time
from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer

from assets.lineage import Derived, with_lineage
from assets.resources import LakehouseResource
from assets.tables import asset_key, table_metadata
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import LedgerEntry, record_stage
from lakehouse.recipe import LoadedRecipe, resolve_location
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, GOLD_SCORED_DOCUMENTS, OPS_REJECTIONS
from spark_jobs.curate import CurateOutcome, DomainMixture, curate, load_tokenizer

STAGE = "curate"
GOLD_SCORED_DOCUMENTS_KEY = asset_key(GOLD_SCORED_DOCUMENTS)
GOLD_RELEASE_CANDIDATE_KEY = asset_key(GOLD_RELEASE_CANDIDATE)


class CurateInputError(RuntimeError):
    """The table the curate stage reads is missing."""


class LostRowsError(RuntimeError):
    """The curate stage's outputs do not account for every scored document."""


def tokenizer_for(loaded: LoadedRecipe) -> Tokenizer:
    """The recipe's tokenizer: `curate.tokenizer_path` (relative to the recipe) or the encoder's."""
    path = loaded.recipe.curate.tokenizer_path
    return load_tokenizer(resolve_location(path, loaded.path.parent) if path else None)


def _write_rejections(catalog: Catalog, rejections: pa.Table, commit: CommitInfo) -> int:
    """Replace every curate rejection at once: the stage always curates the whole table."""
    size = rejections.num_rows
    rows = rejections.append_column("stage", pa.array([STAGE] * size, pa.string())).append_column(
        "run_id", pa.array([commit.run_id] * size, pa.string())
    )
    return catalog.write(OPS_REJECTIONS, rows, commit, replace={"stage": STAGE})


def _record_batches(
    catalog: Catalog,
    scored: pa.Table,
    outcome: CurateOutcome,
    versions: tuple[int, int],
    commit: CommitInfo,
) -> None:
    """One ledger row per batch: scored rows in, candidate rows out, curate rejections."""
    candidate_version, rejections_version = versions
    rows_in = Counter(scored["batch_id"].to_pylist())
    rows_out = Counter(outcome.candidate["batch_id"].to_pylist())
    rejected = Counter(outcome.rejections["batch_id"].to_pylist())
    for batch_id in sorted(rows_in):
        record_stage(
            catalog,
            LedgerEntry(
                stage=STAGE,
                batch_id=batch_id,
                rows_in=rows_in[batch_id],
                rows_out=rows_out[batch_id],
                rows_rejected=rejected[batch_id],
                rows_quarantined=0,
                output_table=GOLD_RELEASE_CANDIDATE.key,
                output_version=candidate_version,
                run_id=commit.run_id,
                rejections_version=rejections_version,
            ),
            commit,
        )


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


@dg.asset(
    key=GOLD_RELEASE_CANDIDATE_KEY,
    deps=[GOLD_SCORED_DOCUMENTS_KEY],
    group_name="gold",
    kinds={"pyarrow", "delta"},
    owners=["team:data-engineering"],
    tags={"stage": STAGE},
    code_version="1",
    description=(
        "The next release's documents: scored documents at or above the recipe's minimum "
        "quality score (and in each domain's top fraction, when set), down-sampled or "
        "up-weighted per predicted domain to the recipe's target token shares (a `weight` "
        "column, never duplicated rows), with token counts from a real tokenizer. Every "
        "document left out is a row of ops/rejections (stage curate)."
    ),
)
@with_lineage(STAGE, COLUMN_LINEAGE)
def release_candidate(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Curate the pinned scored table on Arrow and overwrite the candidate with the result."""
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    config = loaded.recipe.curate
    scored_version = catalog.version(GOLD_SCORED_DOCUMENTS)
    if scored_version is None:
        raise CurateInputError(
            "gold/scored_documents does not exist; run the score stage (funnel run) first"
        )
    commit = lakehouse.commit_info(
        context.run_id, STAGE, loaded, {GOLD_SCORED_DOCUMENTS.key: scored_version}
    )
    scored = catalog.read(GOLD_SCORED_DOCUMENTS, scored_version)
    outcome = curate(scored, config, tokenizer_for(loaded))
    if outcome.candidate.num_rows + outcome.rejections.num_rows != scored.num_rows:
        raise LostRowsError(
            f"{scored.num_rows} scored documents but {outcome.candidate.num_rows} selected + "
            f"{outcome.rejections.num_rows} rejected; nothing written"
        )
    version = catalog.write(GOLD_RELEASE_CANDIDATE, outcome.candidate, commit, overwrite=True)
    rejections_version = _write_rejections(catalog, outcome.rejections, commit)
    _record_batches(catalog, scored, outcome, (version, rejections_version), commit)
    by_rule = dict(sorted(Counter(outcome.rejections["rule"].to_pylist()).items()))
    tokens = int(pc.sum(outcome.candidate["tokens"]).as_py() or 0)
    context.log.info(
        f"{scored.num_rows} scored documents → {outcome.candidate.num_rows} in the candidate "
        f"({tokens} tokens), {outcome.rejections.num_rows} left out: {by_rule}"
    )
    return dg.MaterializeResult(
        metadata=table_metadata(
            catalog,
            GOLD_RELEASE_CANDIDATE,
            version,
            outcome.candidate.num_rows,
            rows_in=scored.num_rows,
            rows_out=outcome.candidate.num_rows,
            rows_rejected=outcome.rejections.num_rows,
            rejections_by_rule=dg.MetadataValue.json(by_rule),
            tokens=tokens,
            documents_per_domain=dg.MetadataValue.json(
                {item.domain: item.documents for item in outcome.domains}
            ),
            tokens_per_domain=dg.MetadataValue.json(
                {item.domain: item.tokens for item in outcome.domains}
            ),
            shares=dg.MetadataValue.json(
                {
                    item.domain: {
                        "target": item.target_share,
                        "achieved": round(item.achieved_share, 6),
                    }
                    for item in outcome.domains
                }
            ),
            mixture=dg.MetadataValue.md(mixture_markdown(outcome.domains)),
            scored_version=scored_version,
            rejections_version=rejections_version,
            recipe_sha256=loaded.sha256,
            code_version=commit.code_version,
            seconds=round(time.perf_counter() - started, 3),
        )
    )
