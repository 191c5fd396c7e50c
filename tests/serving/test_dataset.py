"""ReleaseDataset over real published releases: coverage, sharding, shuffling, mixture, resume,
bounded buffering and error paths."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import serving.dataset
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.releases import ReleaseNotFoundError, release_rows
from serving.dataset import (
    _DRAWS,
    DRAW_BLOCK,
    MixtureWeightsError,
    ReleaseDataLoader,
    ReleaseDataset,
    ResumeStateError,
    _rng,
)
from tests.serving.published import publish

torch.set_num_threads(1)

# Two candidate files; domain `a` spans both, `b` and `c` one each.
PARTS = [{"a": 30, "b": 20}, {"a": 10, "c": 25}]
ROWS = sum(sum(part.values()) for part in PARTS)
COMMIT = CommitInfo(run_id="test-run", stage="test", recipe_sha256="0" * 64, code_version="test")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A lakehouse with release `r1` (PARTS) and the larger, evenly mixed release `big`."""
    catalog = Catalog(str(tmp_path_factory.mktemp("serving") / "lake"))
    publish(catalog, COMMIT, "r1", PARTS)
    return catalog


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """A release of 600 documents in each of three domains."""
    catalog = Catalog(str(tmp_path_factory.mktemp("mixed") / "lake"))
    publish(catalog, COMMIT, "big", [{"a": 600, "b": 600, "c": 600}])
    return catalog


def doc_ids(samples: object) -> list[str]:
    return [sample["doc_id"] for sample in samples]  # type: ignore[attr-defined]


def test_one_epoch_yields_exactly_the_release_rows(released: Catalog) -> None:
    dataset = ReleaseDataset(released, "r1", seed=3, buffer_size=8)
    samples = list(dataset)
    expected = release_rows(released, "r1", columns=["doc_id", "domain", "text", "weight"])
    by_id = {row["doc_id"]: row for row in expected.to_pylist()}
    assert len(samples) == ROWS == dataset.num_rows
    assert sorted(doc_ids(samples)) == sorted(by_id)
    for sample in samples:
        row = by_id[sample["doc_id"]]
        assert (sample["domain"], sample["text"], sample["weight"]) == (
            row["domain"],
            row["text"],
            row["weight"],
        )
    assert [sample["position"] for sample in samples] == list(range(ROWS))


@pytest.mark.parametrize(("world_size", "workers"), itertools.product([1, 2, 3], [0, 1, 2, 3]))
def test_shards_cover_the_release_without_overlap_or_gap(
    released: Catalog, world_size: int, workers: int
) -> None:
    seen: list[str] = []
    for rank in range(world_size):
        dataset = ReleaseDataset(
            released, "r1", seed=5, buffer_size=4, rank=rank, world_size=world_size
        )
        num_shards = dataset.num_shards(workers)
        assert num_shards == world_size * max(1, workers)
        for worker in range(max(1, workers)):
            shard = rank * max(1, workers) + worker
            seen += doc_ids(dataset.shard_samples(shard, num_shards))
    assert len(seen) == ROWS
    assert len(set(seen)) == ROWS


def test_dataloader_workers_split_the_release(released: Catalog) -> None:
    loader = ReleaseDataLoader(
        ReleaseDataset(released, "r1", seed=1, buffer_size=8), batch_size=4, num_workers=2
    )
    seen = [doc for batch in loader for doc in batch["doc_id"]]
    shards = Counter()
    for batch in ReleaseDataLoader(
        ReleaseDataset(released, "r1", seed=1, buffer_size=8), batch_size=4, num_workers=2
    ):
        shards.update(batch["shard"].tolist())
    assert len(seen) == len(set(seen)) == ROWS
    assert set(shards) == {0, 1}


def test_shuffle_is_deterministic_per_seed_and_differs_across_seeds(released: Catalog) -> None:
    first = doc_ids(ReleaseDataset(released, "r1", seed=11, buffer_size=8))
    again = doc_ids(ReleaseDataset(released, "r1", seed=11, buffer_size=8))
    other = doc_ids(ReleaseDataset(released, "r1", seed=12, buffer_size=8))
    next_epoch = ReleaseDataset(released, "r1", seed=11, buffer_size=8)
    next_epoch.set_epoch(1)
    assert first == again
    assert first != other
    assert first != doc_ids(next_epoch)
    assert sorted(first) == sorted(other)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 1000),
    buffer_size=st.integers(1, 40),
    stop=st.integers(0, ROWS),
    world_size=st.integers(1, 3),
)
def test_resume_continues_exactly_where_it_stopped(
    released: Catalog, seed: int, buffer_size: int, stop: int, world_size: int
) -> None:
    rank = world_size - 1
    options = {"seed": seed, "buffer_size": buffer_size, "rank": rank, "world_size": world_size}
    uninterrupted = doc_ids(ReleaseDataset(released, "r1", **options))
    interrupted = ReleaseDataset(released, "r1", **options)
    head = doc_ids(itertools.islice(iter(interrupted), stop))
    state = interrupted.state_dict()
    restored = ReleaseDataset(released, "r1", **options)
    restored.load_state_dict(state)
    assert head + doc_ids(restored) == uninterrupted


