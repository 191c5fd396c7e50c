"""The release candidate's promise: its domain mixture meets the recipe's targets and it holds
enough of the scored documents. Both blocking: a candidate that fails is not released."""

import dagster as dg

from assets.resources import LakehouseResource
from assets.tables import asset_key
from lakehouse.ledger import committed_batches
from lakehouse.releases import candidate_problems, domain_summary
from lakehouse.tables import GOLD_RELEASE_CANDIDATE

CANDIDATE_CHECK = "releasable"


def mixture_table(summary: list[dict[str, object]]) -> str:
    """Achieved against target share per domain, as a Markdown table."""
    lines = ["| domain | documents | target share | achieved share |", "|---|---:|---:|---:|"]
    for row in summary:
        target = row["target_share"]
        shown = "-" if target is None else f"{float(target):.3f}"  # type: ignore[arg-type]
        lines.append(
            f"| {row['domain']} | {row['documents']} | {shown} | "
            f"{float(row['achieved_share']):.3f} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


@dg.asset_check(
    asset=asset_key(GOLD_RELEASE_CANDIDATE),
    name=CANDIDATE_CHECK,
    blocking=True,
    description=(
        "Every target domain's achieved share of weighted tokens within "
        "curate.mixture_tolerance of its target, and at least curate.min_selected_fraction of "
        "the scored documents selected; a failure names the short domain or the rules that "
        "left documents out, and the release refuses the candidate."
    ),
)
def releasable_candidate(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    """Check the candidate version the curate stage's ledger rows name."""
    catalog = lakehouse.catalog()
    curate = lakehouse.recipe().recipe.curate
    version = max(
        committed_batches(catalog, "curate", GOLD_RELEASE_CANDIDATE).values(), default=None
    )
    if version is None:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description="gold/release_candidate has no recorded curate outcome; run `funnel run`",
        )
    problems = candidate_problems(catalog, curate, version)
    rows = catalog.read(GOLD_RELEASE_CANDIDATE, version, columns=["domain", "tokens", "weight"])
    summary = domain_summary(rows, dict(curate.target_token_shares))
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "candidate_version": version,
            "mixture": dg.MetadataValue.md(mixture_table(summary)),
            "mixture_tolerance": curate.mixture_tolerance,
        },
        description="; ".join(problems) or "mixture on target and selection above the floor",
    )
