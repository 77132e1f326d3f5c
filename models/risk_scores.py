"""Scores of variance forecasts and of value-at-risk, against what was realised (numpy, scipy).

- QLIKE, RV/F - ln(RV/F) - 1 per period: 0 for a perfect forecast, and robust to noise in
  the realised measure (Patton 2011), so forecasters can be ranked on a noisy proxy; it
  punishes under-forecasting more than over-forecasting, as a risk user would.
- MSE of log variance, the other usual loss.
- Mincer–Zarnowitz: RV = a + b F + e with Newey–West errors; an unbiased forecast has a = 0, b = 1.
- VaR: a breach is a return below the forecast quantile. Kupiec's test of the breach rate
  (unconditional coverage), Christoffersen's of breaches following breaches (independence),
  and the two together (conditional coverage); likelihood ratios with chi-squared p-values.
- Pinball (quantile) loss of a forecast quantile.
Forecasters are compared on per-period losses with models.evaluation.diebold_mariano.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2



def qlike(forecast: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """Per period: RV/F - ln(RV/F) - 1 (>= 0, 0 when F = RV). Both must be positive."""
    ratio = np.asarray(realised, dtype=np.float64) / np.asarray(forecast, dtype=np.float64)
    return ratio - np.log(ratio) - 1


def log_mse(forecast: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """Per period: (ln F - ln RV)^2."""
    return (np.log(np.asarray(forecast, dtype=np.float64)) - np.log(np.asarray(realised, dtype=np.float64))) ** 2


def mincer_zarnowitz(forecast: np.ndarray, realised: np.ndarray, maxlags: int | None = None) -> dict:
    """Intercept and slope of RV on F, each with a Newey–West standard error; the t-statistics
    test intercept = 0 and slope = 1 (an unbiased forecast)."""
    import statsmodels.api as sm

    from models.evaluation import newey_west_lags

    f, rv = np.asarray(forecast, dtype=np.float64), np.asarray(realised, dtype=np.float64)
    lags = newey_west_lags(len(f)) if maxlags is None else int(maxlags)
    fit = sm.OLS(rv, sm.add_constant(f, has_constant="add")).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    (a, b), (se_a, se_b) = fit.params, fit.bse
    return {"intercept": float(a), "intercept_t": float(a / se_a), "slope": float(b),
            "slope_t_vs_1": float((b - 1) / se_b), "lags": lags, "n": len(f)}


def kupiec(breaches: np.ndarray, level: float) -> dict:
    """Unconditional coverage: is the breach rate `level` (e.g. 0.05 for a 95 % VaR)?"""
    hits = np.asarray(breaches, dtype=bool)
    n, x = len(hits), int(hits.sum())
    rate = x / n
    lr = -2 * (_bernoulli_loglik(x, n, level) - _bernoulli_loglik(x, n, rate))
    return {"n": n, "breaches": x, "rate": rate, "expected": level, "lr": float(lr), "p_value": float(chi2.sf(lr, 1))}


def christoffersen(breaches: np.ndarray, level: float) -> dict:
    """Independence (a breach does not make the next one likelier) and conditional coverage
    (independence and the right rate together), from the first-order transition counts."""
    hits = np.asarray(breaches, dtype=bool).astype(int)
    prev, nxt = hits[:-1], hits[1:]
    n00, n01 = int(((prev == 0) & (nxt == 0)).sum()), int(((prev == 0) & (nxt == 1)).sum())
    n10, n11 = int(((prev == 1) & (nxt == 0)).sum()), int(((prev == 1) & (nxt == 1)).sum())
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    restricted = _bernoulli_loglik(n01 + n11, n00 + n01 + n10 + n11, pi)
    free = _bernoulli_loglik(n01, n00 + n01, pi0) + _bernoulli_loglik(n11, n10 + n11, pi1)
    lr_ind = -2 * (restricted - free)
    lr_cc = lr_ind + kupiec(hits[1:], level)["lr"]
    return {"transitions": {"00": n00, "01": n01, "10": n10, "11": n11},
            "p_breach_after_breach": pi1, "p_breach_after_none": pi0,
            "lr_independence": float(lr_ind), "p_independence": float(chi2.sf(lr_ind, 1)),
            "lr_conditional_coverage": float(lr_cc), "p_conditional_coverage": float(chi2.sf(lr_cc, 2))}


def pinball(returns: np.ndarray, quantile: np.ndarray, tau: float) -> np.ndarray:
    """Per period: the quantile (pinball) loss of forecasting the tau-quantile of the return."""
    diff = np.asarray(returns, dtype=np.float64) - np.asarray(quantile, dtype=np.float64)
    return np.maximum(tau * diff, (tau - 1) * diff)


def _bernoulli_loglik(hits: int, n: int, p: float) -> float:
    """log L of `hits` successes in `n` Bernoulli(p) trials; 0 * log 0 counts as 0."""
    out = 0.0
    if hits:
        out += hits * math.log(p) if p > 0 else -math.inf
    if n - hits:
        out += (n - hits) * math.log(1 - p) if p < 1 else -math.inf
    return out
