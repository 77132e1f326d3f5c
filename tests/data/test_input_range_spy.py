"""The out-of-distribution tolerance on real bars: the README's figures for SPY 5-minute."""

import numpy as np
import pytest

from models.input_range import STATISTICS, TOLERANCE_SD, fit_input_ranges, window_statistics
from models.price_direction import CHANNELS
from training.data import load_bars, shared_data_dir
from training.train import TrainConfig, prepare

SPY = shared_data_dir() / "stocks/intraday_5min/SPY_5min.csv"


def distances(z, ends, length, ranges):
    """Per window, how far its worst statistic falls outside the training range (sd)."""
    stats = window_statistics(z, ends, length)
    worst = np.zeros(len(ends))
    for s in STATISTICS:
        low, high = (np.array(ranges[s])[:, i] for i in (0, 1))
        worst = np.maximum(worst, np.maximum(low - stats[s], stats[s] - high).clip(min=0).max(axis=1))
    return worst


@pytest.mark.skipif(not SPY.is_file(), reason=f"SPY 5-minute bars not found at {SPY} (set INVESTIQ_SHARED_DATA)")
def test_fresh_spy_windows_pass_the_tolerance_and_odd_volume_is_far_outside():
    config = TrainConfig()  # 512-bar context, the split training uses (70 / 15 / 15)
    p = prepare(load_bars(csv=SPY, session="regular"), config)
    z = (p.samples.features - p.mean) / p.std
    ranges = fit_input_ranges(z, p.split.train, config.context_length)
    fresh = np.concatenate([p.split.validation, p.split.test])
    assert distances(z, fresh, config.context_length, ranges).max() < 0.8 < TOLERANCE_SD
    volume = CHANNELS.index("log_volume")
    for odd in (0.0, 1.0, 1000.0):
        features = p.samples.features.copy()
        features[:, volume] = np.log1p(odd) if odd < 1000 else features[:, volume] + np.log(1000.0)
        odd_z = (features - p.mean) / p.std
        assert distances(odd_z, fresh[:50], config.context_length, ranges).min() > 10
