import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.recipe import CurateConfig, RecipeError, parse_recipe
from spark_jobs.curate import (
    BELOW_TOP_FRACTION,
    DOMAIN_NOT_IN_MIXTURE,
    MIXTURE_DOWNSAMPLE,
    QUALITY_BELOW_MIN,
    TokenizerError,
    count_tokens,
    curate,
    domain_quality_rank,
    encoder_tokenizer_path,
    load_tokenizer,
    mixture,
    select,
)
from tests.scored_documents import scored_rows


def _by_id(table: pa.Table, column: str) -> dict[str, object]:
    return dict(zip(table["doc_id"].to_pylist(), table[column].to_pylist(), strict=True))


def _docs(spec: list[tuple[str, str, float, int]]) -> pa.Table:
    """Rows of (doc_id, domain, quality_score, tokens) with a batch id."""
    table = pa.table(
        {
            "doc_id": [item[0] for item in spec],
            "batch_id": ["b1"] * len(spec),
            "domain": [item[1] for item in spec],
            "quality_score": [item[2] for item in spec],
            "tokens": pa.array([item[3] for item in spec], pa.int64()),
        }
    )
    return table.append_column("domain_quality_rank", domain_quality_rank(table))


# Domain a: four documents of 100 tokens (400), domain b: one of 100. Total 500 tokens.
FIVE = [
    ("a1", "a", 0.9, 100),
    ("a2", "a", 0.8, 100),
    ("a3", "a", 0.7, 100),
    ("a4", "a", 0.6, 100),
    ("b1", "b", 0.5, 100),
]


def test_quality_rank_is_the_share_ranked_above_within_the_domain() -> None:
    table = _docs([*FIVE, ("a0", "a", 0.8, 1)])
    ranks = _by_id(table, "domain_quality_rank")
    # a: 0.9 first, then the 0.8 tie broken by doc id (a0 before a2), then 0.7 and 0.6.
    assert ranks == {"a1": 0.0, "a0": 0.2, "a2": 0.4, "a3": 0.6, "a4": 0.8, "b1": 0.0}


def test_selection_rejects_below_minimum_then_outside_top_fraction() -> None:
    table = _docs(FIVE)
    kept, rejected = select(
        table, CurateConfig(min_quality_score=0.65, top_fraction_per_domain=0.5)
    )
    assert sorted(kept["doc_id"].to_pylist()) == ["a1", "a2"]
    rows = {row["doc_id"]: row for row in rejected.to_pylist()}
    assert rows["a4"]["rule"] == QUALITY_BELOW_MIN and rows["a4"]["value"] == 0.6
    assert rows["a4"]["threshold"] == 0.65
    assert rows["b1"]["rule"] == QUALITY_BELOW_MIN
    # a3 (0.7) passes the minimum but its rank 0.5 is outside the top half of domain a.
    assert rows["a3"]["rule"] == BELOW_TOP_FRACTION
    assert (rows["a3"]["value"], rows["a3"]["threshold"]) == (0.5, 0.5)
    assert json.loads(rows["a3"]["detail"]) == {"domain": "a"}


def test_mixture_down_samples_the_large_domain_and_up_weights_the_small_one() -> None:
    # Targets a 0.6, b 0.4 of the 500 tokens: a aims at 300 (keeps its best three), b at 200
    # with its 100 tokens, so weight 2.0.
    outcome = mixture(_docs(FIVE), CurateConfig(target_token_shares={"a": 0.6, "b": 0.4}))
    weights = _by_id(outcome.candidate, "weight")
    assert weights == {"a1": 1.0, "a2": 1.0, "a3": 1.0, "b1": 2.0}
    (dropped,) = outcome.rejections.to_pylist()
    assert dropped["doc_id"] == "a4" and dropped["rule"] == MIXTURE_DOWNSAMPLE
    assert dropped["value"] == pytest.approx(0.8) and dropped["threshold"] == 0.6
    assert json.loads(dropped["detail"]) == {"domain": "a", "target_tokens": 300}
    shares = {item.domain: item for item in outcome.domains}
    assert shares["a"].achieved_share == pytest.approx(0.6)
    assert shares["b"].achieved_share == pytest.approx(0.4)
    assert (shares["a"].documents, shares["a"].tokens, shares["a"].natural_share) == (3, 300, 0.8)
    assert shares["b"].weighted_tokens == 200


