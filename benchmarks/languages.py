"""Keep rates of the clean stage on the bundled sample, per language and per source.

Per-language keep rates with and without `clean.languages`, and per-source keep rates under
the recipe's rule profiles. Not a speed benchmark: what the clean stage keeps of each language
and source of the sample with `recipes/default.yaml` (the full profile: every document;
`--quick`: every tenth).

Every JSON-lines landing file of the sample is cleaned by the clean stage's Spark steps
(`spark_jobs.clean.clean_documents`) twice: with the default recipe, and with the same recipe
without its per-language settings (every language measured and thresholded as English). Prints,
per detected language, the documents, the kept share both ways and the rule that drops most.
Each file's documents carry the domain of the recipe source named like its folder, so the
recipe's rule profiles judge them as in a funnel run. `--by-source` cleans once, with the recipe
as it is, and prints per source its profile, documents, kept share and most frequent rules.

    python -m benchmarks.languages [--quick] [--recipe recipes/default.yaml]   # records both
    python -m benchmarks.languages --json [--recipe R]       # per language as JSON, not recorded
    python -m benchmarks.languages --by-source [--json]      # per source only, not recorded
    python -m benchmarks.languages --from-json rates.json   # the table of a saved --json run
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.measure import load_average, record
from lakehouse.recipe import load_recipe
from lakehouse.storage import PROJECT_DIR

TITLE = "Keep rates per language and per source (bundled sample)"
LANDING = PROJECT_DIR / "data" / "sample" / "landing"
DEFAULT_RECIPE = PROJECT_DIR / "recipes" / "default.yaml"
# `--quick` cleans every QUICK_EVERY-th document of the sample.
QUICK_EVERY = 10


def sample_rows(domains: dict[str, str] | None = None, every: int = 1) -> list[dict[str, Any]]:
    """Every record (or every `every`-th) of the sample's JSON-lines landing files, as
    bronze-like rows; `domains` maps a landing folder (a source name) to its domain (`sample`
    for the others)."""
    import hashlib

    domains = domains or {}
    rows = []
    for path in sorted(LANDING.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                if index % every:
                    continue
                text = json.loads(line)["text"]
                rows.append(
                    {
                        "doc_id": f"{path.parent.name}/{path.name}:{index}",
                        "batch_id": "sample",
                        "source": path.parent.name,
                        "domain": domains.get(path.parent.name, "sample"),
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
    return [(lang, rule) for _, lang, rule in source_outcomes(rows, clean)]


def source_outcomes(rows: list[dict[str, Any]], clean: Any) -> list[tuple[str, str, str | None]]:
    """(source, lang, rejection rule or None) of every row, in row order."""
    from spark_jobs.clean import clean_documents, partitions_for
    from spark_jobs.session import DEFAULT_MASTER, spark_session

    spark = spark_session(DEFAULT_MASTER)
    schema = (
        "doc_id string, batch_id string, source string, domain string, license string, "
        "source_uri string, source_record long, source_id string, text string, "
        "text_sha256 string, text_bytes long"
    )
    bronze = spark.createDataFrame(rows, schema).repartition(partitions_for(len(rows)))
    cleaned = clean_documents(bronze, clean).select("doc_id", "source", "lang", "rejection.rule")
    found = {row["doc_id"]: (row["source"], row["lang"], row["rule"]) for row in cleaned.collect()}
    return [found[row["doc_id"]] for row in rows]


def _source_domains(recipe: Any) -> dict[str, str]:
    return {source.name: source.domain for source in recipe.sources}


def source_keep_rates(recipe_path: Path) -> list[dict[str, Any]]:
    """One row per sample source: its rule profile, documents, kept share, the top rules."""
    recipe = load_recipe(recipe_path).recipe
    domains = _source_domains(recipe)
    return source_table(source_outcomes(sample_rows(domains), recipe.clean), recipe)


def source_table(found: list[tuple[str, str, str | None]], recipe: Any) -> list[dict[str, Any]]:
    """`source_keep_rates`' rows from (source, lang, rule) outcomes of a clean pass."""
    domains = _source_domains(recipe)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for source, _, rule in found:
        table[source][rule or "kept"] += 1
    result = []
    for source, counts in sorted(table.items()):
        documents = sum(counts.values())
        rules = Counter({rule: n for rule, n in counts.items() if rule != "kept"})
        result.append(
            {
                "source": source,
                "profile": recipe.clean.profile_of(source, domains.get(source, "sample")),
                "documents": documents,
                "kept": counts["kept"],
                "keep_rate": round(counts["kept"] / documents, 3),
                "top_rules": ", ".join(f"{rule} ({n})" for rule, n in rules.most_common(3)),
            }
        )
    return result


