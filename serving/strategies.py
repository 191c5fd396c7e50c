"""The three levers of data–model interaction, behind one small interface.

After each step the trainer reports what the model made of the batch (`LossReport`: per-sample
losses with doc ids and domains, optionally a reference model's losses); a strategy answers with
a `Decision`: the next sampling weights per domain, and/or per-sample loss weights, and/or a
keep mask. Strategies are pure functions of their config, their state and the reports they have
seen, so a run replays exactly from the consumption log and `state_dict()`.

- `LossSelection` (selection): keep the samples with the highest learning signal — the excess
  loss over a reference model (RHO-LOSS, Mindermann et al. 2022) or the plain loss.
- `OnlineDataMixing` (mixture): EXP3 over domains with the loss as reward (Online Data Mixing,
  Albalak et al. 2023).
- `ExcessLossMixing` (mixture): domain weights from each domain's learnable excess loss over a
  reference model, DoReMi's signal (Xie et al. 2023) used online, around a prior mixture.
- `LossReweighting` (reweighting): per-sample loss weights from the loss, bounded and normalized
  to mean 1.
- `Composite` applies several in turn: masks are intersected, loss weights multiplied and
  renormalized over the kept samples, domain weights taken from the last strategy giving them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrategyInputError(ValueError):
    """A loss report a strategy cannot use."""


@dataclass(frozen=True)
class LossReport:
    """What the model made of one batch: loss per sample (mean token loss, nats)."""

    step: int
    doc_ids: Sequence[str]
    domains: Sequence[str]
    losses: np.ndarray
    reference_losses: np.ndarray | None = None

    def __post_init__(self) -> None:
        losses = np.asarray(self.losses, dtype=np.float64)
        object.__setattr__(self, "losses", losses)
        if not (len(self.doc_ids) == len(self.domains) == len(losses)):
            raise StrategyInputError(
                f"report of step {self.step}: {len(self.doc_ids)} doc ids, {len(self.domains)} "
                f"domains and {len(losses)} losses; give one of each per sample"
            )
        if not np.all(np.isfinite(losses)):
            raise StrategyInputError(f"report of step {self.step}: a loss is NaN or infinite")
        if self.reference_losses is not None:
            reference = np.asarray(self.reference_losses, dtype=np.float64)
            if reference.shape != losses.shape or not np.all(np.isfinite(reference)):
                raise StrategyInputError(
                    f"report of step {self.step}: reference losses must be finite, one per sample"
                )
            object.__setattr__(self, "reference_losses", reference)


@dataclass(frozen=True)
class Decision:
    """A strategy's answer; None where it has no opinion."""

    domain_weights: dict[str, float] | None = None
    loss_weights: np.ndarray | None = None
    keep: np.ndarray | None = None


class Strategy(Protocol):
    """Reads a step's losses, decides the next sampling and loss weights."""

    name: str

    def update(self, report: LossReport) -> Decision:
        """Decision for the batch reported (keep, loss weights) and the next draws (domains)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state, enough to continue exactly."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a saved state."""
        ...


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectionConfig(_Config):
    """Which samples of a batch are trained on."""

    keep_fraction: float = Field(0.5, gt=0, le=1, description="share of the batch kept")
    signal: Literal["excess_loss", "loss"] = Field(
        "excess_loss", description="excess_loss: loss minus the reference model's (RHO-LOSS)"
    )


