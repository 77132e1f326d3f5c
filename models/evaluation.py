"""Direction forecasts scored against what happened: the realised class of a past
prediction, then accuracy and the multi-class Brier score beside the base rate's."""

from __future__ import annotations

import math

import numpy as np

from models.direction import CLASSES, direction_labels


def realised_direction(as_of: float, last_close: float, horizon: int, flat_band_bp: float,
                       timestamps: np.ndarray, closes: np.ndarray) -> tuple[str, float] | None:
    """The class and log return `horizon` bars after the bar at `as_of` (epoch seconds), or
    None while `timestamps` (increasing) do not hold that bar and the one `horizon` later."""
    i = int(np.searchsorted(timestamps, as_of - 1e-3))
    if i >= len(timestamps) or abs(timestamps[i] - as_of) > 1e-3 or i + horizon >= len(timestamps):
        return None
    log_return = math.log(closes[i + horizon] / last_close)
    return CLASSES[direction_labels(np.array([log_return]), flat_band_bp / 1e4)[0]], log_return


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