@pytest.mark.parametrize("stop_after", [1, 4, 7])
def test_dataloader_with_workers_resumes_exactly(released: Catalog, stop_after: int) -> None:
    def loader() -> ReleaseDataLoader:
        dataset = ReleaseDataset(released, "r1", seed=2, buffer_size=6)
        return ReleaseDataLoader(dataset, batch_size=3, num_workers=2)

    uninterrupted = [doc for batch in loader() for doc in batch["doc_id"]]
    interrupted = loader()
    head: list[str] = []
    for index, batch in enumerate(interrupted):
        head += batch["doc_id"]
        if index + 1 == stop_after:
            break
    state = interrupted.state_dict()
    restored = loader()
    restored.load_state_dict(state)
    tail = [doc for batch in restored for doc in batch["doc_id"]]
    assert head + tail == uninterrupted
    assert sum(entry["position"] for entry in state["shards"].values()) == 3 * stop_after


@pytest.mark.parametrize("draw_block", [DRAW_BLOCK, 7])
def test_resume_after_weights_changed(
    mixed: Catalog, draw_block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving.dataset, "DRAW_BLOCK", draw_block)

    def run(restart_at: int | None) -> list[str]:
        dataset = ReleaseDataset(mixed, "big", seed=4, buffer_size=50)
        seen: list[str] = []
        iterator = iter(dataset)
        for step in range(12):
            if step == 5:
                dataset.set_domain_weights({"a": 0.1, "b": 0.3, "c": 0.6})
            if step == restart_at:
                state = dataset.state_dict()
                dataset = ReleaseDataset(mixed, "big", seed=4, buffer_size=50)
                dataset.load_state_dict(state)
                iterator = iter(dataset)
            seen += doc_ids(itertools.islice(iterator, 10))
        return seen

    assert run(restart_at=8) == run(restart_at=None)


def test_mixture_follows_the_weights_and_changes_between_steps(mixed: Catalog) -> None:
    weights = {"a": 0.6, "b": 0.3, "c": 0.1}
    counts: Counter[str] = Counter()
    for seed in range(4):
        dataset = ReleaseDataset(mixed, "big", seed=seed, buffer_size=64, domain_weights=weights)
        iterator = iter(dataset)
        counts.update(sample["domain"] for sample in itertools.islice(iterator, 600))
    for domain, weight in weights.items():
        # 2,400 draws: a standard deviation of at most 0.01 per share.
        assert abs(counts[domain] / 2400 - weight) < 0.03, counts
    dataset.set_domain_weights({"a": 0, "b": 0, "c": 2.5})
    assert dataset.domain_weights == {"a": 0.0, "b": 0.0, "c": 1.0}
    following = [sample["domain"] for sample in itertools.islice(iterator, 100)]
    assert following == ["c"] * 100


def rule_domains(
    dataset: ReleaseDataset, shard: int, num_shards: int, changes: dict[int, dict[str, float]]
) -> list[str]:
    """The mixture rule of `serving.dataset`'s docstring, one draw at a time: sample n takes
    the domain whose cumulative-weight interval (over domains with rows left and a positive
    weight) holds u[n] × their total; a draw rounding up to the total takes the last one."""
    pieces = dataset.shard_pieces(shard, num_shards)
    remaining = {domain: sum(piece.rows for piece in pieces[domain]) for domain in pieces}
    weights = dataset.domain_weights
    domains: list[str] = []
    n = 0
    while True:
        if n in changes:
            total = sum(changes[n].values())
            weights = {domain: changes[n].get(domain, 0) / total for domain in dataset.domains}
        active = [d for d in dataset.domains if remaining[d] > 0 and weights[d] > 0]
        if not active:
            return domains
        block, offset = divmod(n, serving.dataset.DRAW_BLOCK)
        u = _rng(dataset.seed, dataset.epoch, _DRAWS, shard, block).random(
            serving.dataset.DRAW_BLOCK
        )[offset]
        point = u * sum(weights[d] for d in active)
        cumulative = 0.0
        chosen = active[-1]
        for domain in active:
            cumulative += weights[domain]
            if point < cumulative:
                chosen = domain
                break
        domains.append(chosen)
        remaining[chosen] -= 1
        n += 1