class LossSelection:
    """Selection: keep the `keep_fraction` of a batch with the highest signal (ceil, ties in
    batch order)."""

    name = "selection"

    def __init__(self, config: SelectionConfig | None = None):
        self.config = config or SelectionConfig()
        self.selected = 0
        self.seen = 0

    def signal(self, report: LossReport) -> np.ndarray:
        """Per-sample signal: excess loss over the reference model, or the loss itself."""
        if self.config.signal == "loss":
            return report.losses
        if report.reference_losses is None:
            raise StrategyInputError(
                "selection by excess_loss needs reference_losses in the report; give a "
                "reference model's losses or use signal='loss'"
            )
        return report.losses - report.reference_losses

    def update(self, report: LossReport) -> Decision:
        """Keep mask of the top `keep_fraction` by signal."""
        signal = self.signal(report)
        keep = np.zeros(len(signal), dtype=bool)
        count = math.ceil(self.config.keep_fraction * len(signal))
        keep[np.argsort(-signal, kind="stable")[:count]] = True
        self.selected += count
        self.seen += len(signal)
        return Decision(keep=keep)

    def state_dict(self) -> dict[str, Any]:
        """Counters only: selection has no memory between batches."""
        return {"selected": self.selected, "seen": self.seen}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the counters."""
        self.selected, self.seen = int(state["selected"]), int(state["seen"])


def _fold_domain_means(
    estimates: dict[str, float],
    values: np.ndarray,
    domains: Sequence[str],
    alpha: float,
    signal: Callable[[str, float], float],
) -> None:
    """For each domain in the batch: E_d ← α E_d + (1 − α) signal(d, mean of its values)."""
    labels = np.asarray(domains)
    for domain in estimates:
        members = values[labels == domain]
        if len(members):
            observed = signal(domain, float(members.mean()))
            estimates[domain] = alpha * estimates[domain] + (1 - alpha) * observed


def _check_state_domains(saved: Mapping[str, Any], domains: Sequence[str]) -> None:
    """A mixture's saved state must cover exactly the mixture's domains."""
    if sorted(saved) != sorted(domains):
        raise StrategyInputError(
            f"mixture state has domains {sorted(saved)}, this mixture {sorted(domains)}"
        )


class MixtureConfig(_Config):
    """Online Data Mixing: EXP3 over domains with the training loss as reward."""

    smoothing: float = Field(
        0.9, ge=0, lt=1, description="α: weight of the old reward in the moving average"
    )
    min_exploration: float = Field(
        0.0, ge=0, le=1, description="floor of the exploration rate ε_t (0: the paper's decay)"
    )


class OnlineDataMixing:
    """Mixture: EXP3 with a decaying exploration rate, as in Online Data Mixing.

    With K domains and step t (from 1): ε_t = max(min_exploration, min(1/K, sqrt(ln K / (K t)))),
    π_t(i) = (1 − K ε_t) · softmax(ε_{t−1} R)_i + ε_t. After a step, every domain i present in
    the batch with mean loss L_i gets R_i ← α R_i + (1 − α) L_i / π_t(i) (importance weighted by
    the probability it was drawn with).
    """

    name = "mixture"

    def __init__(self, domains: Sequence[str], config: MixtureConfig | None = None):
        if not domains:
            raise StrategyInputError("online data mixing needs at least one domain")
        self.config = config or MixtureConfig()
        self.domains = list(domains)
        self.rewards = dict.fromkeys(self.domains, 0.0)
        self.step = 1

    def exploration(self, step: int) -> float:
        """ε_step (1/K at step 0)."""
        k = len(self.domains)
        decay = 1 / k if step <= 0 or k == 1 else math.sqrt(math.log(k) / (k * step))
        return min(1 / k, max(self.config.min_exploration, decay))

    def weights(self) -> dict[str, float]:
        """π for the current step: the sampling weights to draw the next batch with."""
        k = len(self.domains)
        epsilon = self.exploration(self.step)
        scaled = np.array([self.rewards[d] for d in self.domains]) * self.exploration(self.step - 1)
        softmax = np.exp(scaled - scaled.max())
        softmax /= softmax.sum()
        mixed = (1 - k * epsilon) * softmax + epsilon
        return dict(zip(self.domains, mixed.tolist(), strict=True))

    def update(self, report: LossReport) -> Decision:
        """Fold the batch's per-domain losses into the rewards; the next step's weights."""
        unknown = sorted(set(report.domains) - set(self.domains))
        if unknown:
            raise StrategyInputError(
                f"report of step {report.step} has domains {unknown} the mixture does not know"
            )
        drawn_with = self.weights()
        _fold_domain_means(
            self.rewards,
            report.losses,
            report.domains,
            self.config.smoothing,
            lambda domain, mean: mean / drawn_with[domain],
        )
        self.step += 1
        return Decision(domain_weights=self.weights())

    def state_dict(self) -> dict[str, Any]:
        """Step, rewards and the weights they give."""
        return {"step": self.step, "rewards": dict(self.rewards), "weights": self.weights()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore step and rewards."""
        _check_state_domains(state["rewards"], self.domains)
        self.step = int(state["step"])
        self.rewards = {d: float(state["rewards"][d]) for d in self.domains}


