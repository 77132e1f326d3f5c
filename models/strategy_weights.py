"""Beta-Bernoulli posterior per trading strategy, with time decay of old evidence.

Each strategy has a Beta(prior_alpha + wins, prior_beta + losses) posterior. Evidence
decays toward the prior: an outcome observed at time t counts 0.5 ** ((now - t) / half_life)
at time `now`. Because that weight is exponential and linear, the state is the same
whatever order outcomes arrive in, so it is a sum over the outcome log: the served graph
computes it there (store.Store.strategy_evidence), simulations keep it here (StrategyWeights).

What is served per strategy (`summarise`): the posterior mean, its credible interval and
P(best), the probability that it has the highest win rate, which is the share of plays
Thompson sampling gives it. A single Thompson draw is noise (`thompson_draw`, on request).
Where outcomes carry the trade's R multiple, the decayed mean R (the expected payoff per
trade) comes with a Student-t interval on the effective sample size of the decayed weights
(the variance with a prior of 1 R^2 counted as one outcome), and P(best payoff), the
probability that it has the highest mean R under those t distributions: win rate alone ranks a 55 %-win 1:1 strategy above a 40 %-win 3:1 one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

# Per strategy: (decayed wins, decayed losses, number of outcomes).
Evidence = dict[str, tuple[float, float, int]]
PRIOR_R_VARIANCE = 1.0  # R^2: a stop-out at -1R against a win at +1R
MIN_R_OUTCOMES = 5  # effective outcomes before a payoff gets an interval and a P(best)


@dataclass(frozen=True)
class PayoffSums:
    """Decayed sums over the outcomes of one strategy that carried an R multiple r, each
    weighing w: sum w, sum w r, sum w r^2, sum w^2, and how many outcomes."""

    weight: float
    weighted_r: float
    weighted_r2: float
    weight2: float
    count: int

    def moments(self) -> tuple[float, float, float] | None:
        """(mean R, its standard error, effective sample size); None without R outcomes. The
        variance counts a prior of PRIOR_R_VARIANCE as one more outcome, so a few identical
        payoffs (a fixed +2R target) are not taken as certain; the standard error is infinite
        below MIN_R_OUTCOMES effective outcomes."""
        if self.count == 0 or self.weight <= 0:
            return None
        mean = self.weighted_r / self.weight
        n_eff = self.weight ** 2 / self.weight2 if self.weight2 > 0 else 0.0
        spread = max(self.weighted_r2 / self.weight - mean ** 2, 0.0) * n_eff  # sum of squares, effective
        variance = (spread + PRIOR_R_VARIANCE) / n_eff if n_eff > 0 else math.inf
        se = math.sqrt(variance / n_eff) if n_eff >= MIN_R_OUTCOMES else math.inf
        return mean, se, n_eff


Payoffs = dict[str, PayoffSums]


@dataclass(frozen=True)
class StrategyPosterior:
    strategy: str
    alpha: float
    beta: float
    mean: float
    lower: float
    upper: float
    outcomes: int
    probability_best: float
    expected_r: float | None = None
    expected_r_lower: float | None = None
    expected_r_upper: float | None = None
    r_outcomes: int = 0
    probability_best_r: float | None = None


def beta_parameters(evidence: Evidence, prior_alpha: float, prior_beta: float) -> dict[str, tuple[float, float]]:
    return {name: (prior_alpha + wins, prior_beta + losses) for name, (wins, losses, _) in evidence.items()}


def probability_best(params: dict[str, tuple[float, float]], rng: np.random.Generator,
                     samples: int = 4000) -> dict[str, float]:
    """Monte Carlo estimate of P(strategy has the highest win rate)."""
    if not params:
        return {}
    a, b = (np.array([p[i] for p in params.values()]) for i in (0, 1))
    draws = rng.beta(a, b, size=(samples, len(a)))
    return dict(zip(params, (np.bincount(draws.argmax(axis=1), minlength=len(a)) / samples).tolist()))


def thompson_draw(params: dict[str, tuple[float, float]], rng: np.random.Generator) -> dict[str, float]:
    """One draw of each strategy's win rate: what a Thompson sampler acts on once."""
    return {name: float(rng.beta(a, b)) for name, (a, b) in params.items()}