def test_mixture_caps_the_weight_and_reports_the_share_it_reaches() -> None:
    outcome = mixture(
        _docs(FIVE), CurateConfig(target_token_shares={"a": 0.6, "b": 0.4}, max_weight=1.5)
    )
    shares = {item.domain: item for item in outcome.domains}
    assert shares["b"].weight == 1.5
    # 300 tokens of a, 100 × 1.5 of b: b reaches 150 / 450 of the weighted tokens.
    assert shares["b"].achieved_share == pytest.approx(1 / 3)
    assert shares["b"].target_share == 0.4


def test_mixture_leaves_out_unlisted_domains_and_never_duplicates() -> None:
    outcome = mixture(_docs(FIVE), CurateConfig(target_token_shares={"a": 1.0}))
    assert outcome.candidate["doc_id"].to_pylist() == ["a1", "a2", "a3", "a4"]
    assert outcome.candidate["weight"].to_pylist() == [1.0] * 4
    (left_out,) = outcome.rejections.to_pylist()
    assert left_out["doc_id"] == "b1" and left_out["rule"] == DOMAIN_NOT_IN_MIXTURE


def test_without_targets_every_selected_document_keeps_weight_one() -> None:
    outcome = mixture(_docs(FIVE), CurateConfig())
    assert outcome.candidate.num_rows == 5 and outcome.rejections.num_rows == 0
    assert set(outcome.candidate["weight"].to_pylist()) == {1.0}
    assert {item.domain: item.target_share for item in outcome.domains} == {"a": None, "b": None}


def test_tokens_are_counted_by_the_encoder_tokenizer_without_truncation() -> None:
    tokenizer = load_tokenizer()
    assert encoder_tokenizer_path().name == "tokenizer.json"
    counts = count_tokens(
        pa.array(["Hello world", "unbelievably", None, " ".join(["word"] * 1000)]), tokenizer
    )
    # WordPiece: "unbelievably" is split into sub-words; the model's 512-token limit is not applied.
    assert counts.to_pylist()[0] == 2
    assert counts.to_pylist()[1] > 1
    assert counts.to_pylist()[2:] == [0, 1000]


def test_a_missing_tokenizer_file_names_the_recipe_key(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"curate\.tokenizer_path"):
        load_tokenizer(tmp_path / "missing" / "tokenizer.json")


def test_curate_accounts_for_every_scored_document() -> None:
    scored = pa.Table.from_pylist(scored_rows())
    config = CurateConfig(
        min_quality_score=0.5,
        target_token_shares={"code": 0.4, "web": 0.3, "prose": 0.2, "legal": 0.1},
        max_weight=3.0,
    )
    outcome = curate(scored, config, load_tokenizer())
    kept = outcome.candidate["doc_id"].to_pylist()
    dropped = outcome.rejections["doc_id"].to_pylist()
    assert len(kept) == len(set(kept))
    assert sorted(kept + dropped) == sorted(scored["doc_id"].to_pylist())
    assert min(outcome.candidate["quality_score"].to_pylist()) >= 0.5
    assert all(1.0 <= weight <= 3.0 for weight in outcome.candidate["weight"].to_pylist())
    achieved = sum(item.achieved_share for item in outcome.domains)
    assert achieved == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{target_token_shares: {a: 0.5, b: 0.4}}", "curate.target_token_shares: .*sum to 0.9"),
        ("{target_token_shares: {a: 1.5}}", "curate.target_token_shares: .*in \\(0, 1\\]"),
        ("{max_weight: 0.5}", "curate.max_weight"),
        ("{top_fraction_per_domain: 0}", "curate.top_fraction_per_domain"),
        ("{min_score: 0.5}", "curate.min_score: unknown key"),
    ],
)
def test_bad_curate_settings_name_the_key(section: str, message: str) -> None:
    recipe = (
        "name: t\nlanding: /tmp\nsources:\n  - {name: s, path: '*', format: jsonl, "
        f"domain: d, license: MIT}}\ncurate: {section}\n"
    )
    with pytest.raises(RecipeError, match=message):
        parse_recipe(recipe)