class ExcessMixingConfig(_Config):
    """Excess-loss mixing: how strongly and how fast the weights follow the excess loss."""

    learning_rate: float = Field(
        8.0, gt=0, description="η: log-weight gained per nat of smoothed excess loss"
    )
    smoothing: float = Field(
        0.9, ge=0, lt=1, description="α: weight of the old estimate in the moving average"
    )
    exploration: float = Field(
        0.05, ge=0, le=1, description="ε: share of the weights spread evenly over the domains"
    )


class ExcessLossMixing:
    """Mixture: weights ∝ prior · exp(η · smoothed excess loss), with an even floor.

    After a step, every domain i present in the batch gets its samples' mean excess loss, clipped
    at zero, e_i = max(mean(L − L_ref), 0) (DoReMi's per-domain signal: what the model has still
    to learn that the reference model shows to be learnable), and E_i ← α E_i + (1 − α) e_i;
    a domain absent from the batch keeps its estimate (its mean over present samples is already
    an unbiased per-domain estimate, so no importance weighting is needed). The mean is clipped,
    not each sample as DoReMi clips each token: a domain of junk whose samples the model fits
    now better, now worse than the reference model then scores zero instead of its positive half.
    The next weights are π_i = (1 − ε) · prior_i exp(η E_i) / Z + ε / K. With no signal yet
    (E = 0) π is the prior (e.g. the release's own domain shares, i.e. uniform over documents) up
    to the floor.
    """

    name = "mixture"

    def __init__(
        self,
        domains: Sequence[str],
        config: ExcessMixingConfig | None = None,
        prior: Mapping[str, float] | None = None,
    ):
        if not domains:
            raise StrategyInputError("excess-loss mixing needs at least one domain")
        self.config = config or ExcessMixingConfig()
        self.domains = list(domains)
        prior = dict.fromkeys(self.domains, 1.0) if prior is None else dict(prior)
        if sorted(prior) != sorted(self.domains) or not all(
            math.isfinite(w) and w > 0 for w in prior.values()
        ):
            raise StrategyInputError(
                f"the prior must give a positive finite weight to each of {sorted(self.domains)}, "
                f"got {prior}"
            )
        total = sum(prior.values())
        self.prior = {d: prior[d] / total for d in self.domains}
        self.excess = dict.fromkeys(self.domains, 0.0)
        self.steps = 0

    def weights(self) -> dict[str, float]:
        """π: the sampling weights to draw the next batch with."""
        config = self.config
        logits = np.array(
            [math.log(self.prior[d]) + config.learning_rate * self.excess[d] for d in self.domains]
        )
        tilted = np.exp(logits - logits.max())
        tilted /= tilted.sum()
        mixed = (1 - config.exploration) * tilted + config.exploration / len(self.domains)
        return dict(zip(self.domains, mixed.tolist(), strict=True))

    def update(self, report: LossReport) -> Decision:
        """Fold the batch's per-domain clipped excess losses in; the next step's weights."""
        unknown = sorted(set(report.domains) - set(self.domains))
        if unknown:
            raise StrategyInputError(
                f"report of step {report.step} has domains {unknown} the mixture does not know"
            )
        if report.reference_losses is None:
            raise StrategyInputError(
                "excess-loss mixing needs reference_losses in the report; give a reference "
                "model's losses or use OnlineDataMixing"
            )
        excess = report.losses - report.reference_losses
        _fold_domain_means(
            self.excess,
            excess,
            report.domains,
            self.config.smoothing,
            lambda _domain, mean: max(mean, 0.0),
        )
        self.steps += 1
        return Decision(domain_weights=self.weights())

    def state_dict(self) -> dict[str, Any]:
        """Steps, smoothed excess losses and the weights they give."""
        return {"steps": self.steps, "excess": dict(self.excess), "weights": self.weights()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore steps and excess-loss estimates."""
        _check_state_domains(state["excess"], self.domains)
        self.steps = int(state["steps"])
        self.excess = {d: float(state["excess"][d]) for d in self.domains}


class ReweightingConfig(_Config):
    """Per-sample loss weights from the sample's loss."""

    temperature: float = Field(1.0, gt=0, description="τ: loss difference (nats) per e-fold")
    min_weight: float = Field(0.25, gt=0, description="lower bound before normalizing")
    max_weight: float = Field(4.0, gt=0, description="upper bound before normalizing")

    @model_validator(mode="after")
    def _ordered(self) -> ReweightingConfig:
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight {self.min_weight} is above max_weight {self.max_weight}")
        return self


class LossReweighting:
    """Reweighting: w_i = clip(exp((L_i − mean L) / τ), min, max), divided by its mean.

    The weights average exactly 1, so the loss scale is unchanged; their ratio is at most
    max_weight / min_weight.
    """

    name = "reweighting"

    def __init__(self, config: ReweightingConfig | None = None):
        self.config = config or ReweightingConfig()
        self.steps = 0

    def update(self, report: LossReport) -> Decision:
        """Loss weights of the batch's samples."""
        losses = report.losses
        if not len(losses):
            return Decision(loss_weights=losses.copy())
        raw = np.exp((losses - losses.mean()) / self.config.temperature)
        bounded = np.clip(raw, self.config.min_weight, self.config.max_weight)
        self.steps += 1
        return Decision(loss_weights=bounded / bounded.mean())

    def state_dict(self) -> dict[str, Any]:
        """Steps seen; reweighting has no memory between batches."""
        return {"steps": self.steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the step counter."""
        self.steps = int(state["steps"])


class Composite:
    """Several strategies at once (e.g. selection and reweighting)."""

    def __init__(self, strategies: Sequence[Strategy]):
        names = [strategy.name for strategy in strategies]
        if len(set(names)) != len(names):
            raise StrategyInputError(f"strategies must differ, got {names}")
        self.strategies = list(strategies)
        self.name = "+".join(names) or "uniform"

    def update(self, report: LossReport) -> Decision:
        """Every strategy's decision, combined."""
        size = len(report.losses)
        keep = np.ones(size, dtype=bool)
        loss_weights = np.ones(size)
        domain_weights = None
        for strategy in self.strategies:
            decision = strategy.update(report)
            if decision.keep is not None:
                keep &= decision.keep
            if decision.loss_weights is not None:
                loss_weights = loss_weights * decision.loss_weights
            if decision.domain_weights is not None:
                domain_weights = decision.domain_weights
        loss_weights = np.where(keep, loss_weights, 0.0)
        if keep.any():
            loss_weights = loss_weights * keep.sum() / loss_weights.sum()
        return Decision(domain_weights=domain_weights, loss_weights=loss_weights, keep=keep)

    def state_dict(self) -> dict[str, Any]:
        """Each strategy's state under its name."""
        return {strategy.name: strategy.state_dict() for strategy in self.strategies}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore each strategy from its entry."""
        missing = sorted({strategy.name for strategy in self.strategies} - set(state))
        if missing:
            raise StrategyInputError(f"strategy state lacks {', '.join(missing)}")
        for strategy in self.strategies:
            strategy.load_state_dict(state[strategy.name])
