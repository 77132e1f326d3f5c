"""The three directions a price can take over a horizon, and how a return is classed.
Numpy only, so the ingress can score directions without importing torch."""

from __future__ import annotations

import numpy as np

CLASSES = ("up", "flat", "down")


def direction_labels(returns: np.ndarray, band: float | np.ndarray) -> np.ndarray:
    """Class index per return in CLASSES order: up above +band, down below -band, else flat.
    `band` is a log return, one for all or one per return."""
    labels = np.full(len(returns), CLASSES.index("flat"), dtype=np.int64)
    labels[returns > band] = CLASSES.index("up")
    labels[returns < -band] = CLASSES.index("down")
    return labels


def edge_score(probabilities: np.ndarray, base_rates: np.ndarray) -> np.ndarray | float:
    """(P(up) - base(up)) - (P(down) - base(down)) per forecast (rows in CLASSES order): how far
    a forecast leans up or down beyond what the base rates already say. 0 for a forecaster
    that repeats its prior, however lopsided the prior; symmetric in up and down."""
    edges = np.asarray(probabilities, dtype=np.float64) - np.asarray(base_rates, dtype=np.float64)
    return edges[..., CLASSES.index("up")] - edges[..., CLASSES.index("down")]
