"""Direction forecasts scored against what happened: the realised class of a past
prediction, then accuracy and the multi-class Brier score beside the base rate's."""

from __future__ import annotations

import math

import numpy as np

from models.direction import CLASSES, direction_labels, flat_band


def settled_bar(as_of: float, horizon: int, timestamps: np.ndarray) -> int | None:
    """The index of the bar at `as_of` (epoch seconds) in `timestamps` (increasing), or None
    while they do not hold that bar and the one `horizon` later: what settles a forecast."""
    i = int(np.searchsorted(timestamps, as_of - 1e-3))
    if i >= len(timestamps) or abs(timestamps[i] - as_of) > 1e-3 or i + horizon >= len(timestamps):
        return None
    return i


def realised_direction(as_of: float, last_close: float, horizon: int, flat_band_bp: float,
                       timestamps: np.ndarray, closes: np.ndarray,
                       flat_band_vol: float = 0.0) -> tuple[str, float] | None:
    """The class and log return `horizon` bars after the bar at `as_of` (epoch seconds), or
    None while `timestamps` (increasing) do not hold that bar and the one `horizon` later.
    Labelled as the model was trained (its metadata's flat_band_bp and flat_band_vol); a
    volatility band reads the given bars up to `as_of`, so send the bars before it too."""
    i = settled_bar(as_of, horizon, timestamps)
    if i is None:
        return None
    log_return = math.log(closes[i + horizon] / last_close)
    band = np.atleast_1d(flat_band(np.asarray(closes[:i + 1], dtype=np.float64), horizon, flat_band_bp,
                                   flat_band_vol))[-1]
    return CLASSES[direction_labels(np.array([log_return]), band)[0]], log_return


def window_losses(probs: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per forecast: log-loss, Brier (squared distance to the one-hot outcome, 0..2) and hit."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    one_hot = np.eye(probs.shape[1])[labels]
    return {
        "log_loss": -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-9, None)),
        "brier": ((probs - one_hot) ** 2).sum(axis=1),
        "hit": (probs.argmax(axis=1) == labels).astype(np.float64),
    }


def direction_scores(probabilities: np.ndarray, realised: list[str]) -> dict:
    """probabilities: (n, 3) in CLASSES order. Brier = mean over forecasts of the squared
    distance to the one-hot outcome (0 best, 2 worst); `brier_base_rate` is the Brier score
    of always forecasting the window's own class frequencies, a baseline that knows them in
    hindsight, so a model must beat it to add anything."""
    n = len(realised)
    if n == 0:
        return {"n": 0, "accuracy": None, "brier": None, "brier_base_rate": None,
                "realised_counts": {c: 0 for c in CLASSES}}
    labels = np.array([CLASSES.index(r) for r in realised])
    counts = np.bincount(labels, minlength=len(CLASSES))
    losses = window_losses(probabilities, labels)
    base = np.tile(counts / n, (n, 1))
    return {
        "n": n,
        "accuracy": float(losses["hit"].mean()),
        "brier": float(losses["brier"].mean()),
        "brier_base_rate": float(window_losses(base, labels)["brier"].mean()),
        "realised_counts": {c: int(k) for c, k in zip(CLASSES, counts)},
    }


def newey_west_lags(n: int) -> int:
    """The usual Newey–West lag for n observations: floor(4 (n / 100)^(2/9))."""
    return int(4 * (n / 100) ** (2 / 9))


def hac_regression(y: np.ndarray, x: np.ndarray | None = None, maxlags: int | None = None) -> dict:
    """OLS of y on a constant (and x), with Newey–West (HAC) standard errors, so that serial
    dependence between neighbouring windows widens the errors instead of being ignored.
    Returns the last coefficient (the mean without x, the slope with it), its HAC standard
    error, t and two-sided p (normal), and the lags used."""
    import statsmodels.api as sm  # lazily: the ingress imports this module

    y = np.asarray(y, dtype=np.float64)
    design = np.ones((len(y), 1)) if x is None else sm.add_constant(np.asarray(x, dtype=np.float64), has_constant="add")
    lags = newey_west_lags(len(y)) if maxlags is None else int(maxlags)
    fit = sm.OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    coef, se = float(fit.params[-1]), float(fit.bse[-1])
    t = coef / se if se > 0 else (0.0 if coef == 0 else float("inf") * np.sign(coef))
    from scipy.stats import norm

    return {"estimate": coef, "se": se, "t": float(t), "p_value": float(2 * norm.sf(abs(t))), "lags": lags,
            "n": len(y)}


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, maxlags: int | None = None) -> dict:
    """Diebold–Mariano on per-window losses of two forecasters on the same windows: the mean
    of d = loss_a - loss_b (> 0: a is worse) with a HAC standard error."""
    return hac_regression(np.asarray(loss_a, dtype=np.float64) - np.asarray(loss_b, dtype=np.float64),
                          maxlags=maxlags)


OBSERVATIONS_PER_LAG = 10


def information_coefficient(scores: np.ndarray, returns: np.ndarray, maxlags: int | None = None) -> dict:
    """IC (Pearson) and rank IC (Spearman) of a score against the realised return, each with a
    HAC t-statistic: the slope of the standardised return on the standardised score (which is
    the correlation) with Newey–West errors. None where the score or the return is constant,
    and the t-statistics None with fewer than OBSERVATIONS_PER_LAG observations per HAC lag,
    where the Newey–West error is far too small (p < 0.05 on a third of pure-noise samples)."""
    from scipy.stats import rankdata

    scores, returns = np.asarray(scores, dtype=np.float64), np.asarray(returns, dtype=np.float64)
    out = {"n": len(scores)}
    lags = newey_west_lags(len(scores)) if maxlags is None else int(maxlags)
    testable = len(scores) >= OBSERVATIONS_PER_LAG * max(lags, 1)
    for name, (s, r) in (("ic", (scores, returns)), ("rank_ic", (rankdata(scores), rankdata(returns)))):
        if len(s) < 3 or s.std() == 0 or r.std() == 0:
            out.update({name: None, f"{name}_t": None, f"{name}_p": None})
            continue
        fit = hac_regression((r - r.mean()) / r.std(), (s - s.mean()) / s.std(), lags)
        out.update({name: fit["estimate"], f"{name}_t": fit["t"] if testable else None,
                    f"{name}_p": fit["p_value"] if testable else None})
    return out


def hit_rate_by_confidence(scores: np.ndarray, returns: np.ndarray, buckets: int = 4) -> list[dict]:
    """Hit rate (the realised return has the score's sign) per bucket of |score|, buckets of
    equal count from the least to the most confident, each with a 95 % Wilson interval.
    Windows with a score of exactly 0 make no call and are left out."""
    from scipy.stats import binomtest

    scores, returns = np.asarray(scores, dtype=np.float64), np.asarray(returns, dtype=np.float64)
    called = scores != 0
    scores, returns = scores[called], returns[called]
    order = np.argsort(np.abs(scores), kind="stable")
    out = []
    for idx in np.array_split(order, min(buckets, len(order))) if len(order) else []:
        hits = int((np.sign(scores[idx]) * returns[idx] > 0).sum())
        ci = binomtest(hits, len(idx)).proportion_ci(method="wilson")
        out.append({"n": len(idx), "min_confidence": float(np.abs(scores[idx]).min()),
                    "max_confidence": float(np.abs(scores[idx]).max()), "hit_rate": hits / len(idx),
                    "hit_rate_ci": [float(ci.low), float(ci.high)]})
    return out
