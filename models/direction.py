"""The three directions a price can take over a horizon, and how a return is classed.
Numpy only, so the ingress can score directions without importing torch."""

from __future__ import annotations

import numpy as np

CLASSES = ("up", "flat", "down")
VOLATILITY_WINDOW, VOLATILITY_MIN_RETURNS = 256, 16  # trailing one-bar returns behind a volatility band


def direction_labels(returns: np.ndarray, band: float | np.ndarray) -> np.ndarray:
    """Class index per return in CLASSES order: up above +band, down below -band, else flat.
    `band` is a log return, one for all or one per return."""
    labels = np.full(len(returns), CLASSES.index("flat"), dtype=np.int64)
    labels[returns > band] = CLASSES.index("up")
    labels[returns < -band] = CLASSES.index("down")
    return labels


def edge_score(probabilities: np.ndarray, reference: np.ndarray) -> np.ndarray | float:
    """(P(up) - ref(up)) - (P(down) - ref(down)) per forecast (rows in CLASSES order): how far
    a forecast leans up or down beyond a reference forecast (the base rates, or the
    forecaster's own mean on validation windows). 0 for a forecaster that repeats its
    reference, however lopsided; symmetric in up and down."""
    edges = np.asarray(probabilities, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    return edges[..., CLASSES.index("up")] - edges[..., CLASSES.index("down")]


def trailing_volatility(closes: np.ndarray, window: int = VOLATILITY_WINDOW,
                        min_returns: int = VOLATILITY_MIN_RETURNS) -> np.ndarray:
    """Per bar: the sample standard deviation of the last `window` one-bar log returns up to
    and including the move into that bar; only past bars enter. Bars with fewer than
    `min_returns` returns behind them take the first value that has enough."""
    log_close = np.log(np.asarray(closes, dtype=np.float64))
    returns = np.diff(log_close)
    sums, squares = (np.concatenate([[0.0], np.cumsum(x)]) for x in (returns, returns ** 2))
    bar = np.arange(1, len(log_close))
    first = np.maximum(0, bar - window)
    count = bar - first
    total, total_sq = sums[bar] - sums[first], squares[bar] - squares[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (total_sq - total ** 2 / count) / (count - 1)
    sigma = np.concatenate([[np.nan], np.sqrt(np.maximum(variance, 0.0))])
    sigma[1:][count < min_returns] = np.nan
    valid = np.flatnonzero(~np.isnan(sigma))
    if len(valid):
        sigma[:valid[0]] = sigma[valid[0]]
    return sigma


def flat_band(closes: np.ndarray, horizon: int, flat_band_bp: float, flat_band_vol: float = 0.0) -> float | np.ndarray:
    """Flat band per bar, as a log return: `flat_band_bp` basis points, or with flat_band_vol > 0
    that many horizon standard deviations (trailing one-bar volatility x sqrt(horizon)),
    whichever is wider. Training labels with it, and settlement must label the same way."""
    band = flat_band_bp / 1e4
    if flat_band_vol <= 0:
        return band
    return np.maximum(band, flat_band_vol * trailing_volatility(closes) * np.sqrt(horizon))
