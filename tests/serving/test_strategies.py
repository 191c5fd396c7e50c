"""The three levers' update rules on hand-checked numbers, their composition and error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from serving.strategies import (
    Composite,
    ExcessLossMixing,
    ExcessMixingConfig,
    LossReport,
    LossReweighting,
    LossSelection,
    MixtureConfig,
    OnlineDataMixing,
    ReweightingConfig,
    SelectionConfig,
    StrategyInputError,
)


def report(losses: list[float], domains: list[str] | None = None, **kwargs: object) -> LossReport:
    ids = [f"d{i}" for i in range(len(losses))]
    return LossReport(1, ids, domains or ["a"] * len(losses), np.array(losses), **kwargs)


def test_selection_by_excess_loss_keeps_what_the_reference_model_finds_learnable() -> None:
    # Excess losses: 0.5, 0.8, 0.1, 0.4 → the top half is samples 1 and 0.
    batch = report([2.0, 1.0, 3.0, 0.5], reference_losses=np.array([1.5, 0.2, 2.9, 0.1]))
    decision = LossSelection(SelectionConfig(keep_fraction=0.5)).update(batch)
    assert decision.keep.tolist() == [True, True, False, False]
    assert decision.domain_weights is None and decision.loss_weights is None


def test_selection_by_loss_keeps_the_highest_losses_rounding_up() -> None:
    selection = LossSelection(SelectionConfig(keep_fraction=0.3, signal="loss"))
    # ceil(0.3 × 4) = 2 kept: the losses 3.0 and 2.0.
    assert selection.update(report([2.0, 1.0, 3.0, 0.5])).keep.tolist() == [
        True,
        False,
        True,
        False,
    ]
    # Ties keep batch order.
    assert selection.update(report([1.0, 1.0, 1.0])).keep.tolist() == [True, False, False]
    assert selection.state_dict() == {"selected": 3, "seen": 7}


def test_online_data_mixing_exp3_update_by_hand() -> None:
    mixing = OnlineDataMixing(["a", "b"], MixtureConfig(smoothing=0.9))
    # Step 1: ε_1 = min(1/2, sqrt(ln 2 / 2)) = 1/2, so π is uniform.
    assert mixing.weights() == {"a": 0.5, "b": 0.5}
    decision = mixing.update(
        LossReport(1, ["x", "y", "z"], ["a", "a", "b"], np.array([2.0, 4.0, 1.0]))
    )
    # R_a = 0.1 × 3.0 / 0.5 = 0.6; R_b = 0.1 × 1.0 / 0.5 = 0.2.
    assert mixing.rewards == pytest.approx({"a": 0.6, "b": 0.2})
    # Step 2: ε_2 = sqrt(ln 2 / 4) = 0.416277; softmax(0.5 × R) = (0.549834, 0.450166);
    # π_a = (1 − 2 × 0.416277) × 0.549834 + 0.416277 = 0.508344.
    assert decision.domain_weights == pytest.approx({"a": 0.508344, "b": 0.491656}, abs=1e-6)
    assert mixing.exploration(2) == pytest.approx(0.416277, abs=1e-6)
    # A domain absent from the batch keeps its reward.
    mixing.update(LossReport(2, ["w"], ["a"], np.array([1.0])))
    assert mixing.rewards["b"] == pytest.approx(0.2)
    assert mixing.rewards["a"] == pytest.approx(0.9 * 0.6 + 0.1 * 1.0 / 0.508344, abs=1e-6)


def test_online_data_mixing_shifts_weight_to_the_domain_with_higher_loss() -> None:
    mixing = OnlineDataMixing(["easy", "hard"])
    for step in range(1, 200):
        mixing.update(LossReport(step, ["x", "y"], ["easy", "hard"], np.array([0.5, 3.0])))
    weights = mixing.weights()
    # EXP3's learning rate is ε_t (≈ 0.04 by step 200), so the shift is gradual.
    assert weights["hard"] > 0.53 > 0.47 > weights["easy"]
    # Exploration keeps every domain drawable.
    assert weights["easy"] >= mixing.exploration(mixing.step)


def test_online_data_mixing_state_round_trips() -> None:
    mixing = OnlineDataMixing(["a", "b"])
    mixing.update(LossReport(1, ["x"], ["a"], np.array([2.0])))
    restored = OnlineDataMixing(["a", "b"])
    restored.load_state_dict(mixing.state_dict())
    assert restored.weights() == mixing.weights()
    with pytest.raises(StrategyInputError, match="mixture state has domains"):
        OnlineDataMixing(["a", "c"]).load_state_dict(mixing.state_dict())


def test_excess_loss_mixing_update_by_hand() -> None:
    config = ExcessMixingConfig(learning_rate=2.0, smoothing=0.5, exploration=0.1)
    mixing = ExcessLossMixing(["a", "b"], config, prior={"a": 3, "b": 1})
    # No signal yet: the prior (0.75, 0.25) with the floor: 0.9 × 0.75 + 0.1 / 2 = 0.725.
    assert mixing.weights() == pytest.approx({"a": 0.725, "b": 0.275})
    decision = mixing.update(
        LossReport(
            1,
            ["x", "y", "z", "v"],
            ["a", "a", "b", "b"],
            np.array([2.0, 4.0, 1.0, 1.0]),
            reference_losses=np.array([1.5, 3.0, 1.8, 0.4]),
        )
    )
    # Excess a: mean(0.5, 1.0) = 0.75; b: mean(−0.8, 0.6) = −0.1, clipped to 0 (clipping each
    # sample would give 0.3). E = 0.5 × old + 0.5 × new.
    assert mixing.excess == pytest.approx({"a": 0.375, "b": 0.0})
    # 0.75 e^(2 × 0.375) = 1.587750 against 0.25: a gets 0.863964 before the floor,
    # 0.9 × 0.863964 + 0.05 = 0.827568 after it.
    assert decision.domain_weights == pytest.approx({"a": 0.827568, "b": 0.172432}, abs=1e-6)
    # A domain absent from the batch keeps its estimate.
    mixing.update(LossReport(2, ["w"], ["b"], np.array([3.0]), reference_losses=np.array([1.0])))
    assert mixing.excess == pytest.approx({"a": 0.375, "b": 1.0})
    # 1.587750 against 0.25 e^2 = 1.847264: a 0.462225 before the floor.
    assert mixing.weights() == pytest.approx({"a": 0.466003, "b": 0.533997}, abs=1e-6)


def test_excess_loss_mixing_starves_what_the_reference_cannot_learn_either() -> None:
    # "junk": the model's loss is no higher than the reference model's (nothing learnable left);
    # "text": the model is 0.3 nats behind the reference. Prior: the release's shares.
    mixing = ExcessLossMixing(["junk", "text"], prior={"junk": 1, "text": 9})
    for step in range(1, 30):
        mixing.update(
            LossReport(
                step,
                ["x", "y"],
                ["junk", "text"],
                np.array([5.0, 2.3]),
                reference_losses=np.array([5.5, 2.0]),
            )
        )
    weights = mixing.weights()
    # E_text → 0.3 (0.9^29 ≈ 0.05 of the way left), so text's odds grow by about e^(8 × 0.285).
    assert weights["junk"] < 0.04 < 0.1 < 0.96 < weights["text"]
    # The floor keeps every domain drawable: ε / K.
    assert weights["junk"] >= 0.05 / 2


def test_excess_loss_mixing_state_round_trips() -> None:
    mixing = ExcessLossMixing(["a", "b"])
    mixing.update(LossReport(1, ["x"], ["a"], np.array([2.0]), reference_losses=np.array([1.0])))
    restored = ExcessLossMixing(["a", "b"])
    restored.load_state_dict(mixing.state_dict())
    assert restored.weights() == mixing.weights() != ExcessLossMixing(["a", "b"]).weights()
    with pytest.raises(StrategyInputError, match="mixture state has domains"):
        ExcessLossMixing(["a", "c"]).load_state_dict(mixing.state_dict())


def test_reweighting_by_hand_bounded_and_mean_one() -> None:
    default = LossReweighting().update(report([1.0, 2.0, 3.0])).loss_weights
    # exp(−1, 0, 1) = (0.367879, 1, 2.718282) within [0.25, 4]; their mean is 1.362054.
    assert default.tolist() == pytest.approx([0.270092, 0.734185, 1.995723], abs=1e-5)
    bounded = LossReweighting(ReweightingConfig(min_weight=0.5, max_weight=2.0))
    weights = bounded.update(report([1.0, 2.0, 3.0])).loss_weights
    # Clipped to (0.5, 1, 2), mean 7/6.
    assert weights.tolist() == pytest.approx([3 / 7, 6 / 7, 12 / 7])
    assert weights.mean() == pytest.approx(1.0)
    assert weights.max() / weights.min() <= 2.0 / 0.5 + 1e-12


def test_composite_intersects_masks_and_renormalizes_over_kept_samples() -> None:
    composite = Composite(
        [
            LossSelection(SelectionConfig(keep_fraction=2 / 3, signal="loss")),
            LossReweighting(ReweightingConfig(min_weight=0.5, max_weight=2.0)),
            OnlineDataMixing(["a", "b"]),
        ]
    )
    decision = composite.update(report([1.0, 2.0, 3.0], domains=["a", "b", "b"]))
    assert decision.keep.tolist() == [False, True, True]
    # (0.5, 1, 2) reweighting, sample 0 dropped: (0, 1, 2) scaled to mean 1 over the kept two.
    assert decision.loss_weights.tolist() == pytest.approx([0.0, 2 / 3, 4 / 3])
    assert set(decision.domain_weights) == {"a", "b"}
    assert composite.name == "selection+reweighting+mixture"
    state = composite.state_dict()
    assert state["selection"] == {"selected": 2, "seen": 3}
    with pytest.raises(StrategyInputError, match="lacks mixture"):
        composite.load_state_dict({"selection": {}, "reweighting": {}})


def test_uniform_composite_changes_nothing() -> None:
    decision = Composite([]).update(report([1.0, 5.0]))
    assert decision.keep.tolist() == [True, True]
    assert decision.loss_weights.tolist() == [1.0, 1.0]
    assert decision.domain_weights is None


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LossReport(1, ["x", "y"], ["a"], np.array([1.0, 2.0])), "2 doc ids, 1 domains"),
        (lambda: report([1.0, math.nan]), "NaN or infinite"),
        (lambda: report([1.0], reference_losses=np.array([1.0, 2.0])), "one per sample"),
    ],
)
def test_malformed_reports_are_refused(build: object, message: str) -> None:
    with pytest.raises(StrategyInputError, match=message):
        build()  # type: ignore[operator]


def test_strategies_refuse_what_they_cannot_use() -> None:
    with pytest.raises(StrategyInputError, match="needs reference_losses"):
        LossSelection().update(report([1.0, 2.0]))
    with pytest.raises(StrategyInputError, match=r"domains \['zzz'\]"):
        OnlineDataMixing(["a"]).update(report([1.0], domains=["zzz"]))
    with pytest.raises(StrategyInputError, match="at least one domain"):
        OnlineDataMixing([])
    with pytest.raises(StrategyInputError, match="excess-loss mixing needs reference_losses"):
        ExcessLossMixing(["a"]).update(report([1.0]))
    with pytest.raises(StrategyInputError, match=r"domains \['zzz'\]"):
        ExcessLossMixing(["a"]).update(report([1.0], domains=["zzz"], reference_losses=[0.5]))
    with pytest.raises(StrategyInputError, match="positive finite weight"):
        ExcessLossMixing(["a", "b"], prior={"a": 1.0, "b": 0.0})
    with pytest.raises(StrategyInputError, match="positive finite weight"):
        ExcessLossMixing(["a", "b"], prior={"a": 1.0})
    with pytest.raises(StrategyInputError, match="must differ"):
        Composite([LossSelection(), LossSelection()])


def test_bad_configs_name_the_field() -> None:
    with pytest.raises(ValidationError, match="keep_fraction"):
        SelectionConfig(keep_fraction=0)
    with pytest.raises(ValidationError, match=r"min_weight 3\.0 is above max_weight 2\.0"):
        ReweightingConfig(min_weight=3.0, max_weight=2.0)
    with pytest.raises(ValidationError, match="smoothing"):
        MixtureConfig(smoothing=1.0)
    with pytest.raises(ValidationError, match="exploration"):
        ExcessMixingConfig(exploration=1.5)
    with pytest.raises(ValidationError, match="typo"):
        SelectionConfig(typo=1)  # type: ignore[call-arg]