def payoff_summary(payoffs: Payoffs, credible_level: float, rng: np.random.Generator,
                   samples: int = 4000) -> dict[str, tuple[float, float | None, float | None, float | None]]:
    """Per strategy with R outcomes: (mean R, interval low, high, P(best mean R)). The interval
    and P(best) need MIN_R_OUTCOMES effective outcomes; P(best) is over the strategies that have
    them, drawn from the same Student-t the interval uses."""
    moments = {name: m for name, sums in payoffs.items() if (m := sums.moments()) is not None}
    ranked = {name: m for name, m in moments.items() if math.isfinite(m[1])}
    best = {}
    if ranked:
        means, ses, n_effs = (np.array([m[i] for m in ranked.values()]) for i in (0, 1, 2))
        draws = means + ses * rng.standard_t(n_effs - 1, size=(samples, len(means)))
        best = dict(zip(ranked, (np.bincount(draws.argmax(axis=1), minlength=len(means)) / samples).tolist()))
    out = {}
    for name, (mean, se, n_eff) in moments.items():
        if name in ranked:
            half = float(stats.t.ppf(0.5 + credible_level / 2, n_eff - 1)) * se
            out[name] = (mean, mean - half, mean + half, best[name])
        else:
            out[name] = (mean, None, None, None)
    return out


def summarise(evidence: Evidence, prior_alpha: float = 1.0, prior_beta: float = 1.0, credible_level: float = 0.9,
              samples: int = 4000, seed: int = 0, payoffs: Payoffs | None = None) -> list[StrategyPosterior]:
    """The served answer, sorted by strategy. P(best) uses a fixed seed, so the same evidence
    always gives the same figures (its Monte Carlo error is about 0.5/sqrt(samples)). P(best)
    ranks win rates; `payoffs` adds each strategy's expected R multiple with its interval and
    P(best payoff), which rank what a trade earns."""
    payoffs = payoffs or {}
    params = beta_parameters(evidence, prior_alpha, prior_beta)
    rng = np.random.default_rng(seed)
    best = probability_best(params, rng, samples)
    earned = payoff_summary(payoffs, credible_level, rng, samples)
    out = []
    for name in sorted(params):
        a, b = params[name]
        lower, upper = stats.beta.interval(credible_level, a, b)
        mean_r, r_low, r_high, best_r = earned.get(name, (None, None, None, None))
        out.append(StrategyPosterior(name, a, b, a / (a + b), float(lower), float(upper), evidence[name][2],
                                     best[name], mean_r, r_low, r_high,
                                     payoffs[name].count if name in payoffs else 0, best_r))
    return out


@dataclass
class _Decayed:
    """Decayed win and loss counts, valid at `as_of` (seconds since the epoch)."""

    wins: float = 0.0
    losses: float = 0.0
    as_of: float = 0.0
    count: int = 0  # raw number of outcomes, never decayed


@dataclass
class StrategyWeights:
    """The posteriors kept in memory and updated one outcome at a time (for simulations)."""

    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    half_life_s: float | None = 7 * 24 * 3600.0  # None: no decay
    credible_level: float = 0.9
    decayed: dict[str, _Decayed] = field(default_factory=dict)

    def __post_init__(self):
        if self.prior_alpha <= 0 or self.prior_beta <= 0:
            raise ValueError("prior_alpha and prior_beta must be > 0")
        if self.half_life_s is not None and self.half_life_s <= 0:
            raise ValueError("half_life_s must be > 0, or None for no decay")
        if not 0 < self.credible_level < 1:
            raise ValueError("credible_level must be in (0, 1)")

    def _decay(self, elapsed_s: float) -> float:
        return 1.0 if self.half_life_s is None else math.pow(0.5, elapsed_s / self.half_life_s)

    def update(self, strategy: str, win: bool, timestamp: float) -> None:
        """Add one outcome observed at `timestamp`; timestamps may arrive out of order."""
        ev = self.decayed.setdefault(strategy, _Decayed(as_of=timestamp))
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

    def evidence(self, now: float) -> Evidence:
        """Decayed counts at `now`, in the form the outcome log gives them."""
        out = {}
        for name, ev in self.decayed.items():
            factor = self._decay(max(0.0, now - ev.as_of))
            out[name] = (ev.wins * factor, ev.losses * factor, ev.count)
        return out

    def parameters(self, now: float) -> dict[str, tuple[float, float]]:
        """Posterior (alpha, beta) per strategy, evidence decayed to `now`."""
        return beta_parameters(self.evidence(now), self.prior_alpha, self.prior_beta)

    def posteriors(self, now: float, samples: int = 4000, seed: int = 0) -> list[StrategyPosterior]:
        return summarise(self.evidence(now), self.prior_alpha, self.prior_beta, self.credible_level, samples, seed)
