"""A trading rule on direction forecasts, with costs, beside buy-and-hold.

Each period the rule goes long when the forecast's edge score (models.direction.edge_score:
P(up) - P(down) beyond the forecaster's reference, its mean forecast on validation windows)
reaches a threshold, short at minus it, flat otherwise (the merge's BUY / SELL / HOLD rule on
the price score alone), and holds for one horizon (periods do not overlap). A model that says
the same whatever the bars has an edge of 0 and never trades, however lopsided. The
threshold is chosen on validation windows (`choose_threshold`: only where the P&L there is
significantly positive), never on the test windows.
Costs are charged in basis points per unit of position change, the entry from flat included.

The Sharpe ratio comes with a moving-block bootstrap interval (Politis–White block length),
and each strategy is compared with a reference (buy-and-hold) on the same periods: a
Diebold–Mariano-style HAC t-test on the per-period P&L difference, and the Sharpe difference
with a paired bootstrap interval.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from models.direction import edge_score
from models.evaluation import hac_regression
from training.scoring import block_resamples, interval, politis_white_block

THRESHOLD_GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)  # edge-score thresholds tried on validation
NEVER = math.inf  # the threshold of a rule that does not trade
MIN_T = float(norm.isf(0.05 / len(THRESHOLD_GRID)))  # ≈ 2.45: validation P&L significantly positive


def positions(scores: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """+1 long, -1 short, 0 flat per period, from edge scores, as models.signal_merge decides
    (inclusive thresholds); `threshold` is one for all periods or one per period (per fold)."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.where(scores >= threshold, 1.0, np.where(scores <= -np.asarray(threshold), -1.0, 0.0))


def period_pnl(position: np.ndarray, log_returns: np.ndarray, cost_bp: float) -> np.ndarray:
    """Simple return of holding `position[t]` over period t, less costs of moving into it."""
    position = np.asarray(position, dtype=np.float64)
    trades = np.abs(np.diff(position, prepend=0.0))
    return position * np.expm1(np.asarray(log_returns, dtype=np.float64)) - trades * cost_bp / 1e4


def sharpe(pnl: np.ndarray, periods_per_year: float) -> np.ndarray | float:
    """Annualised Sharpe ratio of per-period P&L (last axis); 0 where the P&L does not vary."""
    pnl = np.asarray(pnl, dtype=np.float64)
    sd = pnl.std(axis=-1, ddof=1)
    mean = pnl.mean(axis=-1)
    return np.where(sd > 0, mean / np.where(sd > 0, sd, 1) * math.sqrt(periods_per_year), 0.0)


def choose_threshold(scores: np.ndarray, log_returns: np.ndarray, cost_bp: float) -> float:
    """The grid threshold with the highest net P&L on (validation) periods among those whose
    mean P&L per period is significantly positive (HAC t at least MIN_T: one-sided 5 %,
    Bonferroni over the grid), so that noise which happened to make money does not set a
    threshold; NEVER when none qualifies, so a forecaster without a usable edge does not
    trade. Ties go to the higher threshold (fewer trades)."""
    best, best_total = NEVER, 0.0
    for threshold in sorted(THRESHOLD_GRID, reverse=True):
        pnl = period_pnl(positions(scores, threshold), log_returns, cost_bp)
        total = float(np.prod(1 + pnl) - 1)
        if total > best_total and pnl.any() and hac_regression(pnl)["t"] >= MIN_T:
            best, best_total = threshold, total
    return best


def backtest(position: np.ndarray, log_returns: np.ndarray, cost_bp: float, periods_per_year: float,
             reference: np.ndarray | None = None, reps: int = 1000, seed: int = 0) -> dict:
    """Figures of holding `position[t]` over period t, whose log return is `log_returns[t]`;
    with `reference` (another position series on the same periods, e.g. always long), the
    paired comparison with it."""
    position = np.asarray(position, dtype=np.float64)
    simple = np.expm1(np.asarray(log_returns, dtype=np.float64))
    pnl = period_pnl(position, log_returns, cost_bp)
    n = len(pnl)
    equity = np.cumprod(1 + pnl)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    active = position != 0
    ref_pnl = None if reference is None else period_pnl(reference, log_returns, cost_bp)
    block = politis_white_block(pnl, *(() if ref_pnl is None else (ref_pnl,)))
    idx = block_resamples(n, block, reps, np.random.default_rng(seed)) if n > 1 else None
    out = {
        "periods": n,
        "total_return": float(equity[-1] - 1) if n else 0.0,
        "sharpe": float(sharpe(pnl, periods_per_year)) if n > 1 else 0.0,
        "sharpe_ci": interval(sharpe(pnl[idx], periods_per_year)) if idx is not None else [0.0, 0.0],
        "bootstrap_block": block,
        "max_drawdown": float((1 - equity / peak).max()) if n else 0.0,
        "hit_rate": float((position[active] * simple[active] > 0).mean()) if active.any() else None,
        "exposure": float(active.mean()) if n else 0.0,
        "turnover": float(np.abs(np.diff(position, prepend=0.0)).mean()) if n else 0.0,  # change per period
        "equity": equity.tolist(),
    }
    if ref_pnl is not None and idx is not None:
        difference = hac_regression(pnl - ref_pnl)
        out["vs_reference"] = {
            "mean_pnl_difference_bp": difference["estimate"] * 1e4, "t": difference["t"],
            "p_value": difference["p_value"], "hac_lags": difference["lags"],
            "sharpe_difference": out["sharpe"] - float(sharpe(ref_pnl, periods_per_year)),
            "sharpe_difference_ci": interval(sharpe(pnl[idx], periods_per_year)
                                             - sharpe(ref_pnl[idx], periods_per_year)),
        }
    return out


def validated_signal(probabilities: np.ndarray, log_returns: np.ndarray, every: int,
                     cost_bp: float) -> tuple[np.ndarray, float]:
    """What a forecaster's validation windows fix before any test: its reference (the mean
    forecast, against which edges are measured, so a constant lean scores 0) and the threshold
    to trade on (`choose_threshold` on every `every`-th window, one horizon apart, so each
    trade is held once as in the test)."""
    reference = np.asarray(probabilities, dtype=np.float64).mean(axis=0)
    spaced = slice(None, None, every)
    scores = edge_score(np.asarray(probabilities)[spaced], reference)
    return reference, choose_threshold(scores, np.asarray(log_returns)[spaced], cost_bp)