def source_markdown(rows: list[dict[str, Any]]) -> str:
    """The per-source keep-rate table of docs/filters.md."""
    lines = [
        "| source | profile | documents | kept | keep rate | most frequent rules |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['source']}` | {row['profile']} | {row['documents']:,} | {row['kept']:,} "
            f"| {row['keep_rate']:.1%} | {row['top_rules'] or '—'} |"
        )
    return "\n".join(lines) + "\n"


def keep_rates(recipe_path: Path) -> list[dict[str, Any]]:
    """One row per detected language: documents, kept share with and without its settings."""
    return both_tables(recipe_path)["languages"]


def both_tables(recipe_path: Path, every: int = 1) -> dict[str, list[dict[str, Any]]]:
    """The per-language rows (`keep_rates`) and the per-source rows (`source_keep_rates`) of
    every `every`-th sample document, from two clean passes (with and without
    `clean.languages`)."""
    recipe = load_recipe(recipe_path).recipe
    clean = recipe.clean
    rows = sample_rows(_source_domains(recipe), every)
    with_languages = source_outcomes(rows, clean)
    english = source_outcomes(rows, clean.model_copy(update={"languages": {}}))
    return {
        "languages": language_table(
            [(lang, rule) for _, lang, rule in with_languages],
            [(lang, rule) for _, lang, rule in english],
            clean,
        ),
        "sources": source_table(with_languages, recipe),
    }


def language_table(
    with_languages: list[tuple[str, str | None]],
    english: list[tuple[str, str | None]],
    clean: Any,
) -> list[dict[str, Any]]:
    """`keep_rates`' rows from the (lang, rule) outcomes of the two passes, in row order."""
    found = {"languages": with_languages, "english": english}
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


def render(result: dict[str, Any]) -> str:
    """The per-language table, then the per-source table, of a recorded run."""
    summary = result["summary"]
    share = "every document" if summary["every"] == 1 else f"every {summary['every']}th document"
    return (
        f"{summary['documents']:,} documents of the sample ({share}), `{summary['recipe']}`.\n\n"
        + markdown(summary["languages"])
        + "\nPer source, under the recipe's rule profiles:\n\n"
        + source_markdown(summary["sources"])
    )


def main() -> None:
    """Print the per-language keep rates of the sample (a markdown table, or JSON); without
    --json, --by-source or --from-json, record both tables as the benchmark's results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.languages", description=__doc__)
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE)
    parser.add_argument("--json", action="store_true", help="every language as JSON")
    parser.add_argument("--from-json", type=Path, help="print the table of a saved --json run")
    parser.add_argument("--by-source", action="store_true", help="per source, one clean pass")
    parser.add_argument("--quick", action="store_true", help=f"every {QUICK_EVERY}th document")
    args = parser.parse_args()
    if args.by_source:
        rows = source_keep_rates(args.recipe)
        print(json.dumps(rows, indent=2) if args.json else source_markdown(rows), end="")
        return
    if args.from_json or args.json:
        rows = json.loads(args.from_json.read_text()) if args.from_json else keep_rates(args.recipe)
        print(json.dumps(rows, indent=2) if args.json else markdown(rows), end="")
        return
    every = QUICK_EVERY if args.quick else 1
    load_before = load_average()
    started = time.perf_counter()
    tables = both_tables(args.recipe, every)
    seconds = round(time.perf_counter() - started, 1)
    recipe = args.recipe.resolve()
    shown = recipe.relative_to(PROJECT_DIR) if recipe.is_relative_to(PROJECT_DIR) else recipe
    summary = {
        "every": every,
        "recipe": str(shown),
        "documents": sum(row["documents"] for row in tables["languages"]),
        **tables,
    }
    command = "python -m benchmarks.languages" + (" --quick" if args.quick else "")
    if args.recipe != DEFAULT_RECIPE:
        command += f" --recipe {shown}"
    path = record(
        "languages",
        command,
        summary,
        {"seconds": seconds},
        quick=args.quick,
        load_before=load_before,
    )
    print(markdown(tables["languages"]) + "\n" + source_markdown(tables["sources"]), end="")
    print(f"saved {path} ({seconds} s)")


if __name__ == "__main__":
    main()
