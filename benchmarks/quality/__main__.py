"""Decision quality on a corpus the sample never saw: PII, junk, dedup, LSH candidate curve.

    python -m benchmarks.quality [--quick] [--seed 0] [--out bench-data/quality] [--plot PATH]

Builds the corpus (`benchmarks.quality.corpus`), then runs the real operators with the default
recipe (`recipes/default.yaml`) on Spark local[2]:

- PII: `spark_jobs.pii.redact_pii` over the clean documents. Span recall and precision per kind
  and per kind × format come from `find_pii` (the function the UDF calls) against the planted
  spans; the Spark output is checked to hold none of the planted values verbatim and the same
  counts per kind. Decoys (version strings, OIDs, dates, …) count as false positives if found.
- Junk: `spark_jobs.clean.clean_documents` over every document; recall is the rejected share of
  each junk kind, and the clean documents' keep rate per source is reported with the rules that
  rejected them.
- Dedup: `spark_jobs.dedup.deduplicate` over every document in landing order (one batch).
  Recall per Jaccard bucket of the planted copies, whether the keeper is the planted original,
  and false removals (a planted original or an unrelated document removed).
- SemDeDup pairs: precision and recall of the cosine decision alone and with the lexical
  confirmation on labelled pairs (`semdedup_pairs`), embeddings by the score stage's encoder.
- LSH curve: for pairs at Jaccard 0.2–1.0, the share that share at least one band (measured with
  the recipe's MinHash permutations) next to the theoretical 1 − (1 − sʳ)ᵇ; a table here, and
  a PNG under bench-data.

The corpus has about 1,000 documents: the base chunks, 841 planted PII strings in 24 formats
and 4 languages with a decoy per PII document, 60 exact copies, 200 near-duplicates (40 per
Jaccard bucket) and 400 junk pages of 8 kinds (50 each). `--quick` builds a smaller one (at most
150 base chunks per source, 30 exact copies, 20 near-duplicates per bucket, 20 junk pages per
kind) and leaves out the SemDeDup pairs (the encoder). The formats and junk kinds were written
knowing the detectors and rules: a corpus of real crawled junk is the honest next check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from benchmarks.measure import load_average
from benchmarks.measure import record as record_result
from benchmarks.quality.corpus import JACCARD_BUCKETS, SEED, Record, build, near_duplicate, write
from lakehouse.recipe import DedupConfig, load_recipe
from spark_jobs.minhash import MinHasher
from spark_jobs.pii import find_pii

RECIPE = Path("recipes/default.yaml")
# The domain each corpus source lands as: it picks the recipe's rule profile.
SOURCE_DOMAINS = {
    "package_docs": "reference",
    "package_code": "code",
    "junk": "web",
    "junk_code": "code",
}
SOURCE_URI = "file:///benchmarks/quality/corpus.jsonl.gz"
TITLE = "Decision quality on a corpus the sample never saw"
# `--quick`'s smaller corpus (arguments of `benchmarks.quality.corpus.build`).
QUICK_CORPUS = {"per_source": 150, "exact_copies": 30, "near_per_bucket": 20, "junk_per_kind": 20}


def pii_report(records: list[Record]) -> dict[str, Any]:
    """Span recall/precision per kind and per kind × format; decoys found count as wrong."""
    per_kind: dict[str, Counter[str]] = defaultdict(Counter)
    per_format: dict[str, Counter[str]] = defaultdict(Counter)
    misses: list[dict[str, Any]] = []
    for record in records:
        if not record.pii:
            continue
        got = {(span.kind, span.start, span.end) for span in find_pii(record.text)}
        gold = {(p["kind"], p["start"], p["end"]): p for p in record.pii}
        for key, planted in gold.items():
            hit = "found" if key in got else "missed"
            per_kind[planted["kind"]][hit] += 1
            per_format[f"{planted['kind']}/{planted['format']}"][hit] += 1
            if hit == "missed":
                misses.append(planted)
        for kind, start, end in got - set(gold):
            per_kind[kind]["wrong"] += 1
            misses.append({"kind": kind, "wrong": record.text[start:end]})

    def rates(counts: Counter[str]) -> dict[str, Any]:
        found, missed, wrong = counts["found"], counts["missed"], counts["wrong"]
        return {
            "planted": found + missed,
            "recall": found / max(1, found + missed),
            "precision": found / max(1, found + wrong),
            "false_positives": wrong,
        }

    return {
        "per_kind": {kind: rates(per_kind[kind]) for kind in sorted(per_kind)},
        "per_format": {name: rates(per_format[name]) for name in sorted(per_format)},
        "errors": misses[:20],
    }


def _bronze(spark: Any, records: list[Record]) -> Any:
    rows = [
        {
            "doc_id": record.doc_id,
            "batch_id": "quality",
            "source": record.source,
            "domain": SOURCE_DOMAINS[record.source],
            "license": "various",
            "source_uri": SOURCE_URI,
            "source_record": index,
            "source_id": None,
            "text": record.text,
            "text_sha256": hashlib.sha256(record.text.encode()).hexdigest(),
            "text_bytes": len(record.text.encode()),
        }
        for index, record in enumerate(records)
    ]
    schema = (
        "doc_id string, batch_id string, source string, domain string, license string, "
        "source_uri string, source_record long, source_id string, text string, "
        "text_sha256 string, text_bytes long"
    )
    return spark.createDataFrame(rows, schema)


def spark_pii_check(spark: Any, records: list[Record], config: Any) -> dict[str, Any]:
    """Run the Spark redaction; planted values left verbatim and count agreement with Python."""
    from pyspark.sql import functions as F

    from spark_jobs.pii import redact_pii, redact_text

    planted = [r for r in records if r.pii]
    frame = _bronze(spark, planted).select("doc_id", "text")
    redacted = {
        row["doc_id"]: row.asDict()
        for row in redact_pii(frame, config.pii)
        .select("doc_id", "text", *(F.col(f"pii_{k}") for k in config.pii.kinds))
        .collect()
    }
    leaks = sum(p["value"] in redacted[r.doc_id]["text"] for r in planted for p in r.pii)
    disagreements = 0
    for record in planted:
        _, counts = redact_text(record.text, config.pii.kinds, config.pii.phone_regions)
        row = redacted[record.doc_id]
        disagreements += any(counts[k] != row[f"pii_{k}"] for k in config.pii.kinds)
    return {
        "documents": len(planted),
        "values_left_verbatim": leaks,
        "count_mismatches": disagreements,
    }


def junk_report(spark: Any, records: list[Record], config: Any) -> dict[str, Any]:
    """Rejected share per junk kind and the rules that caught it; keep rate and rejecting
    rules per clean source (each source's domain picks the recipe's rule profile)."""
    from spark_jobs.clean import clean_documents

    subset = [r for r in records if r.label in ("clean", "junk")]
    cleaned = clean_documents(_bronze(spark, subset), config)
    outcome = {
        row["doc_id"]: (row["outcome"], row["rejection"]["rule"] if row["rejection"] else None)
        for row in cleaned.select("doc_id", "outcome", "rejection").collect()
    }
    junk: dict[str, Counter[str]] = defaultdict(Counter)
    caught_by: dict[str, Counter[str]] = defaultdict(Counter)
    clean: dict[str, Counter[str]] = defaultdict(Counter)
    profiles: dict[str, str] = {}
    for record in subset:
        state, rule = outcome[record.doc_id]
        profiles[record.junk_kind or record.source] = config.profile_of(
            record.source, SOURCE_DOMAINS[record.source]
        )
        if record.label == "junk":
            junk[record.junk_kind or ""]["rejected" if state != "kept" else "kept"] += 1
            caught_by[record.junk_kind or ""][rule or "kept"] += 1
        else:
            clean[record.source][rule or "kept"] += 1
    return {
        "junk_recall": {
            kind: counts["rejected"] / sum(counts.values()) for kind, counts in sorted(junk.items())
        },
        "junk_rules": {
            kind: dict(counts.most_common(3)) for kind, counts in sorted(caught_by.items())
        },
        "clean_keep_rate": {
            source: counts["kept"] / sum(counts.values())
            for source, counts in sorted(clean.items())
        },
        "profiles": dict(sorted(profiles.items())),
        "clean_rejections": {
            source: dict(Counter({k: v for k, v in counts.items() if k != "kept"}).most_common(5))
            for source, counts in sorted(clean.items())
        },
    }


def dedup_report(spark: Any, records: list[Record], config: DedupConfig) -> dict[str, Any]:
    """Removal recall per Jaccard bucket, keeper correctness and false removals."""
    from spark_jobs.dedup import KEPT, deduplicate

    documents = _bronze(spark, records).selectExpr(
        "doc_id",
        "source_uri",
        "source_record",
        "text",
        "timestamp'2026-01-01 00:00:00' as ingested_at",
    )
    from lakehouse.tables import SILVER_DEDUP_INDEX, spark_ddl

    empty = spark.createDataFrame([], spark_ddl(SILVER_DEDUP_INDEX, exclude=("batch_id",)))
    decisions = {
        row["doc_id"]: (row["outcome"], row["duplicate_of"])
        for row in deduplicate(documents, empty, config).decisions.collect()
    }
    buckets: dict[str, Counter[str]] = defaultdict(Counter)
    false_removals: list[str] = []
    junk_removed = 0
    for record in records:
        outcome, keeper = decisions[record.doc_id]
        removed = outcome != KEPT
        if record.label in ("exact_duplicate", "near_duplicate"):
            similarity = record.jaccard or 0.0
            low = next((lo for lo, hi in JACCARD_BUCKETS if lo <= similarity < hi), 1.0)
            name = "exact" if record.label == "exact_duplicate" else f"{low:.1f}-{low + 0.1:.1f}"
            buckets[name]["planted"] += 1
            buckets[name]["removed"] += removed
            buckets[name]["keeper_is_original"] += removed and keeper == record.original
        elif record.label == "junk":
            junk_removed += removed
        elif removed:
            false_removals.append(record.doc_id)
    return {
        "buckets": {
            name: {
                "planted": c["planted"],
                "recall": c["removed"] / c["planted"],
                # None where nothing was removed: there is no keeper to judge.
                "keeper_is_original": (
                    c["keeper_is_original"] / c["removed"] if c["removed"] else None
                ),
            }
            for name, c in sorted(buckets.items())
        },
        "false_removals": len(false_removals),
        "false_removal_examples": false_removals[:10],
        "junk_pages_removed_as_duplicates": junk_removed,
        "threshold": config.jaccard_threshold,
    }


def lsh_curve(records: list[Record], config: DedupConfig, seed: int) -> dict[str, Any]:
    """Candidate probability (≥ 1 shared band) per Jaccard bin: measured and theoretical."""
    rng = random.Random(seed + 1)
    originals = [r.text for r in records if r.label == "clean" and not r.pii]
    pairs: list[tuple[str, str, float]] = []
    for low in np.arange(0.2, 1.0, 0.05):
        for index in range(30):
            text = originals[(index * 7 + int(low * 100)) % len(originals)]
            try:
                copy, similarity = near_duplicate(text, float(low), float(low) + 0.05, rng)
            except RuntimeError:  # one word edit already goes below the bin: a short text
                continue
            pairs.append((text, copy, similarity))
    hasher = MinHasher.from_config(config)
    first, _ = hasher.text_signatures(pa.array([p[0] for p in pairs], pa.large_string()))
    second, _ = hasher.text_signatures(pa.array([p[1] for p in pairs], pa.large_string()))
    shared = (hasher.band_keys(first) == hasher.band_keys(second)).any(axis=1)
    bins: dict[float, list[bool]] = defaultdict(list)
    for (_, _, similarity), candidate in zip(pairs, shared, strict=True):
        bins[round(int(similarity / 0.05) * 0.05, 2)].append(bool(candidate))
    b, r = config.bands, config.rows_per_band
    return {
        "bands": b,
        "rows_per_band": r,
        "bins": [
            {
                "jaccard_from": low,
                "pairs": len(hits),
                "measured": sum(hits) / len(hits),
                "theoretical": 1 - (1 - (low + 0.025) ** r) ** b,
            }
            for low, hits in sorted(bins.items())
        ],
    }


LICENSES = Path("/usr/share/common-licenses")


def semdedup_pairs(records: list[Record], config: Any) -> dict[str, Any]:
    """Precision/recall of SemDeDup's pair decision, cosine alone and lexically confirmed.

    Labelled pairs: duplicates are the planted exact copies and near-duplicates at Jaccard
    ≥ 0.8 with their originals; distinct pairs are the 60 most similar embeddings among the
    base documents (all distinct texts by construction: hard negatives of one topic), plus
    GPL-2 against GPL-3 where `/usr/share/common-licenses` has them.
    """
    from gpu_jobs.encoder import load_encoder
    from gpu_jobs.runner import encode_documents
    from gpu_jobs.semdedup import lexical_jaccard

    by_id = {r.doc_id: r for r in records}
    bases = [r for r in records if r.label == "clean"]
    copies = [r for r in records if r.original is not None and (r.jaccard or 0.0) >= 0.8]
    texts = [r.text for r in bases] + [r.text for r in copies]
    gpl = [LICENSES / "GPL-2", LICENSES / "GPL-3"]
    if all(path.exists() for path in gpl):
        texts += [path.read_text(encoding="utf-8") for path in gpl]
    encoder = load_encoder("cpu", "fp32", config.max_tokens)
    vectors = encode_documents(encoder, texts, config.batch_tokens).embeddings
    index = {r.doc_id: i for i, r in enumerate(bases)}
    pairs: list[tuple[bool, float, float]] = []
    for offset, copy in enumerate(copies):
        original = index[copy.original or ""]
        cosine = float(vectors[len(bases) + offset] @ vectors[original])
        pairs.append((True, cosine, lexical_jaccard(copy.text, by_id[copy.original or ""].text)))
    similar = vectors[: len(bases)] @ vectors[: len(bases)].T
    similar.fill_diagonal_(-2.0)
    upper = torch.triu(similar, diagonal=1).flatten()
    for flat in torch.topk(upper, 60).indices.tolist():
        first, second = divmod(flat, len(bases))
        pairs.append(
            (False, float(similar[first, second]), lexical_jaccard(texts[first], texts[second]))
        )
    gpl_pair = None
    if len(texts) == len(bases) + len(copies) + 2:
        cosine = float(vectors[-1] @ vectors[-2])
        gpl_pair = {"cosine": cosine, "jaccard": lexical_jaccard(texts[-1], texts[-2])}
        pairs.append((False, cosine, gpl_pair["jaccard"]))
    threshold, lexical = config.semdedup.cosine_threshold, config.semdedup.lexical_jaccard

    def rates(decide: Any) -> dict[str, float]:
        called = [(label, decide(c, j)) for label, c, j in pairs]
        true = sum(label and said for label, said in called)
        said = sum(said for _, said in called)
        return {
            "precision": true / max(1, said),
            "recall": true / max(1, sum(label for label, _ in called)),
            "false_duplicates": said - true,
        }

    return {
        "duplicate_pairs": sum(label for label, _, _ in pairs),
        "distinct_pairs": sum(not label for label, _, _ in pairs),
        "cosine_only": rates(lambda c, j: c > threshold),
        "lexically_confirmed": rates(lambda c, j: c > threshold and j >= lexical),
        "gpl2_gpl3": gpl_pair,
        "distinct_pairs_above_threshold": sum(not label and c > threshold for label, c, _ in pairs),
    }


def plot_curve(curve: dict[str, Any], path: Path) -> None:
    """The LSH candidate curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b, r = curve["bands"], curve["rows_per_band"]
    s = np.linspace(0, 1, 201)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(s, 1 - (1 - s**r) ** b, label=f"theory 1-(1-s^{r})^{b}")
    axes.plot(
        [x["jaccard_from"] + 0.025 for x in curve["bins"]],
        [x["measured"] for x in curve["bins"]],
        "o",
        label="measured (pairs sharing a band)",
    )
    axes.set_xlabel("word 5-gram Jaccard")
    axes.set_ylabel("probability of becoming a candidate")
    axes.set_title(f"MinHash-LSH candidates, {b} bands x {r} rows")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _rules(counts: dict[str, int]) -> str:
    return ", ".join(f"`{rule}` {n}" for rule, n in counts.items()) or "—"