@pytest.mark.parametrize("draw_block", [DRAW_BLOCK, 7, 1])
@pytest.mark.parametrize(("shard", "num_shards"), [(0, 1), (1, 2)])
def test_vectorized_draws_follow_the_mixture_rule_sample_by_sample(
    mixed: Catalog, draw_block: int, shard: int, num_shards: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving.dataset, "DRAW_BLOCK", draw_block)
    # Weights change mid-block; `b` leaves the draw for a while; `a` runs out early.
    changes = {
        0: {"a": 0.98, "b": 0.01, "c": 0.01},
        100: {"a": 0.7, "b": 0.0, "c": 0.3},
        401: {"a": 1, "b": 5, "c": 1},
        1003: {"a": 0.2, "b": 0.2, "c": 0.6},
    }
    dataset = ReleaseDataset(mixed, "big", seed=6, epoch=2, buffer_size=50)
    samples = dataset.shard_samples(shard, num_shards)
    drawn = []
    while True:
        if len(drawn) in changes:
            dataset.set_domain_weights(changes[len(drawn)])
        sample = next(samples, None)
        if sample is None:
            break
        drawn.append(sample["domain"])
    assert drawn == rule_domains(dataset, shard, num_shards, changes)
    assert len(drawn) == 1800 // num_shards


def test_streams_share_one_read_and_one_conversion_per_unit(mixed: Catalog) -> None:
    dataset = ReleaseDataset(mixed, "big", seed=2, buffer_size=64)
    assert sum(1 for _ in dataset) == 1800
    # One row group, cut into 29 units: each read once and converted once for all three
    # domain streams, which walk the units in step.
    assert len({(unit.file, unit.row_group) for unit in dataset.units}) == 1
    assert dataset.row_group_reads == 1
    assert dataset.unit_conversions == len(dataset.units) == 29


def test_state_counts_only_consumed_domains(mixed: Catalog) -> None:
    dataset = ReleaseDataset(mixed, "big", seed=0, buffer_size=64, domain_weights={"b": 1})
    list(itertools.islice(iter(dataset), 3))
    assert dataset.state_dict()["shards"] == {"0": {"position": 3, "consumed": {"b": 3}}}


def test_weights_set_in_training_reach_dataloader_workers(mixed: Catalog) -> None:
    dataset = ReleaseDataset(mixed, "big", seed=3, buffer_size=64)
    loader = ReleaseDataLoader(dataset, batch_size=10, num_workers=2, prefetch_factor=2)
    batches = iter(loader)
    first = next(batches)
    assert set(first["domain"]) == {"a", "b", "c"}
    dataset.set_domain_weights({"c": 1.0})
    # Up to workers × prefetch_factor batches were drawn before the change.
    for _ in range(4):
        next(batches)
    later = [domain for _ in range(10) for domain in next(batches)["domain"]]
    assert later == ["c"] * 100


def test_an_exhausted_domain_leaves_the_draw_and_the_epoch_still_covers_all(
    mixed: Catalog,
) -> None:
    dataset = ReleaseDataset(
        mixed, "big", seed=1, buffer_size=64, domain_weights={"a": 0.98, "b": 0.01, "c": 0.01}
    )
    domains = [sample["domain"] for sample in dataset]
    assert len(domains) == 1800
    # `a` runs out first; after it, only `b` and `c` are drawn.
    last_a = max(i for i, domain in enumerate(domains) if domain == "a")
    assert last_a < 800
    assert Counter(domains) == {"a": 600, "b": 600, "c": 600}


def test_buffered_rows_stay_within_the_buffer(mixed: Catalog) -> None:
    dataset = ReleaseDataset(mixed, "big", seed=1, buffer_size=37)
    assert sum(1 for _ in dataset) == 1800
    assert 0 < dataset.peak_buffered_rows <= 37
    assert all(unit.stop - unit.start <= 37 for unit in dataset.units)


