"""Whether a price model's input window looks like the windows it was trained on. Numpy only.

The window is z-scored with the training mean and std, so each channel is in units of its
training standard deviation (sd). Per channel, two statistics of the window: its mean and
its standard deviation. Training stores the range (min, max) each statistic took over the
training windows. A served window is out of distribution in a channel when

- a statistic falls more than TOLERANCE_SD outside that range (the distance reported is how
  far outside, in sd), or
- the channel does not move at all over the window (std 0) while every training window's
  did: volume all 0 or all 1, or a stale price.

The tolerance: on SPY 5-minute bars (regular session, 2025-05 to 2025-12) no validation or test
window of a model trained on the first 70 % fell more than 0.8 sd outside, while bars with
volume 0, 1 or x1000 fall more than 10 sd outside in log_volume (tests/data/test_input_range_spy.py). A window statistic averages
`context_length` bars, so a single odd bar moves it little; what it flags is a window
unlike any the model has seen, where its forecast means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATISTICS = ("mean", "std")
TOLERANCE_SD = 1.0
CONSTANT_SD = 1e-6  # a window std below this: the channel does not move


@dataclass(frozen=True)
class InputShift:
    """One statistic of one channel outside the training range."""

    channel: str
    statistic: str  # "mean" or "std" of the normalised channel over the window
    value: float
    training_min: float
    training_max: float
    distance: float  # sd outside [training_min, training_max]; 0 inside


def window_statistics(z: np.ndarray, ends, length: int) -> dict[str, np.ndarray]:
    """Mean and std per channel of the normalised rows [end - length, end) for each end:
    {"mean": (len(ends), channels), "std": (...)}."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(z, dtype=np.float64), length, axis=0)
    starts = np.asarray(ends) - length
    # Copied (n, channels, length) a thousand windows at a time, so memory stays bounded.
    parts = [windows[chunk] for chunk in np.array_split(starts, -(-len(starts) // 1000))]
    return {"mean": np.concatenate([p.mean(axis=-1) for p in parts]),
            "std": np.concatenate([p.std(axis=-1) for p in parts])}


def fit_input_ranges(z: np.ndarray, ends, length: int) -> dict[str, list[list[float]]]:
    """What training stores: per statistic, [min, max] per channel over the training windows."""
    stats = window_statistics(z, ends, length)
    return {s: np.stack([stats[s].min(axis=0), stats[s].max(axis=0)], axis=1).tolist() for s in STATISTICS}


def input_shifts(window: np.ndarray, ranges: dict, channels) -> list[InputShift]:
    """The statistics of one normalised window (length, channels) that are out of distribution."""
    stats = window_statistics(window, [len(window)], len(window))
    shifts = []
    for statistic in STATISTICS:
        for c, channel in enumerate(channels):
            value = float(stats[statistic][0, c])
            low, high = ranges[statistic][c]
            distance = max(low - value, value - high, 0.0)
            constant = statistic == "std" and value < CONSTANT_SD <= low
            if distance > TOLERANCE_SD or constant:
                shifts.append(InputShift(channel, statistic, value, low, high, distance))
    return shifts


def describe(shifts) -> str:
    """One line for an operator; takes InputShift or anything with its fields (the API's copy)."""
    def one(s) -> str:
        what = ("does not move over the window" if s.statistic == "std" and s.value < CONSTANT_SD
                else f"window {s.statistic} {s.value:.2f} sd")
        return (f"{s.channel} {what} (training windows {s.training_min:.2f} to {s.training_max:.2f}, "
                f"{s.distance:.2f} sd outside)")
    return "; ".join(one(s) for s in shifts)
