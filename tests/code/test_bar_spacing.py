"""The spacing check the price deployment uses to refuse bars of another interval."""

import numpy as np
import pandas as pd
import pytest

from models.bar_spacing import bar_spacing_error, typical_spacing


def regular_session_5min(days: int) -> np.ndarray:
    """Weekday 09:30-15:55 US/Eastern 5-minute bars, zoned, across a DST change, in epoch seconds."""
    dates = pd.bdate_range("2025-03-06", periods=days)  # DST starts 2025-03-09
    stamps = [pd.Timestamp(f"{d.date()} 09:30", tz="America/New_York") + pd.Timedelta(minutes=5 * k)
              for d in dates for k in range(78)]
    return np.array([t.timestamp() for t in stamps])


def test_intraday_bars_with_nights_weekends_and_a_dst_change_pass():
    t = regular_session_5min(7)
    assert typical_spacing(t) == 300
    assert bar_spacing_error(t, 300) is None


def test_a_missing_bar_is_a_gap_not_another_interval():
    t = np.delete(np.arange(0, 300 * 600, 300.0), [10, 11, 250])
    assert bar_spacing_error(t, 300) is None


def test_one_minute_bars_for_a_five_minute_model_name_the_field_and_both_spacings():
    t = np.arange(0, 60 * 600, 60.0)
    message = bar_spacing_error(t, 300)
    assert message.startswith("bars.timestamps:") and "60 s" in message and "300 s bars" in message


def test_ten_minute_bars_are_refused_although_each_gap_is_a_multiple():
    message = bar_spacing_error(np.arange(0, 600 * 600, 600.0), 300)
    assert message == "bars.timestamps: spacing 600 s, this model was trained on 300 s bars"


def test_daily_bars_across_dst_and_weekends_pass_and_hourly_do_not():
    days = pd.bdate_range("2025-02-03", "2025-04-30")
    t = np.array([pd.Timestamp(d, tz="America/New_York").timestamp() for d in days])
    assert bar_spacing_error(t, 86400) is None
    assert "3600 s" in bar_spacing_error(np.arange(0, 3600 * 300, 3600.0), 86400)


def test_a_model_without_an_interval_accepts_any_spacing():
    assert bar_spacing_error(np.arange(0, 6000, 60.0), None) is None


def test_typical_spacing_needs_two_bars():
    with pytest.raises(ValueError, match="two increasing timestamps"):
        typical_spacing([5.0])
