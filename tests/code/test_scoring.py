"""Scores, intervals and the trading rule of the quality report, on inputs worked by hand."""

import numpy as np
import pytest

from models.direction import edge_score
from models.evaluation import window_losses
from training.backtest import NEVER, THRESHOLD_GRID, backtest, choose_threshold, period_pnl, positions
from training.scoring import balanced_accuracy, block_resamples, politis_white_block, reliability_bins, score_forecasts


def test_window_losses_by_hand():
    probs = np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    losses = window_losses(probs, np.array([0, 1]))
    assert losses["log_loss"] == pytest.approx([np.log(2), np.log(5)])
    assert losses["brier"] == pytest.approx([0.25 + 0.0625 * 2, 0.04 + 0.64 + 0.36])
    assert losses["hit"].tolist() == [1.0, 0.0]


def test_balanced_accuracy_weights_each_class_the_same():
    labels = np.array([0, 0, 0, 1])
    assert balanced_accuracy(np.array([0, 0, 0, 0]), labels, 3) == 0.5  # always the majority
    assert balanced_accuracy(labels.copy(), labels, 3) == 1.0


def test_block_resamples_are_runs_of_consecutive_windows():
    idx = block_resamples(n=23, block=5, reps=50, rng=np.random.default_rng(0))
    assert idx.shape == (50, 23) and idx.min() >= 0 and idx.max() < 23
    first_blocks = idx[:, :5]
    assert (np.diff(first_blocks, axis=1) == 1).all()


def test_skill_against_the_base_rate_separates_a_good_forecaster_from_the_base_rate():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=400)
    base = np.tile(np.bincount(labels, minlength=3) / len(labels), (len(labels), 1))
    sharp = np.full((len(labels), 3), 0.1)
    sharp[np.arange(len(labels)), labels] = 0.8
    scores = score_forecasts({"base": base, "sharp": sharp}, labels, reference="base", reps=200)
    assert scores["base"]["brier_skill"] == pytest.approx(0.0)
    assert scores["sharp"]["brier_skill_ci"][0] > 0.5
    assert scores["sharp"]["accuracy"] == 1.0
    low, high = scores["base"]["log_loss_ci"]
    assert low <= scores["base"]["log_loss"] <= high


def test_reliability_bins_of_a_calibrated_forecast_lie_on_the_diagonal():
    rng = np.random.default_rng(2)
    prob = rng.uniform(size=20000)
    happened = rng.uniform(size=prob.size) < prob
    for b in reliability_bins(prob, happened, bins=5):
        assert b["observed"] == pytest.approx(b["forecast"], abs=0.03)


def test_positions_follow_the_edge_beyond_the_base_rates():
    base = np.array([0.5, 0.1, 0.4])
    probs = np.array([[0.62, 0.1, 0.28], [0.44, 0.1, 0.46], [0.5, 0.1, 0.4], [0.56, 0.1, 0.34]])
    assert positions(edge_score(probs, base), threshold=0.1).tolist() == [1.0, -1.0, 0.0, 1.0]
    assert positions(edge_score(probs, base), threshold=np.array([0.1, 0.1, 0.1, 0.2])).tolist() == [1, -1, 0, 0]


def test_a_model_that_repeats_its_prior_never_trades():
    base = np.array([0.55, 0.05, 0.40])  # P(up) - P(down) = 0.15, above any threshold on the raw difference
    scores = edge_score(np.tile(base, (100, 1)), base)
    returns = np.random.default_rng(0).normal(0, 0.01, 100)
    assert choose_threshold(scores, returns, cost_bp=1) == NEVER
    assert backtest(positions(scores, NEVER), returns, 1, 252)["exposure"] == 0


def test_threshold_is_chosen_where_validation_made_money():
    rng = np.random.default_rng(1)
    scores = rng.normal(0, 0.05, 2000)
    informative = np.where(np.abs(scores) > 0.05, 0.002 * np.sign(scores), 0) + rng.normal(0, 0.001, 2000)
    assert choose_threshold(scores, informative, cost_bp=1) == 0.05
    assert choose_threshold(scores, rng.normal(0, 0.001, 2000), cost_bp=5) == NEVER  # noise does not pay its costs


def test_noise_that_happened_to_make_money_sets_no_threshold():
    rng = np.random.default_rng(0)
    scores, noise = rng.normal(0, 0.05, 500), rng.normal(0, 0.001, 500)
    lucky = [t for t in THRESHOLD_GRID if np.prod(1 + period_pnl(positions(scores, t), noise, 0)) > 1]
    assert lucky  # the old rule (any net profit) would have traded on this noise
    assert choose_threshold(scores, noise, cost_bp=0) == NEVER


def test_politis_white_block_grows_with_dependence():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=3000)
    persistent = np.convolve(noise, np.ones(20), "same")
    assert politis_white_block(noise) <= 3 < 15 < politis_white_block(persistent)
    assert politis_white_block(np.zeros(50), noise[:5]) == 1


def test_sharpe_interval_and_the_paired_comparison_with_buy_and_hold():
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0005, 0.01, 2000)
    always_long = np.ones(2000)
    same = backtest(always_long, returns, 1, 252, reference=always_long, reps=200)
    assert same["vs_reference"]["mean_pnl_difference_bp"] == 0 and same["vs_reference"]["sharpe_difference_ci"] == [0, 0]
    low, high = same["sharpe_ci"]
    assert low < same["sharpe"] < high
    flat = backtest(np.zeros(2000), returns, 1, 252, reference=always_long, reps=200)
    assert flat["sharpe"] == 0 and flat["vs_reference"]["mean_pnl_difference_bp"] == pytest.approx(
        -(np.expm1(returns).mean() * 1e4 - 1 / 2000), rel=1e-6)


def test_backtest_charges_costs_and_measures_drawdown_by_hand():
    log_returns = np.log([1.10, 0.90, 1.05])
    result = backtest(np.array([1.0, 1.0, -1.0]), log_returns, cost_bp=10, periods_per_year=1, reps=50)
    # period 1: +10 % - 0.1 % entry; 2: -10 %; 3: short into +5 % = -5 %, minus 0.2 % for flipping
    pnl = np.array([0.10 - 0.001, -0.10, -0.05 - 0.002])
    equity = np.cumprod(1 + pnl)
    assert result["equity"] == pytest.approx(equity.tolist())
    assert result["max_drawdown"] == pytest.approx(1 - equity[-1] / equity[0])
    assert result["hit_rate"] == pytest.approx(1 / 3)
    assert result["turnover"] == pytest.approx((1 + 0 + 2) / 3)
    assert result["sharpe"] == pytest.approx(pnl.mean() / pnl.std(ddof=1))
