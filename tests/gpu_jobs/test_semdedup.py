import json
import math
from datetime import UTC, datetime, timedelta

import pytest
import torch

from gpu_jobs.semdedup import (
    SEMANTIC_DUPLICATE,
    Anchors,
    kmeans,
    lexical_jaccard,
    semantic_duplicates,
    semantic_rejections,
)
from lakehouse.recipe import SemDedupConfig

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def unit(*values: float) -> torch.Tensor:
    vector = torch.tensor(values, dtype=torch.float32)
    return vector / vector.norm()


def at_angle(base: torch.Tensor, other: torch.Tensor, cosine: float) -> torch.Tensor:
    """A unit vector with the given cosine to `base`, in the plane of base and `other`."""
    orthogonal = other - (other @ base) * base
    orthogonal = orthogonal / orthogonal.norm()
    return cosine * base + math.sqrt(1 - cosine**2) * orthogonal


def test_kmeans_separates_well_separated_groups_deterministically() -> None:
    generator = torch.Generator().manual_seed(3)
    centers = torch.eye(8)[:3]
    points = torch.cat(
        [center + 0.05 * torch.randn(20, 8, generator=generator) for center in centers]
    )
    points = torch.nn.functional.normalize(points, dim=1)
    assignment, centroids = kmeans(points, clusters=3, iterations=20, seed=0)
    groups = [set(assignment[i * 20 : (i + 1) * 20].tolist()) for i in range(3)]
    assert all(len(group) == 1 for group in groups)
    assert len(set.union(*groups)) == 3
    assert centroids.shape == (3, 8)
    again, _ = kmeans(points, clusters=3, iterations=20, seed=0)
    assert torch.equal(assignment, again)


def test_kmeans_never_makes_more_clusters_than_points() -> None:
    assignment, centroids = kmeans(torch.eye(4)[:2], clusters=10, iterations=5, seed=1)
    assert centroids.shape[0] == 2 and sorted(assignment.tolist()) == [0, 1]


def test_the_oldest_document_is_kept_and_the_copy_points_to_it() -> None:
    a = unit(1, 0, 0, 0)
    near_a = at_angle(a, unit(0, 1, 0, 0), 0.99)
    b = unit(0, 0, 1, 0)
    embeddings = torch.stack([near_a, a, b])
    ingested = [DAY + timedelta(days=1), DAY, DAY]
    config = SemDedupConfig(clusters=2, cosine_threshold=0.95)
    decision = semantic_duplicates(embeddings, ["d0", "d1", "d2"], ingested, config)
    assert decision.duplicate_of == [1, None, None]
    assert decision.similarity[0] == pytest.approx(0.99, abs=1e-5)
    assert decision.kept == [1, 2]


def test_a_document_kept_by_another_batch_wins_and_is_never_rejected() -> None:
    a = unit(1, 0, 0, 0)
    b = unit(0, 0, 1, 0)
    earlier_a = at_angle(a, unit(0, 1, 0, 0), 0.98)
    unrelated = unit(0, 0, 0, 1)
    anchors = Anchors(torch.stack([unrelated, earlier_a]), ["old-x", "old-a"])
    # The batch's a is older than anything else in the batch, yet the anchor wins.
    config = SemDedupConfig(clusters=2, cosine_threshold=0.95)
    decision = semantic_duplicates(
        torch.stack([b, a]), ["b", "a"], [DAY, DAY - timedelta(days=9)], config, anchors
    )
    assert decision.duplicate_of == [None, 3]
    assert decision.keeper_ids == [None, "old-a"]
    assert decision.similarity[1] == pytest.approx(0.98, abs=1e-5)
    assert decision.kept == [0]
    rows = semantic_rejections(["b", "a"], decision, config).to_pylist()
    assert [(row["doc_id"], json.loads(row["detail"])) for row in rows] == [
        ("a", {"duplicate_of": "old-a"})
    ]
    # Without the anchors the same batch keeps both.
    assert semantic_duplicates(torch.stack([b, a]), ["b", "a"], [DAY, DAY], config).kept == [0, 1]


def test_anchors_must_match_their_doc_ids() -> None:
    with pytest.raises(ValueError, match="2 anchor embeddings but 1 doc ids"):
        Anchors(torch.eye(2), ["only-one"])


def test_same_ingest_time_keeps_the_smallest_doc_id() -> None:
    a = unit(1, 0, 0)
    copy = at_angle(a, unit(0, 1, 0), 0.999)
    decision = semantic_duplicates(
        torch.stack([a, copy]), ["zz", "aa"], [DAY, DAY], SemDedupConfig(clusters=1)
    )
    assert decision.duplicate_of == [1, None]


def test_a_pair_at_or_below_the_threshold_is_kept() -> None:
    a = unit(1, 0, 0)
    similar = at_angle(a, unit(0, 1, 0), 0.9)
    decision = semantic_duplicates(
        torch.stack([a, similar]),
        ["a", "b"],
        [DAY, DAY],
        SemDedupConfig(clusters=1, cosine_threshold=0.95),
    )
    assert decision.kept == [0, 1]