def test_tokenizer_output_replaces_text(released: Catalog) -> None:
    dataset = ReleaseDataset(
        released, "r1", buffer_size=8, tokenizer=lambda text: list(text.encode())
    )
    texts = dict([(row["doc_id"], row["text"]) for row in release_rows(released, "r1").to_pylist()])
    samples = list(dataset)
    assert all("text" not in sample for sample in samples)
    assert all(bytes(s["input_ids"]).decode() == texts[s["doc_id"]] for s in samples)


def test_unknown_release_is_refused_with_the_published_names(released: Catalog) -> None:
    with pytest.raises(ReleaseNotFoundError, match="no release named 'nope'; published: r1"):
        ReleaseDataset(released, "nope")


def test_empty_lakehouse_has_no_release(tmp_path: Path) -> None:
    with pytest.raises(ReleaseNotFoundError, match="none yet"):
        ReleaseDataset(Catalog(str(tmp_path / "lake")), "r1")


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": 1, "zzz": 1}, "unknown domain"),
        ({"a": -1, "b": 1}, "finite and >= 0"),
        ({"a": math.nan}, "finite and >= 0"),
        ({"a": math.inf}, "finite and >= 0"),
        ({"a": 0, "b": 0}, "every domain weight is 0"),
    ],
)
def test_bad_weights_are_refused(released: Catalog, weights: dict, message: str) -> None:
    dataset = ReleaseDataset(released, "r1")
    before = dataset.domain_weights
    with pytest.raises(MixtureWeightsError, match=message):
        dataset.set_domain_weights(weights)
    assert dataset.domain_weights == before
    with pytest.raises(MixtureWeightsError, match=message):
        ReleaseDataset(released, "r1", domain_weights=weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": 1}, "seed=1"),
        ({"buffer_size": 9}, "buffer_size=9"),
        ({"release": "r0"}, "release='r0'"),
        ({"shards": {"0": {"position": 99, "consumed": {"a": 99}}}}, "99 rows of domain a"),
    ],
)
def test_mismatched_state_is_refused(released: Catalog, change: dict, message: str) -> None:
    dataset = ReleaseDataset(released, "r1", seed=0, buffer_size=8)
    next(iter(dataset))
    state = dataset.state_dict() | change
    fresh = ReleaseDataset(released, "r1", seed=0, buffer_size=8)
    with pytest.raises(ResumeStateError, match=message):
        fresh.load_state_dict(state)
        list(fresh)


def test_state_from_other_shard_count_is_refused(released: Catalog) -> None:
    dataset = ReleaseDataset(released, "r1", seed=0, buffer_size=8)
    next(iter(dataset))
    loader = ReleaseDataLoader(
        ReleaseDataset(released, "r1", seed=0, buffer_size=8), batch_size=2, num_workers=2
    )
    loader.load_state_dict(dataset.state_dict())
    with pytest.raises(ResumeStateError, match=r"taken with 1 shards .* this loader has 2"):
        next(iter(loader))
    incomplete = {key: value for key, value in dataset.state_dict().items() if key != "shards"}
    with pytest.raises(ResumeStateError, match="lacks shards"):
        loader.load_state_dict(incomplete)


def test_bad_shard_arguments_are_refused(released: Catalog) -> None:
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, world_size=2\)"):
        ReleaseDataset(released, "r1", rank=2, world_size=2)
    with pytest.raises(ValueError, match="buffer_size must be >= 1"):
        ReleaseDataset(released, "r1", buffer_size=0)
    with pytest.raises(ValueError, match="persistent_workers"):
        ReleaseDataLoader(ReleaseDataset(released, "r1"), num_workers=1, persistent_workers=True)


def read_as_rank(rank: int, root: str, rendezvous: str, out: str) -> None:
    """One process of a 2-process gloo group: read this rank's share of release r1."""
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2
    )
    try:
        dataset = ReleaseDataset(root, "r1", seed=8, buffer_size=4)
        ids = doc_ids(dataset)
        Path(out, f"rank{rank}.txt").write_text(f"{dataset.world_size}\n" + "\n".join(ids))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ranks_come_from_torch_distributed(released: Catalog, tmp_path: Path) -> None:
    torch.multiprocessing.spawn(
        read_as_rank, args=(released.root, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2
    )
    shares = [(tmp_path / f"rank{rank}.txt").read_text().split("\n") for rank in range(2)]
    assert [share[0] for share in shares] == ["2", "2"]
    first, second = shares[0][1:], shares[1][1:]
    assert first and second
    assert not set(first) & set(second)
    assert len(first) + len(second) == ROWS
