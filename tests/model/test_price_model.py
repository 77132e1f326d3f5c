import numpy as np
import pytest

from models.price_direction import CHANNELS, CLASSES, PriceDirectionModel, ohlcv_features
from tests.support import TINY_CONTEXT, random_walk_bars


def _columns(bars):
    return [bars[k] for k in ("open", "high", "low", "close", "volume")]


def test_features_are_stationary_channels():
    bars = random_walk_bars(50)
    feats = ohlcv_features(*_columns(bars))
    assert feats.shape == (49, len(CHANNELS))
    close = np.asarray(bars["close"])
    np.testing.assert_allclose(feats[:, 0], np.diff(np.log(close)), rtol=1e-5)
    assert (feats[:, 1] >= 0).all()  # log(high / low)


def test_probabilities_shape_and_sum(tiny_price_dir):
    model = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    windows = np.stack([model.window(*_columns(random_walk_bars(100, seed=s))) for s in range(5)])
    assert windows.shape == (5, TINY_CONTEXT, len(CHANNELS))
    forecasts = model.predict_windows(windows)
    assert len(forecasts) == 5
    for f in forecasts:
        assert tuple(f.probabilities) == CLASSES
        assert sum(f.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert -0.002 <= f.expected_return <= 0.002
        assert f.horizon == 4


def test_too_few_bars_names_the_minimum(tiny_price_dir):
    model = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    with pytest.raises(ValueError, match=f"at least {TINY_CONTEXT + 1} bars"):
        model.window(*_columns(random_walk_bars(TINY_CONTEXT)))


def test_save_load_round_trip(tiny_price_dir, tmp_path):
    model = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    model.metadata.temperature = 1.7
    copy = PriceDirectionModel.load(model.save(tmp_path / "copy"), prefer_gpu=False)
    window = model.window(*_columns(random_walk_bars(60)))[None]
    a, b = model.predict_windows(window)[0], copy.predict_windows(window)[0]
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
    assert copy.metadata == model.metadata


def test_temperature_flattens_probabilities(tiny_price_dir):
    model = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    window = model.window(*_columns(random_walk_bars(60)))[None]
    sharp = max(model.predict_windows(window)[0].probabilities.values())
    model.metadata.temperature = 100.0
    flat = max(model.predict_windows(window)[0].probabilities.values())
    assert flat < sharp and flat == pytest.approx(1 / 3, abs=0.01)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a price model directory"):
        PriceDirectionModel.load(tmp_path)
