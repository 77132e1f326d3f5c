import json

import numpy as np
import pytest

from models.model_directory import METADATA_FILE
from models.price_direction import CHANNELS, CLASSES, PriceDirectionModel, ohlcv_features
from models.signal_merge import MergeConfig, merge_signal
from tests.model.synthetic import drifting_frame
from tests.support import TINY_CONTEXT, random_walk_bars
from training.data import make_samples
from training.train import TrainConfig, train


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
        assert -0.004 <= f.expected_return <= 0.004
        assert f.horizon == 4
        rates = dict(zip(CLASSES, model.metadata.base_rates))
        assert f.edges == pytest.approx({c: f.probabilities[c] - rates[c] for c in CLASSES})
        assert f.score == pytest.approx(f.edges["up"] - f.edges["down"])


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


def test_old_directories_take_base_rates_from_extra_and_still_load(tiny_price_dir, tmp_path):
    """Models trained before issue 13 kept the base rates only in extra; they still load, and
    their edges are against those rates."""
    meta = json.loads((tiny_price_dir / METADATA_FILE).read_text())
    for key in ("base_rates", "flat_band_vol", "bar_interval_s", "session", "edge_reference", "signal_threshold"):
        meta.pop(key, None)
    meta["extra"]["base_rates"] = {"up": 0.5, "flat": 0.1, "down": 0.4}
    old = tmp_path / "old"
    PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False).save(old)
    (old / METADATA_FILE).write_text(json.dumps(meta))
    model = PriceDirectionModel.load(old, prefer_gpu=False)
    assert model.metadata.bar_interval_s is None and model.metadata.flat_band_vol == 0.0
    f = model.forecast(np.array([0.5, 0.1, 0.4]))
    assert f.score == 0 and f.expected_return == 0 and f.edges == {"up": 0, "flat": 0, "down": 0}
    assert f.base_rate_return == pytest.approx(0.5 * 0.002 - 0.4 * 0.002)
    # It never had its threshold validated, and says so rather than blaming validation.
    assert f.threshold is None and "predates validated thresholds" in f.no_threshold_because


def test_a_model_trained_on_drift_gives_a_centred_signal_on_inputs_without_information():
    """The issue's Done-when: the raw P(up) - P(down) of such a model is the drift; the merged
    score (the edge over the model's validation mean) is centred on 0."""
    config = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                         num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=2, sample_step=2)
    model, _ = train(drifting_frame(3000, seed=1, drift=8e-4), config, version="drift")
    assert model.metadata.base_rates[0] > 0.7  # most training horizons went up
    fresh = make_samples(drifting_frame(1200, seed=2, drift=8e-4), config.context_length, config.horizon, config.flat_band_bp)
    ends = fresh.ends()[::4]
    forecasts = model.predict_windows(np.stack([model.normalise(fresh.window(e)) for e in ends]))
    raw = np.array([f.probabilities["up"] - f.probabilities["down"] for f in forecasts])
    merged = [merge_signal(f.score, None, MergeConfig(), f.threshold, f.no_threshold_because) for f in forecasts]
    assert raw.mean() > 0.4
    assert abs(np.mean([m.score for m in merged])) < 0.02
    assert abs(np.mean([f.expected_return for f in forecasts])) < 0.1 * forecasts[0].base_rate_return
    # i.i.d. returns: no threshold made money significantly on validation, so the signal holds.
    assert model.metadata.signal_threshold is None and {m.decision for m in merged} == {"HOLD"}
    assert all("validation" in m.untradable_because for m in merged)
    assert model.metadata.bar_interval_s == 300 and model.metadata.labelling() == {
        "horizon": 4, "flat_band_bp": 5.0, "flat_band_vol": 0.0}


def test_a_model_saved_before_base_rates_were_stored_measures_edges_against_a_third(tiny_price_dir, tmp_path):
    legacy = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    legacy.metadata.base_rates = legacy.metadata.edge_reference = None
    legacy = PriceDirectionModel.load(legacy.save(tmp_path / "legacy"), prefer_gpu=False)
    (f,) = legacy.predict_windows(legacy.window(*_columns(random_walk_bars(60)))[None])
    assert f.edges == pytest.approx({c: f.probabilities[c] - 1 / 3 for c in CLASSES})
    assert f.score == pytest.approx(f.probabilities["up"] - f.probabilities["down"])


def test_the_model_knows_the_inputs_it_was_trained_on(tmp_path):
    """Training stores the input ranges; fresh bars like the training ones pass, bars whose volume
    is 0, 1 or x1000 are flagged in log_volume, and the ranges survive save and load."""
    config = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8,
                         num_attention_heads=2, num_hidden_layers=1, ffn_dim=16, max_epochs=1, sample_step=2)
    trained, _ = train(drifting_frame(3000, seed=1), config, version="ranges")
    model = PriceDirectionModel.load(trained.save(tmp_path / "m"), prefer_gpu=False)
    assert set(model.metadata.input_ranges) == {"mean", "std"}
    fresh = drifting_frame(600, seed=2)
    for end in range(config.context_length + 1, len(fresh), 25):
        window = model.window(*(fresh[c].to_numpy()[:end] for c in ("open", "high", "low", "close", "volume")))
        assert model.input_shifts(window) == []
    for volume in (0.0 * fresh["volume"], 0.0 * fresh["volume"] + 1, 1000 * fresh["volume"]):
        window = model.window(*(fresh[c].to_numpy() for c in ("open", "high", "low", "close")), volume.to_numpy())
        shifts = model.input_shifts(window)
        assert {s.channel for s in shifts} == {"log_volume"} and max(s.distance for s in shifts) > 5


def test_a_model_saved_before_input_ranges_were_stored_does_not_check_its_inputs(tiny_price_dir, tmp_path):
    legacy = PriceDirectionModel.load(tiny_price_dir, prefer_gpu=False)
    meta = json.loads((tiny_price_dir / METADATA_FILE).read_text())
    del meta["input_ranges"]
    legacy.save(tmp_path / "legacy")
    (tmp_path / "legacy" / METADATA_FILE).write_text(json.dumps(meta))
    legacy = PriceDirectionModel.load(tmp_path / "legacy", prefer_gpu=False)
    assert legacy.input_shifts(legacy.window(*_columns(random_walk_bars(60)))) is None
