"""The embedded default price model: what ships is what `investiq train-default` writes, it is
small and quick to load, and the README's first request (QQQ daily bars) is one it answers in
distribution."""

import json
import time

import numpy as np
import pandas as pd
import pytest

from deployments.schemas import SignalRequest
from models.bar_spacing import bar_spacing_error
from models.model_directory import METADATA_FILE
from models.price_direction import PriceDirectionModel
from models.har_model import HarVolatilityModel, load_volatility_model
from models.registry import DEFAULT_PRICE_MODEL, DEFAULT_VOLATILITY_MODEL, ModelRegistry, registry_of, resolve_model_dir
from models.session import session_error
from tests.support import make_tiny_price_model, random_walk_frame
from training.cli import main
from training.data import shared_data_dir
from training.default_model import BARS, CARD, model_card, skill, train_default_price_model, volatility_model_card
from training.train import TrainConfig

QQQ = shared_data_dir() / BARS
TINY = TrainConfig(context_length=16, horizon=1, patch_length=8, patch_stride=8, d_model=16, num_attention_heads=2,
                   num_hidden_layers=1, ffn_dim=32, max_epochs=1, sample_step=1, model_id="default-test")


def test_the_shipped_card_is_the_one_its_metadata_makes():
    meta = json.loads((DEFAULT_PRICE_MODEL / METADATA_FILE).read_text())
    assert (DEFAULT_PRICE_MODEL / CARD).read_text() == model_card(meta)
    assert "default" in meta["model_id"] and meta["session"] == "all" and meta["bar_interval_s"] == 86400


def test_the_shipped_volatility_card_is_the_one_its_metadata_makes_and_it_reads_daily_bars():
    meta = json.loads((DEFAULT_VOLATILITY_MODEL / METADATA_FILE).read_text())
    assert (DEFAULT_VOLATILITY_MODEL / CARD).read_text() == volatility_model_card(meta)
    model = load_volatility_model(DEFAULT_VOLATILITY_MODEL)
    assert isinstance(model, HarVolatilityModel) and model.metadata.horizons == [1, 5]
    assert model.metadata.bar_interval_s == 86400 and model.metadata.windows == [1, 5, 22]
    days = pd.date_range("2024-01-02", periods=40, freq="B", tz="America/New_York")
    close = 400 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.012, 40)))
    bars = {"timestamps": [t.timestamp() for t in days], "open": close, "close": close, "high": close * 1.008,
            "low": close * 0.992, "volume": np.full(40, 4e7)}
    distributions, _ = model.forecast_bars(bars)
    daily = np.log(1.008 / 0.992) ** 2 / (4 * np.log(2))  # every day's Parkinson variance
    assert distributions[0].variance == pytest.approx(sum(np.asarray(model.metadata.coefficients[0]) * [1, daily, daily, daily]))
    assert 0 < distributions[0].value_at_risk(0.95) < distributions[0].value_at_risk(0.99)


def test_the_default_is_small_and_loads_quickly():
    size = sum(f.stat().st_size for f in DEFAULT_PRICE_MODEL.iterdir())
    assert size < 1_000_000, size
    start = time.perf_counter()
    model = PriceDirectionModel.load(DEFAULT_PRICE_MODEL, prefer_gpu=False)
    assert time.perf_counter() - start < 10
    (forecast,) = model.predict_windows(np.zeros((1, model.context_length, 4), dtype=np.float32))
    assert sum(forecast.probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("difference,se,detectable", [(-0.01, 0.002, True), (-0.001, 0.002, False),
                                                       (0.0004, 0.0038, False)])
def test_skill_is_detectable_only_when_the_upper_bound_is_below_zero(difference, se, detectable):
    result = skill({"mean_difference": difference, "hac_se": se, "t": difference / se})
    assert result["detectable"] is detectable
    assert result["upper_bound"] == pytest.approx(difference + 1.6449 * se, abs=1e-4)


def test_train_default_writes_the_model_and_its_card(tmp_path):
    frame = random_walk_frame(900)
    frame.index = pd.date_range("2020-01-01", periods=len(frame), freq="D", name="timestamp")
    (tmp_path / BARS).parent.mkdir(parents=True)
    frame.to_csv(tmp_path / BARS)
    out = tmp_path / "default"
    summary = train_default_price_model(tmp_path, out, TINY)
    meta = json.loads((out / METADATA_FILE).read_text())
    assert summary["version"] == meta["version"] == f"qqq-daily-{frame.index[-1]:%Y%m%d}"
    card = (out / CARD).read_text()
    assert f"`{meta['model_id']}@{meta['version']}`" in card
    verdict = "detectable" if summary["skill"]["detectable"] else "none detectable"
    assert f"**Skill over the base rate: {verdict}.**" in card
    assert f"{meta['extra']['metrics']['test']['log_loss']:.4f}" in card
    assert PriceDirectionModel.load(out, prefer_gpu=False).metadata.bar_interval_s == 86400


@pytest.mark.skipif(not QQQ.is_file(), reason=f"QQQ daily bars not found at {QQQ} (set INVESTIQ_SHARED_DATA)")
def test_the_readmes_first_request_is_answered_in_distribution(capsys):
    main(["request", "--symbol", "QQQ", "--bars", str(QQQ), "--session", "all", "--news", "Fed holds rates steady"])
    bars = SignalRequest.model_validate(json.loads(capsys.readouterr().out)).bars.columns()
    model = PriceDirectionModel.load(DEFAULT_PRICE_MODEL, prefer_gpu=False)
    assert len(bars["close"]) >= model.min_bars
    assert bar_spacing_error(bars["timestamps"], model.metadata.bar_interval_s) is None
    assert session_error(bars["timestamps"], model.metadata.session) is None
    window = model.window(bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"])
    assert model.input_shifts(window) == []


def test_the_default_stands_in_only_while_there_is_no_model_of_ones_own(tmp_path):
    default, missing = tmp_path / "default", tmp_path / "nothing"
    assert resolve_model_dir(missing, default) == default and resolve_model_dir(missing) == missing
    registry = ModelRegistry(tmp_path / "registry")
    registry.publish(make_tiny_price_model(tmp_path / "v1", "v1"), "v1")
    assert resolve_model_dir(registry.root, default) == default  # published, not promoted
    registry.promote("v1")
    assert resolve_model_dir(registry.root, default) == registry.path_of("v1")
    plain = make_tiny_price_model(tmp_path / "plain")
    assert resolve_model_dir(plain, default) == plain
    assert registry_of(registry.root).root == registry_of(registry.path_of("v1")).root == registry.root
    assert registry_of(plain) is None and registry_of(missing) is None
