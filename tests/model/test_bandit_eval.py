"""The bandit on simulated strategies: Thompson sampling on the project's posterior against
UCB1, and decay following a change of the best strategy."""

import numpy as np

from training.bandit_eval import STATIONARY, SWITCH, cumulative_regret, steps_to_follow_the_switch

SEEDS, STEPS = 30, 1000
HALF_LIFE = 50.0  # outcomes


def test_thompson_regret_is_at_most_ucb1s_when_rates_hold_still():
    thompson = cumulative_regret("thompson", STATIONARY, STEPS, SEEDS)[:, -1].mean()
    ucb1 = cumulative_regret("ucb1", STATIONARY, STEPS, SEEDS)[:, -1].mean()
    uniform = cumulative_regret("uniform", STATIONARY, STEPS, SEEDS)[:, -1].mean()
    assert thompson <= ucb1 < uniform, (thompson, ucb1, uniform)


def test_with_decay_the_weight_moves_to_the_new_best_within_200_outcomes():
    with_decay = [steps_to_follow_the_switch(HALF_LIFE, SWITCH, STEPS, seed) for seed in range(20)]
    without = [steps_to_follow_the_switch(None, SWITCH, STEPS, seed) for seed in range(20)]
    assert all(s is not None for s in with_decay)
    assert np.median(with_decay) <= 200, with_decay
    # Without decay the old evidence holds the old best on top far longer (or for good).
    slow = [s if s is not None else STEPS for s in without]
    assert np.median(slow) > np.median(with_decay), (with_decay, without)
