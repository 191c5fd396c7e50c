"""Clean benchmark: funnel's clean stage against DataTrove's filters, equal work.

funnel's clean stage on Spark against DataTrove, the same filters on the same documents, with
how often the two engines take the same decision per filter family. Both engines get the same
generated corpus (`benchmarks.corpus`, seed 0: the sample's sources in their proportions, about
40 % English) and run the same filter families with DataTrove's default
thresholds (`datatrove/pipeline/filters/`): language ID with the same bundled fastText lid.176
model (`en`, score ≥ 0.65), Gopher repetition, Gopher quality, C4 (DataTrove's defaults, so lines
without terminal punctuation are removed) and FineWeb quality, in that order, on two workers.

- DataTrove: `JsonlReader` → a `LambdaFilter` calling funnel's lid.176 (DataTrove's own
  `LanguageFilter` downloads its model at run time) → `GopherRepetitionFilter()` →
  `GopherQualityFilter()` → `C4QualityFilter()` → `FineWebQualityFilter()` → `JsonlWriter`,
  one task per input file on `LocalPipelineExecutor(workers=2)`. Each filter's exclusion writer
  records the ids it drops (only the id, uncompressed).
- funnel: the clean stage materialized by Dagster on Spark `local[2]` with a benchmark recipe
  that runs exactly these families at these thresholds: the URL, boilerplate, RedPajama and
  harmful-content families off, no per-language settings, no rule profiles, PII redaction with
  no kinds. Work it still does that DataTrove does not: Unicode normalization (NFC, whitespace
  and control characters; it always runs), counting the batch's lines for the boilerplate index
  (none removed), measuring the disabled families' signals (URL, all-caps words, profanity
  ratio), passing kept documents through the PII step, and committing `silver/documents`,
  `silver/signals`, `silver/boilerplate_lines` and `ops/rejections` to Delta, the ledger and
  lineage. Its time includes starting the Spark session; bronze ingestion runs before the clock.

Engines alternate (DataTrove, funnel, DataTrove, funnel …), each run in a fresh process. Timed:
DataTrove's `executor.run()`, funnel's clean materialization (Spark start included); documents/s
is input documents over that time. Peak memory is the largest resident memory of the engine's
whole process tree (JVM and Python workers included; funnel's ingest too), sampled every 0.1 s.
Agreement per family: over every document, the share where both engines agree on whether that
family dropped it (each engine stops at the first family that drops a document). The ratio is
funnel documents/s ÷ DataTrove documents/s; the target is ≥ 2. Full profile: 10,000 documents ×
3 runs (medians) and 100,000 × 1 run; `--quick`: 2,000 × 1. `--funnel-only` measures funnel's
growth (10k → 100k → 1M by default) without the peer.

    python -m benchmarks.clean [--quick] [--docs N --repeats R …] [--funnel-only]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.ingest import _recipe, corpus_dir, corpus_files
from benchmarks.measure import load_average, record, run_measured, spread, spread_cell

TITLE = "Clean (silver stage) against DataTrove, equal work"
ENGINES = ("datatrove", "funnel")
# The filter families both engines run, in decision order.
FAMILIES = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb")
KEPT = "kept"
FULL_PROFILE = ((10_000, 3), (100_000, 1))
QUICK_PROFILE = ((2_000, 1),)
GROWTH_SIZES = (10_000, 100_000, 1_000_000)
# The benchmark recipe's clean section: DataTrove's default thresholds (which are the families'
# defaults, except C4's terminal-punctuation line rule, off in FineWeb's run and on in
# DataTrove's C4QualityFilter) and every family DataTrove does not run switched off.
CLEAN_SECTION = """\
clean:
  spark_master: local[2]
  tokenizer: spacy
  url: {enabled: false}
  boilerplate: {enabled: false, max_documents: null}
  language: {allow: [en], min_score: 0.65}
  languages: {}
  c4: {filter_no_terminal_punct: true, max_removed_chars_frac: null}
  redpajama_v2: {enabled: false}
  harmful_content: {enabled: false}
  pii: {kinds: []}
  profiles: {}
