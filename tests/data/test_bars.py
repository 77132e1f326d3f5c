"""Bars parsing, the session filter, labels and a split that never leaks."""

import numpy as np
import pandas as pd
import pytest

from models.direction import CLASSES, direction_labels, trailing_volatility
from models.evaluation import realised_direction
from training.data import (
    chronological_split,
    horizon_log_returns,
    load_bars,
    load_bars_csv,
    make_samples,
    normalisation_stats,
    regular_session,
    shared_data_dir,
)
from tests.support import random_walk_frame

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"reference data not found at {SHARED} "
                                  "(set INVESTIQ_SHARED_DATA)")


@needs_shared
@pytest.mark.parametrize("path,first", [
    ("stocks/daily/SPY_1d.csv", "1993-01-29"),
    ("stocks/intraday_5min/SPY_5min.csv", "2025-05-12 09:30:00"),
    ("stocks/daily/QQQ_1d_splitadj.csv", "1999-03-10"),
])
def test_shared_layouts_parse(path, first):
    frame = load_bars_csv(SHARED / path)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index[0] == pd.Timestamp(first)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame["high"] >= frame["low"]).all()


def test_generic_layout_and_duplicates(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text("idx,timestamp,open,high,low,close,volume\n"
                    "0,2024-01-02T09:30:00,10,11,9,10.5,100\n"
                    "1,2024-01-02T09:35:00,10.5,11,10,10.8,200\n"
                    "2,2024-01-02T09:35:00,10.5,11,10,10.9,250\n"   # duplicate time: keep last
                    "3,2024-01-02T09:40:00,10.9,10,11,10.0,50\n")   # high below low: dropped
    frame = load_bars_csv(path)
    assert len(frame) == 2 and frame["close"].iloc[-1] == 10.9


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,price\n1,2\n")
    with pytest.raises(ValueError, match="missing"):
        load_bars_csv(path)


def test_regular_session_keeps_0930_to_1555_weekdays():
    index = pd.to_datetime(["2025-06-02 04:00", "2025-06-02 09:25", "2025-06-02 09:30", "2025-06-02 15:55",
                            "2025-06-02 16:00", "2025-06-07 10:00"])  # last one is a Saturday
    frame = pd.DataFrame({"close": range(6)}, index=index)
    kept = regular_session(frame).index.strftime("%H:%M").tolist()
    assert kept == ["09:30", "15:55"]


def test_labels_use_the_flat_band():
    close = np.array([100.0, 100.0, 100.2, 99.0])
    r = horizon_log_returns(close, 1)
    assert np.isnan(r[-1])
    labels = direction_labels(r[:-1], band=10 / 1e4)
    assert [CLASSES[k] for k in labels] == ["flat", "up", "down"]


def test_no_test_window_overlaps_training_data():
    samples = make_samples(random_walk_frame(3000), context_length=64, horizon=12, flat_band_bp=5)
    split = chronological_split(samples)

    def bars_touched(ends):  # every bar a part reads (context) or labels (horizon)
        return set().union(*(range(e - samples.context_length, e + samples.horizon + 1) for e in ends))

    train, val, test = (bars_touched(p) for p in (split.train, split.validation, split.test))
    assert not train & val and not train & test and not val & test
    assert split.train.max() < split.validation.min() < split.test.min()


def test_normalisation_is_fitted_on_train_rows_only():
    frame = random_walk_frame(2000)
    frame.iloc[1500:, frame.columns.get_loc("volume")] *= 1000  # a regime after the training part
    samples = make_samples(frame, context_length=32, horizon=4, flat_band_bp=5)
    split = chronological_split(samples)
    mean, _ = normalisation_stats(samples, split.train)
    assert mean[3] == pytest.approx(samples.features[: split.train.max(), 3].mean(), rel=1e-5)
    assert mean[3] < np.log1p(1e6)  # untouched by the later volume regime


@needs_shared
def test_every_walk_forward_setup_has_bars_for_its_folds():
    from training.walk_forward import SETUPS, fold_splits

    for name, setup in SETUPS.items():
        frame = load_bars(csv=SHARED / setup.bars, session=setup.session)
        frame = frame[frame.index >= setup.first_bar] if setup.first_bar else frame
        cfg = setup.train
        samples = make_samples(frame, cfg.context_length, cfg.horizon, cfg.flat_band_bp)
        splits = fold_splits(samples, setup.folds, setup.test_fraction, cfg.sample_step)
        assert all(len(s.test) > 50 and len(s.train) > 500 for s in splits), name


def test_trailing_volatility_is_the_rolling_standard_deviation_of_past_returns():
    close = random_walk_frame(700, seed=8)["close"]
    expected = np.log(close).diff().rolling(256, min_periods=16).std().bfill().to_numpy()
    np.testing.assert_allclose(trailing_volatility(close.to_numpy()), expected, rtol=1e-8)


def test_settlement_labels_a_volatility_band_as_training_does():
    frame = random_walk_frame(800, seed=9)
    samples = make_samples(frame, context_length=32, horizon=4, flat_band_bp=1, flat_band_vol=0.5)
    timestamps = frame.index.as_unit("ns").asi8 / 1e9
    closes = frame["close"].to_numpy()
    settled = [realised_direction(timestamps[e], closes[e], 4, 1, timestamps, closes, flat_band_vol=0.5)[0]
               for e in samples.ends()]
    assert settled == [CLASSES[k] for k in samples.labels[samples.ends()]]
    assert "flat" in settled and len(set(settled)) == 3
