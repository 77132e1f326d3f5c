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