"""


def write_recipe(folder: Path, landing: Path) -> Path:
    """The benchmark recipe: one JSON-lines source per corpus folder and `CLEAN_SECTION`."""
    return _recipe(folder, landing, "bench_clean", CLEAN_SECTION)


def run_funnel(landing: Path) -> dict[str, Any]:
    """Ingest the corpus (untimed), then time the clean asset's materialization; which family
    dropped each document (by the corpus's own ids)."""
    import dagster as dg

    from assets.clean import clean
    from assets.ingest import ingest
    from assets.partitions import BATCH_PARTITIONS_NAME
    from assets.resources import LakehouseResource, SparkResource
    from dagster_project.batching import register_landing
    from lakehouse.ledger import ledger_entries
    from lakehouse.rules import RULES_BY_NAME
    from lakehouse.tables import BRONZE_DOCUMENTS, OPS_REJECTIONS

    with tempfile.TemporaryDirectory(prefix="funnel-bench-") as work:
        lakehouse = LakehouseResource(
            root=str(Path(work) / "lake"), recipe_path=str(write_recipe(Path(work), landing))
        )
        resources = {"lakehouse": lakehouse, "spark": SparkResource(master="local[2]")}
        with dg.DagsterInstance.ephemeral() as instance:
            (batch,) = register_landing(instance, lakehouse, writer="bench")
            instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch])
            dg.materialize([ingest], instance=instance, partition_key=batch, resources=resources)
            started = time.perf_counter()
            dg.materialize([clean], instance=instance, partition_key=batch, resources=resources)
            seconds = time.perf_counter() - started
        catalog = lakehouse.catalog()
        (entry,) = ledger_entries(catalog, stage="clean")
        ids = catalog.read(BRONZE_DOCUMENTS, columns=["doc_id", "source_id"]).to_pydict()
        source_id = dict(zip(ids["doc_id"], ids["source_id"], strict=True))
        rejected = catalog.read(
            OPS_REJECTIONS, where={"stage": "clean"}, columns=["doc_id", "rule"]
        )
        dropped = {
            source_id[doc]: RULES_BY_NAME[rule].family
            for doc, rule in zip(
                rejected["doc_id"].to_pylist(), rejected["rule"].to_pylist(), strict=True
            )
        }
    return {
        "seconds": seconds,
        "docs": entry.rows_in,
        "kept": entry.rows_out,
        "dropped_by": dropped,
    }


def _lines(path: Path) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def _only_id(writer: Any, document: Any) -> dict[str, Any]:
    """Exclusion writers' adapter: a dropped document is recorded by its id alone."""
    return {"id": document.id}


def _allowed_language(document: Any) -> bool:
    """lid.176 (the bundled model funnel uses) says English with a score of at least 0.65."""
    from spark_jobs.language import detect_languages

    ((lang, score),) = detect_languages([document.text])
    return lang == "en" and score >= 0.65


def run_datatrove(landing: Path) -> dict[str, Any]:
    """The same filters with DataTrove, two tasks at a time on two worker processes; which
    filter dropped each document, from each filter's exclusion writer."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LambdaFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    with tempfile.TemporaryDirectory(prefix="datatrove-bench-") as work:
        excluded = Path(work) / "excluded"

        def dropped(family: str) -> JsonlWriter:
            return JsonlWriter(str(excluded / family), compression=None, adapter=_only_id)

        executor = LocalPipelineExecutor(
            pipeline=[
                JsonlReader(str(landing), glob_pattern="*/*.jsonl.gz"),
                LambdaFilter(_allowed_language, exclusion_writer=dropped("language")),
                GopherRepetitionFilter(exclusion_writer=dropped("gopher_repetition")),
                GopherQualityFilter(exclusion_writer=dropped("gopher_quality")),
                C4QualityFilter(exclusion_writer=dropped("c4")),
                FineWebQualityFilter(exclusion_writer=dropped("fineweb")),
                JsonlWriter(str(Path(work) / "out")),
            ],
            # One task per file so that both workers stay busy until the end.
            tasks=len(corpus_files(landing)),
            workers=2,
            logging_dir=str(Path(work) / "logs"),
        )
        started = time.perf_counter()
        executor.run()
        seconds = time.perf_counter() - started
        kept = sum(_lines(path) for path in (Path(work) / "out").glob("*.jsonl.gz"))
        dropped_by = {
            json.loads(line)["id"]: path.parent.name
            for path in excluded.glob("*/*.jsonl")
            for line in path.read_text().splitlines()
        }
    docs = sum(_lines(path) for path in corpus_files(landing))
    return {"seconds": seconds, "docs": docs, "kept": kept, "dropped_by": dropped_by}


def family_agreement(
    docs: int, funnel: dict[str, str], datatrove: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Per family (and `kept` for the final decision): over all `docs` documents, how many each
    engine alone dropped there, both dropped, and the share where the two agree.

    `funnel` and `datatrove` map each dropped document's id to the family that dropped it;
    documents not in a map were kept by that engine. Raises ValueError when the maps name more
    documents than `docs` (ids of different corpora).
    """
    # A family outside the compared ones (funnel's normalization dropping an empty text) gets
    # its own row after them, so that no drop goes uncounted.
    seen = set(funnel.values()) | set(datatrove.values())
    families = (*FAMILIES, *sorted(seen - set(FAMILIES)))
    if len(set(funnel) | set(datatrove)) > docs:
        raise ValueError(
            f"{len(set(funnel) | set(datatrove))} dropped document ids for {docs} documents: "
            "both engines must read the same corpus"
        )
    result: dict[str, dict[str, Any]] = {}
    for family in (*families, KEPT):

        def drops(engine: dict[str, str], family: str = family) -> set[str]:
            return set(engine) if family == KEPT else {d for d, f in engine.items() if f == family}

        first, second = drops(funnel), drops(datatrove)
        differ = len(first ^ second)
        result[family] = {
            "funnel_dropped": len(first),
            "datatrove_dropped": len(second),
            "both_dropped": len(first & second),
            "funnel_only": len(first - second),
            "datatrove_only": len(second - first),
            "agreement": round(1 - differ / docs, 4) if docs else 1.0,
        }
    return result


