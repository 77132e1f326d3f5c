"""Whether a series of bars has the spacing a price model was trained on. Numpy only, so the
ingress can refuse bars of another interval (422) without importing torch.

The rule: every gap between consecutive bars must be a whole multiple of the model's bar
interval, and the most common gap must be the interval itself. Whole multiples are accepted
because a gap is an absence of bars, not another interval: nights, weekends and holidays in
intraday bars, a trading halt, a holiday in daily bars. A series sampled at another base
interval is refused: 60 s bars for a 300 s model fail the multiple test, and 600 s bars
(every gap a multiple of 300 s) fail the most-common-gap test. Daily and longer bars may be
off a whole multiple by up to an hour, because zoned midnights move by an hour across a
daylight-saving change.
"""

from __future__ import annotations

import numpy as np

DAY_S = 86_400.0


def typical_spacing(timestamps) -> float:
    """The most common gap between consecutive timestamps (epoch seconds), in seconds; the
    smallest of the most common on a tie. This is what training stores as the bar interval."""
    gaps = np.diff(np.asarray(timestamps, dtype=np.float64))
    gaps = np.round(gaps[gaps > 0], 3)
    if len(gaps) == 0:
        raise ValueError("need at least two increasing timestamps to tell the bar interval")
    values, counts = np.unique(gaps, return_counts=True)
    return float(values[np.argmax(counts)])


def bar_spacing_error(timestamps, interval_s: float | None, field: str = "bars.timestamps") -> str | None:
    """None when `timestamps` (epoch seconds, increasing) fit a model trained on bars
    `interval_s` seconds apart, else a message naming `field` and both spacings. A model that
    does not record its interval (trained before it was stored) accepts any spacing."""
    if interval_s is None or len(timestamps) < 2:
        return None
    gaps = np.diff(np.asarray(timestamps, dtype=np.float64))
    tolerance = 3600.0 if interval_s >= DAY_S else 1.0
    multiples = np.round(gaps / interval_s)
    off = (multiples < 1) | (np.abs(gaps - multiples * interval_s) > tolerance)
    if off.any():
        i = int(np.argmax(off))
        return (f"{field}: gap of {gaps[i]:g} s after bar {i} is not a whole multiple of {interval_s:g} s; "
                f"this model was trained on {interval_s:g} s bars")
    typical = typical_spacing(timestamps)
    if abs(typical - interval_s) > tolerance:
        return f"{field}: spacing {typical:g} s, this model was trained on {interval_s:g} s bars"
    return None
