"""Simulated strategies for the bandit: how well each policy finds the best one.

K strategies win with Bernoulli rates; each step a policy picks one, sees the win or loss and
learns. Regret is the best rate minus the picked one's (expected regret), summed over steps.
Policies: Thompson sampling on the project's own posterior (models.strategy_weights), with
and without decay of old evidence, UCB1, epsilon-greedy and uniform choice. Scenarios:
stationary rates, and a switch point where the best strategy changes.

    investiq evaluate-bandit --seeds 200 --steps 1000 --out reports/bandit
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.strategy_weights import StrategyWeights


@dataclass(frozen=True)
class Scenario:
    name: str
    rates: tuple[float, ...]  # win rate of each strategy
    switch_at: int | None = None  # from this step on, the rates are `rates_after`
    rates_after: tuple[float, ...] | None = None

    def rates_at(self, step: int) -> np.ndarray:
        after = self.switch_at is not None and step >= self.switch_at
        return np.asarray(self.rates_after if after else self.rates)


STATIONARY = Scenario("stationary", (0.45, 0.50, 0.55, 0.60))
SWITCH = Scenario("switch at 500", (0.45, 0.50, 0.55, 0.65), switch_at=500, rates_after=(0.65, 0.50, 0.55, 0.45))


class Thompson:
    """One Beta draw per strategy from the project's posterior; play the largest."""

    def __init__(self, k: int, rng: np.random.Generator, half_life: float | None = None):
        self.k, self.rng = k, rng
        self.model = StrategyWeights(half_life_s=half_life)

    def choose(self, step: int) -> int:
        params = self.model.parameters(float(step))
        a = np.array([params.get(str(i), (self.model.prior_alpha, self.model.prior_beta))[0] for i in range(self.k)])
        b = np.array([params.get(str(i), (self.model.prior_alpha, self.model.prior_beta))[1] for i in range(self.k)])
        return int(np.argmax(self.rng.beta(a, b)))

    def learn(self, step: int, arm: int, win: bool) -> None:
        self.model.update(str(arm), win, float(step))


class UCB1:
    def __init__(self, k: int, rng: np.random.Generator):
        self.wins, self.plays = np.zeros(k), np.zeros(k)

    def choose(self, step: int) -> int:
        if (self.plays == 0).any():
            return int(np.argmin(self.plays))
        return int(np.argmax(self.wins / self.plays + np.sqrt(2 * math.log(step + 1) / self.plays)))

    def learn(self, step: int, arm: int, win: bool) -> None:
        self.plays[arm] += 1
        self.wins[arm] += win


class EpsilonGreedy(UCB1):
    def __init__(self, k: int, rng: np.random.Generator, epsilon: float = 0.1):
        super().__init__(k, rng)
        self.rng, self.epsilon = rng, epsilon

    def choose(self, step: int) -> int:
        if self.rng.random() < self.epsilon or (self.plays == 0).any():
            return int(self.rng.integers(len(self.plays)))
        return int(np.argmax(self.wins / self.plays))


class Uniform(UCB1):
    def __init__(self, k: int, rng: np.random.Generator):
        super().__init__(k, rng)
        self.rng = rng

    def choose(self, step: int) -> int:
        return int(self.rng.integers(len(self.plays)))


POLICIES = {
    "thompson": lambda k, rng: Thompson(k, rng),
    "thompson, half-life 50": lambda k, rng: Thompson(k, rng, half_life=50.0),
    "ucb1": UCB1,
    "epsilon-greedy 0.1": EpsilonGreedy,
    "uniform": Uniform,
}


def simulate(policy, scenario: Scenario, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Expected regret of each step."""
    regret = np.empty(steps)
    for step in range(steps):
        rates = scenario.rates_at(step)
        arm = policy.choose(step)
        policy.learn(step, arm, bool(rng.random() < rates[arm]))
        regret[step] = rates.max() - rates[arm]
    return regret


def cumulative_regret(policy_name: str, scenario: Scenario, steps: int, seeds: int) -> np.ndarray:
    """(seeds, steps) cumulative regret, one row per seed."""
    out = np.empty((seeds, steps))
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        out[seed] = np.cumsum(simulate(POLICIES[policy_name](len(scenario.rates), rng), scenario, steps, rng))
    return out


def steps_to_follow_the_switch(half_life: float | None, scenario: Scenario, steps: int, seed: int,
                               window: int = 50) -> int | None:
    """Outcomes after the switch until Thompson plays the new best strategy in most of its
    last `window` picks (its weight has moved there); None if that never happens."""
    rng = np.random.default_rng(seed)
    policy = Thompson(len(scenario.rates), rng, half_life)
    new_best = int(np.argmax(scenario.rates_after))
    picks = []
    for step in range(steps):
        rates = scenario.rates_at(step)
        arm = policy.choose(step)
        policy.learn(step, arm, bool(rng.random() < rates[arm]))
        picks.append(arm == new_best)
        if step >= scenario.switch_at and np.mean(picks[-window:]) > 0.5:
            return step - scenario.switch_at + 1
    return None