def render(result: dict[str, Any]) -> str:
    """PII, junk, keep-rate, dedup, LSH-curve and SemDeDup tables of a recorded run."""
    s = result["summary"]
    labels = s["labels"]
    out = (
        f"Corpus: {s['documents']:,} documents ("
        + ", ".join(f"{label} {n:,}" for label, n in sorted(labels.items()))
        + ").\n\n**PII** (`find_pii`, spans must match exactly; a decoy found counts as a false "
        "positive):\n\n| kind | planted | recall | precision | formats (recall) |\n"
        "|---|---:|---:|---:|---|\n"
    )
    for kind, row in s["pii"]["per_kind"].items():
        formats = ", ".join(
            f"{name.split('/', 1)[1]} {fmt['recall']:.3f}"
            for name, fmt in s["pii"]["per_format"].items()
            if name.startswith(f"{kind}/")
        )
        out += (
            f"| {kind} | {row['planted']:,} | {row['recall']:.3f} | {row['precision']:.3f} "
            f"| {formats} |\n"
        )
    spark = s["pii_spark"]
    out += (
        f"\nThe Spark `redact_pii` over the {spark['documents']:,} PII documents left "
        f"{spark['values_left_verbatim']} planted values verbatim; its counts per kind differ "
        f"from Python's in {spark['count_mismatches']} documents.\n\n"
        "**Junk** (`clean_documents`, default recipe; each source's domain picks its rule "
        "profile):\n\n| junk kind | profile | recall | caught by |\n|---|---|---:|---|\n"
    )
    junk = s["junk"]
    for kind, recall in junk["junk_recall"].items():
        out += (
            f"| {kind} | {junk['profiles'].get(kind, '—')} | {recall:.3f} "
            f"| {_rules(junk['junk_rules'][kind])} |\n"
        )
    out += "\n| clean source | profile | keep rate | rejected by |\n|---|---|---:|---|\n"
    for source, rate in junk["clean_keep_rate"].items():
        out += (
            f"| `{source}` | {junk['profiles'].get(source, '—')} | {rate:.3f} "
            f"| {_rules(junk['clean_rejections'][source])} |\n"
        )
    dedup = s["dedup"]
    out += (
        f"\n**Dedup** (`deduplicate`, one batch in landing order, threshold "
        f"{dedup['threshold']}):\n\n| planted | copies | removed | keeper is the original |\n"
        "|---|---:|---:|---:|\n"
    )
    for name, row in dedup["buckets"].items():
        label = "exact" if name == "exact" else f"Jaccard {name}"
        keeper = row["keeper_is_original"]
        out += (
            f"| {label} | {row['planted']} | {row['recall']:.3f} "
            f"| {'—' if keeper is None else f'{keeper:.3f}'} |\n"
        )
    out += (
        f"\nFalse removals (an original or an unrelated document removed): "
        f"{dedup['false_removals']}; junk pages removed as duplicates: "
        f"{dedup['junk_pages_removed_as_duplicates']}.\n"
    )
    curve = s["lsh_curve"]
    out += (
        f"\n**LSH candidates** ({curve['bands']} bands × {curve['rows_per_band']} rows): the "
        "share of pairs sharing at least one band, measured and 1 − (1 − sʳ)ᵇ:\n\n"
        "| Jaccard | pairs | measured | theory |\n|---|---:|---:|---:|\n"
    )
    for row in curve["bins"]:
        low = row["jaccard_from"]
        out += (
            f"| {low:.2f}–{low + 0.05:.2f} | {row['pairs']} | {row['measured']:.2f} "
            f"| {row['theoretical']:.2f} |\n"
        )
    pairs = s.get("semdedup_pairs")
    if pairs:
        out += (
            f"\n**SemDeDup pairs** ({pairs['duplicate_pairs']} duplicate and "
            f"{pairs['distinct_pairs']} distinct pairs):\n\n"
            "| decision | precision | recall | distinct pairs called duplicates |\n"
            "|---|---:|---:|---:|\n"
        )
        for name, label in (
            ("cosine_only", "cosine alone"),
            ("lexically_confirmed", "cosine and 5-gram Jaccard"),
        ):
            row = pairs[name]
            out += (
                f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} "
                f"| {row['false_duplicates']} |\n"
            )
    else:
        out += "\nSemDeDup pairs: not measured in the quick profile (no encoder).\n"
    return out


