import pyarrow as pa

from lakehouse.recipe import CurateConfig, ReviewConfig
from spark_jobs.curate import domain_quality_rank
from spark_jobs.review_sample import (
    NEAR_PREFIX,
    STRATIFIED,
    bucket_labels,
    quality_bucket,
    review_sample,
)


def _candidate() -> pa.Table:
    scores = {"code": [0.95, 0.9, 0.7, 0.55, 0.52], "web": [0.85, 0.65, 0.6, 0.51], "legal": [0.9]}
    rows = [
        {"doc_id": f"{domain}{index}", "domain": domain, "quality_score": score}
        for domain, values in scores.items()
        for index, score in enumerate(values)
    ]
    table = pa.Table.from_pylist(rows)
    return table.append_column("domain_quality_rank", domain_quality_rank(table))


def test_bucket_labels_cover_zero_to_one() -> None:
    assert bucket_labels([0.6, 0.8]) == ["[0, 0.6)", "[0.6, 0.8)", "[0.8, 1]"]
    assert quality_bucket(0.6, [0.6, 0.8]) == "[0.6, 0.8)"
    assert quality_bucket(1.0, [0.6, 0.8]) == "[0.8, 1]"


def test_nearest_each_threshold_first_then_every_stratum() -> None:
    sample = review_sample(
        _candidate(),
        CurateConfig(min_quality_score=0.5),
        ReviewConfig(sample_size=8, quality_buckets=[0.6, 0.8], near_threshold=2),
    )
    rows = sample.to_pylist()
    assert [row["position"] for row in rows] == list(range(8))
    # Nearest the 0.5 minimum: web3 (0.51), code4 (0.52).
    assert [(row["doc_id"], row["reason"]) for row in rows[:2]] == [
        ("web3", NEAR_PREFIX + "min_quality_score"),
        ("code4", NEAR_PREFIX + "min_quality_score"),
    ]
    stratified = rows[2:]
    assert {row["reason"] for row in stratified} == {STRATIFIED}
    # Every non-empty stratum (domain × bucket) is seen before any is seen twice.
    strata = {(row["domain"], row["quality_bucket"]) for row in stratified}
    assert strata == {
        ("code", "[0, 0.6)"),
        ("code", "[0.6, 0.8)"),
        ("code", "[0.8, 1]"),
        ("legal", "[0.8, 1]"),
        ("web", "[0.6, 0.8)"),
        ("web", "[0.8, 1]"),
    }
    assert len(set(sample["doc_id"].to_pylist())) == 8


def test_sample_is_deterministic_and_never_larger_than_the_candidate() -> None:
    config = ReviewConfig(sample_size=50, quality_buckets=[0.5], near_threshold=1, seed=3)
    first = review_sample(_candidate(), CurateConfig(top_fraction_per_domain=0.5), config)
    again = review_sample(_candidate(), CurateConfig(top_fraction_per_domain=0.5), config)
    assert first.equals(again)
    assert first.num_rows == 10
    assert first["reason"].to_pylist()[:3] == [
        NEAR_PREFIX + "min_quality_score",
        NEAR_PREFIX + "top_fraction_per_domain",
        STRATIFIED,
    ]
