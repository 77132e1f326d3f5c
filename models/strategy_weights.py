"""Beta-Bernoulli posterior per trading strategy, with time decay of old evidence.

Each strategy has a Beta(prior_alpha + wins, prior_beta + losses) posterior. Evidence
decays toward the prior: an outcome observed at time t counts 0.5 ** ((now - t) / half_life)
at time `now`. Because that weight is exponential and linear, the state is the same
whatever order outcomes arrive in, so it can always be rebuilt exactly from the outcome log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats


@dataclass
class Evidence:
    """Decayed win and loss counts, valid at `as_of` (seconds since the epoch)."""

    wins: float = 0.0
    losses: float = 0.0
    as_of: float = 0.0
    count: int = 0  # raw number of outcomes, never decayed


@dataclass(frozen=True)
class StrategyPosterior:
    strategy: str
    alpha: float
    beta: float
    mean: float
    lower: float
    upper: float
    outcomes: int


@dataclass
class StrategyWeights:
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    half_life_s: float | None = 7 * 24 * 3600.0  # None: no decay
    credible_level: float = 0.9
    evidence: dict[str, Evidence] = field(default_factory=dict)

    def __post_init__(self):
        if self.prior_alpha <= 0 or self.prior_beta <= 0:
            raise ValueError("prior_alpha and prior_beta must be > 0")
        if self.half_life_s is not None and self.half_life_s <= 0:
            raise ValueError("half_life_s must be > 0, or None for no decay")
        if not 0 < self.credible_level < 1:
            raise ValueError("credible_level must be in (0, 1)")

    def _decay(self, elapsed_s: float) -> float:
        if self.half_life_s is None:
            return 1.0
        return math.pow(0.5, elapsed_s / self.half_life_s)

    def update(self, strategy: str, win: bool, timestamp: float) -> None:
        """Add one outcome observed at `timestamp`; timestamps may arrive out of order."""
        ev = self.evidence.setdefault(strategy, Evidence(as_of=timestamp))
        if timestamp >= ev.as_of:
            factor = self._decay(timestamp - ev.as_of)
            ev.wins, ev.losses, ev.as_of = ev.wins * factor, ev.losses * factor, timestamp
            weight = 1.0
        else:
            weight = self._decay(ev.as_of - timestamp)
        if win:
            ev.wins += weight
        else:
            ev.losses += weight
        ev.count += 1

    def parameters(self, now: float) -> dict[str, tuple[float, float]]:
        """Posterior (alpha, beta) per strategy, evidence decayed to `now`."""
        params = {}
        for name, ev in self.evidence.items():
            factor = self._decay(max(0.0, now - ev.as_of))
            params[name] = (self.prior_alpha + ev.wins * factor, self.prior_beta + ev.losses * factor)
        return params

    def posteriors(self, now: float) -> list[StrategyPosterior]:
        out = []
        for name, (a, b) in sorted(self.parameters(now).items()):
            lower, upper = stats.beta.interval(self.credible_level, a, b)
            out.append(
                StrategyPosterior(name, a, b, a / (a + b), float(lower), float(upper), self.evidence[name].count)
            )
        return out

    def thompson_weights(self, now: float, rng: np.random.Generator) -> dict[str, float]:
        """One Thompson draw per strategy, normalised to sum to 1."""
        params = self.parameters(now)
        if not params:
            return {}
        draws = np.array([rng.beta(a, b) for a, b in params.values()])
        return dict(zip(params, (draws / draws.sum()).tolist()))

    def probability_best(self, now: float, rng: np.random.Generator, samples: int = 4000) -> dict[str, float]:
        """Monte Carlo estimate of P(strategy has the highest win rate)."""
        params = self.parameters(now)
        if not params:
            return {}
        a = np.array([p[0] for p in params.values()])
        b = np.array([p[1] for p in params.values()])
        draws = rng.beta(a, b, size=(samples, len(a)))
        wins = np.bincount(draws.argmax(axis=1), minlength=len(a)) / samples
        return dict(zip(params, wins.tolist()))
