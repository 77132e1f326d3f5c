"""The walk-forward volatility evaluation reads nothing at or after a fold's start to forecast
before it, and lines targets and returns up with their origins."""

import numpy as np
import pytest

from models.volatility import bar_variance
from tests.support import random_walk_frame
from training.volatility_eval import SETUPS, forecasts_for_fold


def test_forecasts_made_before_a_fold_do_not_change_when_the_fold_changes():
    frame = random_walk_frame(3000, seed=7)
    setup = SETUPS["SPY-5min"]
    slots = (frame.index.hour * 60 + frame.index.minute).to_numpy()
    start = 2400
    measure, returns = bar_variance(frame, intraday=True)
    before = forecasts_for_fold(measure, returns, slots, start, 12, setup.har_windows, setup.intraday)
    shocked = frame.copy()
    shocked.iloc[start:, :4] = shocked.iloc[start:, :4] * np.exp(np.random.default_rng(1).normal(0, 0.05, (600, 1)))
    measure2, returns2 = bar_variance(shocked, intraday=True)
    after = forecasts_for_fold(measure2, returns2, slots, start, 12, setup.har_windows, setup.intraday)
    for name in before:
        np.testing.assert_allclose(after[name][400:start], before[name][400:start], err_msg=name)