def _engine_args(engine: str, landing: Path) -> list[str]:
    return ["--engine", engine, "--landing", str(landing)]


def measure_size(
    docs: int, repeats: int, peer: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`repeats` rounds on one corpus of `docs` documents, engines alternating in fresh
    processes: the summary (medians, spreads, ratio, the first round's per-family agreement)
    and every run's figures."""
    landing = corpus_dir(docs)
    engines = ENGINES if peer else ("funnel",)
    runs: list[dict[str, Any]] = []
    agreement: dict[str, Any] | None = None
    for round_number in range(repeats):
        found = {}
        for engine in engines:
            result = run_measured("benchmarks.clean", _engine_args(engine, landing))
            found[engine] = result.pop("dropped_by")
            runs.append({"docs": docs, "round": round_number, "engine": engine, **result})
            print(
                f"{docs} docs, round {round_number + 1}/{repeats}, {engine}: "
                f"{result['wall_seconds']} s, kept {result['kept']}",
                flush=True,
            )
        if peer and agreement is None:
            # Decisions are deterministic: one round's agreement stands for all of them.
            agreement = family_agreement(docs, found["funnel"], found["datatrove"])
    return summarize(docs, runs, agreement), runs


def summarize(
    docs: int, runs: list[dict[str, Any]], agreement: dict[str, Any] | None
) -> dict[str, Any]:
    """One size's figures: per engine the spreads of wall time, docs/s and peak memory, the
    kept count; the ratio of median docs/s and the per-family agreement."""
    summary: dict[str, Any] = {"docs": docs}
    for engine in ENGINES:
        mine = [run for run in runs if run["engine"] == engine and run["docs"] == docs]
        if not mine:
            continue
        summary[engine] = {
            "seconds": spread([run["seconds"] for run in mine], 1),
            "process_seconds": spread([run["wall_seconds"] for run in mine], 1),
            "docs_per_s": spread([docs / run["seconds"] for run in mine], 1),
            "peak_rss_mb": spread([run["peak_rss_mb"] for run in mine], 0),
            "kept": mine[0]["kept"],
        }
    if "datatrove" in summary and "funnel" in summary:
        summary["ratio_docs_per_s"] = round(
            summary["funnel"]["docs_per_s"]["median"]
            / summary["datatrove"]["docs_per_s"]["median"],
            2,
        )
    if agreement is not None:
        summary["agreement"] = agreement
    return summary


def _growth(sizes: list[dict[str, Any]]) -> str:
    """How funnel's throughput and memory change from each size to the next, if several."""
    steps = []
    for small, large in itertools.pairwise(sorted(sizes, key=lambda size: size["docs"])):
        before, after = small["funnel"], large["funnel"]
        steps.append(
            f"{small['docs']:,} → {large['docs']:,} documents: docs/s × "
            f"{after['docs_per_s']['median'] / before['docs_per_s']['median']:.2f}, peak memory × "
            f"{after['peak_rss_mb']['median'] / before['peak_rss_mb']['median']:.2f}"
        )
    return "\nfunnel's growth: " + "; ".join(steps) + ".\n" if steps else ""


def render(result: dict[str, Any]) -> str:
    """Throughput per size (medians with their ranges), then agreement per family."""
    sizes = result["summary"].get("sizes", [])
    lines = [
        "| documents | runs | DataTrove s | DataTrove docs/s | DataTrove peak MiB | funnel s "
        "| funnel docs/s | funnel peak MiB | ratio (docs/s) | kept DataTrove / funnel |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        trove, funnel = size.get("datatrove"), size["funnel"]
        peer = (
            [
                spread_cell(trove["seconds"]),
                spread_cell(trove["docs_per_s"]),
                spread_cell(trove["peak_rss_mb"]),
            ]
            if trove
            else ["—", "—", "—"]
        )
        ratio = f"**{size['ratio_docs_per_s']}**" if "ratio_docs_per_s" in size else "—"
        kept = f"{trove['kept']:,} / {funnel['kept']:,}" if trove else f"— / {funnel['kept']:,}"
        lines.append(
            f"| {size['docs']:,} | {funnel['seconds']['n']} | {' | '.join(peer)} "
            f"| {spread_cell(funnel['seconds'])} | {spread_cell(funnel['docs_per_s'])} "
            f"| {spread_cell(funnel['peak_rss_mb'])} | {ratio} | {kept} |"
        )
    out = "\n".join(lines) + "\n" + _growth(sizes)
    for size in sizes:
        if "agreement" not in size:
            continue
        out += (
            f"\nAgreement per family at {size['docs']:,} documents (documents where both "
            "engines agree whether the family dropped it):\n\n"
            "| family | DataTrove dropped | funnel dropped | both | DataTrove only | funnel only "
            "| agreement |\n|---|---:|---:|---:|---:|---:|---:|\n"
        )
        for family, row in size["agreement"].items():
            name = "final decision (kept or not)" if family == KEPT else f"`{family}`"
            out += (
                f"| {name} | {row['datatrove_dropped']:,} | {row['funnel_dropped']:,} "
                f"| {row['both_dropped']:,} | {row['datatrove_only']:,} | {row['funnel_only']:,} "
                f"| {row['agreement']:.2%} |\n"
            )
    return out


def main() -> None:
    """Command line: run one engine (internal), the comparison, or funnel's growth alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 documents, one run")
    parser.add_argument("--docs", type=int, action="append", help="corpus size (repeatable)")
    parser.add_argument("--repeats", type=int, action="append", help="runs of each --docs size")
    parser.add_argument(
        "--funnel-only",
        action="store_true",
        help="funnel alone, 10k → 100k → 1M documents by default (growth; DataTrove takes hours)",
    )
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        run = run_funnel if args.engine == "funnel" else run_datatrove
        print(json.dumps(run(args.landing)))
        return
    if args.docs:
        repeats = args.repeats or [1] * len(args.docs)
        if len(repeats) != len(args.docs):
            parser.error("give one --repeats per --docs, or none (one run each)")
        plan = tuple(zip(args.docs, repeats, strict=True))
    elif args.funnel_only:
        plan = tuple((docs, 1) for docs in GROWTH_SIZES)
    else:
        plan = QUICK_PROFILE if args.quick else FULL_PROFILE
    load_before = load_average()
    sizes, runs = [], []
    for docs, repeats in plan:
        size, measured = measure_size(docs, repeats, peer=not args.funnel_only)
        sizes.append(size)
        runs += measured
        print(json.dumps({k: v for k, v in size.items() if k != "agreement"}), flush=True)
    name = "clean_growth" if args.funnel_only else "clean"
    command = "python -m benchmarks.clean" + (" --quick" if args.quick else "")
    for docs, repeats in plan if args.docs else ():
        command += f" --docs {docs} --repeats {repeats}"
    command += " --funnel-only" if args.funnel_only else ""
    path = record(name, command, {"sizes": sizes}, runs, quick=args.quick, load_before=load_before)
    for size in sizes:
        agree = size.get("agreement", {}).get(KEPT, {}).get("agreement")
        print(
            f"{size['docs']} docs: funnel {size['funnel']['docs_per_s']['median']} docs/s"
            + (
                f", DataTrove {size['datatrove']['docs_per_s']['median']} docs/s, ratio "
                f"{size['ratio_docs_per_s']}, final decisions agree on {agree:.2%}"
                if "datatrove" in size
                else ""
            )
        )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
