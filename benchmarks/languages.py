"""Per-language keep rates of the clean stage on the bundled sample, with and without
`clean.languages`.

Every JSON-lines landing file of the sample is cleaned by the clean stage's Spark steps
(`spark_jobs.clean.clean_documents`) twice: with the default recipe, and with the same recipe
without its per-language settings (every language measured and thresholded as English). Prints,
per detected language, the documents, the kept share both ways and the rule that drops most.

    python -m benchmarks.languages [--recipe recipes/default.yaml] [--json]
    python -m benchmarks.languages --from-json rates.json   # the table of a saved --json run
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lakehouse.recipe import load_recipe
from lakehouse.storage import PROJECT_DIR

LANDING = PROJECT_DIR / "data" / "sample" / "landing"


def sample_rows() -> list[dict[str, Any]]:
    """Every record of the sample's JSON-lines landing files, as bronze-like rows."""
    import hashlib

    rows = []
    for path in sorted(LANDING.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                text = json.loads(line)["text"]
                rows.append(
                    {
                        "doc_id": f"{path.parent.name}/{path.name}:{index}",
                        "batch_id": "sample",
                        "source": path.parent.name,
                        "domain": "sample",
                        "license": "see-sources",
                        "source_uri": str(path),
                        "source_record": index,
                        "source_id": None,
                        "text": text,
                        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "text_bytes": len(text.encode()),
                    }
                )
    return rows


def outcomes(rows: list[dict[str, Any]], clean: Any) -> list[tuple[str, str | None]]:
    """(lang, rejection rule or None) of every row, cleaned by the clean stage's Spark steps."""
    from spark_jobs.clean import clean_documents, partitions_for
    from spark_jobs.session import DEFAULT_MASTER, spark_session

    spark = spark_session(DEFAULT_MASTER)
    schema = (
        "doc_id string, batch_id string, source string, domain string, license string, "
        "source_uri string, source_record long, source_id string, text string, "
        "text_sha256 string, text_bytes long"
    )
    bronze = spark.createDataFrame(rows, schema).repartition(partitions_for(len(rows)))
    cleaned = clean_documents(bronze, clean).select("lang", "rejection.rule")
    return [(row["lang"], row["rule"]) for row in cleaned.collect()]


def keep_rates(recipe_path: Path) -> list[dict[str, Any]]:
    """One row per detected language: documents, kept share with and without its settings."""
    clean = load_recipe(recipe_path).recipe.clean
    rows = sample_rows()
    found = {
        "languages": outcomes(rows, clean),
        "english": outcomes(rows, clean.model_copy(update={"languages": {}})),
    }
    table: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"documents": 0, "kept": 0, "kept_english_only": 0, "rules": Counter()}
    )
    for (lang, rule), (_, english_rule) in zip(found["languages"], found["english"], strict=True):
        entry = table[lang]
        entry["documents"] += 1
        entry["kept"] += rule is None
        entry["kept_english_only"] += english_rule is None
        if rule is not None:
            entry["rules"][rule] += 1
    result = []
    for lang, entry in sorted(table.items(), key=lambda item: -item[1]["documents"]):
        top = entry["rules"].most_common(1)
        result.append(
            {
                "lang": lang,
                "has_settings": lang in clean.languages,
                "documents": entry["documents"],
                "kept": entry["kept"],
                "keep_rate": round(entry["kept"] / entry["documents"], 3),
                "keep_rate_english_only": round(entry["kept_english_only"] / entry["documents"], 3),
                "top_rule": f"{top[0][0]} ({top[0][1]})" if top else None,
            }
        )
    return result


def markdown(rows: list[dict[str, Any]], min_documents: int = 20) -> str:
    """The table of docs/filters.md: every language with its own settings, and the others with
    at least `min_documents` documents (the rest summed in a last line)."""
    lines = [
        "| lang | own settings | documents | kept | keep rate | keep rate, English settings "
        "| most frequent rule |",
        "|---|---|---|---|---|---|---|",
    ]
    rest = [row for row in rows if not row["has_settings"] and row["documents"] < min_documents]
    for row in rows:
        if row in rest:
            continue
        lines.append(
            f"| `{row['lang']}` | {'yes' if row['has_settings'] else 'no'} | {row['documents']:,}"
            f" | {row['kept']:,} | {row['keep_rate']:.1%} | {row['keep_rate_english_only']:.1%}"
            f" | {row['top_rule'] or '—'} |"
        )
    if rest:
        documents = sum(row["documents"] for row in rest)
        kept = sum(row["kept"] for row in rest)
        names = ", ".join(row["lang"] for row in rest)
        lines.append(f"| {names} | no | {documents:,} | {kept:,} | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the per-language keep rates of the sample (a markdown table, or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.languages", description=__doc__)
    parser.add_argument("--recipe", type=Path, default=PROJECT_DIR / "recipes" / "default.yaml")
    parser.add_argument("--json", action="store_true", help="every language as JSON")
    parser.add_argument("--from-json", type=Path, help="print the table of a saved --json run")
    args = parser.parse_args()
    rows = json.loads(args.from_json.read_text()) if args.from_json else keep_rates(args.recipe)
    print(json.dumps(rows, indent=2) if args.json else markdown(rows), end="")


if __name__ == "__main__":
    main()