def test_a_duplicate_always_points_to_a_kept_document() -> None:
    # a ~ b and b ~ c above the threshold, a ~ c below: b goes, c stays (it repeats no keeper).
    a = unit(1, 0, 0)
    c = at_angle(a, unit(0, 1, 0), 0.9)
    b = torch.nn.functional.normalize(a + c, dim=0)
    assert float(a @ b) > 0.95 and float(b @ c) > 0.95
    decision = semantic_duplicates(
        torch.stack([a, b, c]),
        ["a", "b", "c"],
        [DAY, DAY + timedelta(1), DAY + timedelta(2)],
        SemDedupConfig(clusters=1, cosine_threshold=0.95),
    )
    assert decision.duplicate_of == [None, 0, None]


def test_a_giant_cluster_across_blocks_keeps_exactly_one() -> None:
    generator = torch.Generator().manual_seed(5)
    base = unit(*([1.0] * 16))
    noise = 0.001 * torch.randn(1200, 16, generator=generator)
    embeddings = torch.nn.functional.normalize(base + noise, dim=1)
    ingested = [DAY + timedelta(seconds=1200 - i) for i in range(1200)]
    doc_ids = [f"d{i:04d}" for i in range(1200)]
    decision = semantic_duplicates(
        embeddings, doc_ids, ingested, SemDedupConfig(clusters=1, cosine_threshold=0.95)
    )
    assert decision.kept == [1199]
    assert all(keeper == 1199 for keeper in decision.duplicate_of[:1199])
    assert min(value for value in decision.similarity if value is not None) > 0.95


def test_a_batch_of_one_and_an_empty_batch() -> None:
    single = semantic_duplicates(unit(1, 0).unsqueeze(0), ["only"], [DAY], SemDedupConfig())
    assert single.kept == [0] and single.clusters.tolist() == [0]
    empty = semantic_duplicates(torch.zeros(0, 4), [], [], SemDedupConfig())
    assert empty.kept == [] and empty.clusters.numel() == 0


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="2 embeddings but 1 doc ids"):
        semantic_duplicates(torch.eye(2), ["a"], [DAY, DAY], SemDedupConfig())


def test_rejections_name_the_keeper_like_the_dedup_stage() -> None:
    a = unit(1, 0, 0)
    copy = at_angle(a, unit(0, 1, 0), 0.98)
    config = SemDedupConfig(clusters=1, cosine_threshold=0.95)
    decision = semantic_duplicates(
        torch.stack([a, copy]), ["keep", "drop"], [DAY, DAY + timedelta(1)], config
    )
    (row,) = semantic_rejections(["keep", "drop"], decision, config).to_pylist()
    assert row["doc_id"] == "drop" and row["rule"] == SEMANTIC_DUPLICATE
    assert row["value"] == pytest.approx(0.98, abs=1e-5) and row["threshold"] == 0.95
    assert row["detail"] == '{"duplicate_of":"keep"}'
    assert json.loads(row["detail"]) == {"duplicate_of": "keep"}


def test_a_close_embedding_is_a_duplicate_only_if_the_text_confirms_it() -> None:
    a = unit(1, 0, 0, 0)
    same_topic = at_angle(a, unit(0, 1, 0, 0), 0.99)
    copy = at_angle(same_topic, unit(0, 0, 1, 0), 0.995)  # closer to d1 than to d0
    original = " ".join(f"word{i}" for i in range(60))
    texts = [
        original,
        " ".join(f"other{i}" for i in range(60)),  # same topic, no shared 5-gram
        original + " and one more sentence at the end",
    ]
    ingested = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    config = SemDedupConfig(clusters=1, cosine_threshold=0.95)
    decision = semantic_duplicates(
        torch.stack([a, same_topic, copy]), ["d0", "d1", "d2"], ingested, config, texts=texts
    )
    assert decision.duplicate_of == [None, None, 0]
    # d1 is the more similar embedding to d2, but only d0's text confirms the copy.
    assert decision.keeper_ids == [None, None, "d0"]
    # Without the lexical check the same-topic text is removed.
    cosine_only = semantic_duplicates(
        torch.stack([a, same_topic, copy]),
        ["d0", "d1", "d2"],
        ingested,
        config.model_copy(update={"lexical_jaccard": 0.0}),
        texts=texts,
    )
    assert cosine_only.duplicate_of[1] == 0


def test_lexical_jaccard() -> None:
    text = "one two three four five six seven"
    assert lexical_jaccard(text, text) == 1.0
    assert lexical_jaccard(text, "eight nine ten eleven twelve thirteen") == 0.0
    # 3 shingles each, 2 shared: 2 / 4.
    assert lexical_jaccard(text, "one two three four five six eight") == 0.5


def test_anchor_texts_must_match_their_doc_ids() -> None:
    with pytest.raises(ValueError, match="anchor texts"):
        Anchors(torch.stack([unit(1, 0)]), ["a"], texts=["x", "y"])