def main() -> None:
    """Build the corpus, run the operators, print and record the report."""
    from spark_jobs.session import spark_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller corpus, no encoder")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path("bench-data") / "quality")
    parser.add_argument(
        "--plot", type=Path, default=Path("bench-data") / "quality" / "quality_lsh_curve.png"
    )
    args = parser.parse_args()
    load_before = load_average()
    started = time.perf_counter()
    recipe = load_recipe(RECIPE).recipe
    records = build(args.seed, **(QUICK_CORPUS if args.quick else {}))
    write(records, args.out / "corpus.jsonl.gz")
    spark = spark_session(
        "local[2]", settings={"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "2g"}
    )
    result = {
        "documents": len(records),
        "labels": dict(Counter(r.label for r in records)),
        "sources": dict(Counter(r.source for r in records)),
        "pii": pii_report(records),
        "pii_spark": spark_pii_check(spark, records, recipe.clean),
        "junk": junk_report(spark, records, recipe.clean),
        "dedup": dedup_report(spark, records, recipe.dedup),
        "lsh_curve": lsh_curve(records, recipe.dedup, args.seed),
    }
    if not args.quick:
        result["semdedup_pairs"] = semdedup_pairs(records, recipe.score)
    seconds = round(time.perf_counter() - started, 1)
    plot_curve(result["lsh_curve"], args.plot)
    command = "python -m benchmarks.quality" + (" --quick" if args.quick else "")
    if args.seed != SEED:
        command += f" --seed {args.seed}"
    path = record_result(
        "quality", command, result, {"seconds": seconds}, quick=args.quick, load_before=load_before
    )
    print(json.dumps({k: v for k, v in result.items() if k != "lsh_curve"}, indent=2))
    print(f"report → {path} ({seconds} s); LSH curve → {args.plot}")


if __name__ == "__main__":
    main()
