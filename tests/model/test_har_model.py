"""The served HAR volatility model: it forecasts from a request's bars exactly what the report
scores at that bar, is fitted on its training bars only, beats the training mean on clustered
bars, survives a save/load round trip, and passes the gate that refuses anything worse than HAR."""

from types import SimpleNamespace

import numpy as np
import pytest

from models.har_model import HarVolatilityModel, is_har_directory, load_volatility_model
from models.volatility import bar_variance, har_forecasts
from tests.model.synthetic import garch_frame
from training.data import OHLCV
from training.train_har import train_har
from training.volatility_gate import volatility_gate


def api_bars(frame) -> dict:
    """The frame's bars as the API sends them: zoned epoch seconds (the frame is exchange time)."""
    return {"timestamps": [t.timestamp() for t in frame.index.tz_localize("America/New_York")],
            **{c: frame[c].tolist() for c in OHLCV}}


@pytest.fixture(scope="module")
def clustered():
    frame = garch_frame(4000, seed=3, nu=5.0)
    model, metrics = train_har(frame, "all", version="h1")
    return frame, model, metrics


def test_the_served_forecast_is_the_one_the_report_scores_at_that_bar(clustered):
    frame, model, _ = clustered
    m = model.metadata
    assert m.horizons == [12, 78] and m.windows == [12, 78, 390]
    measure, _ = bar_variance(frame, intraday=True)
    train_end = int(len(frame) * 0.7)
    for t in (3000, 3999):
        served = model.benchmark_variances(api_bars(frame.iloc[t - 400:t + 1]))
        scored = [har_forecasts(measure, train_end, h, m.windows)[0][t] for h in m.horizons]
        assert served == pytest.approx(scored, rel=1e-9)
        distributions, shifts = model.forecast_bars(api_bars(frame.iloc[t - 400:t + 1]))
        assert [d.variance for d in distributions] == pytest.approx(scored, rel=1e-9) and shifts is None


def test_only_the_training_bars_are_fitted(clustered):
    frame, model, metrics = clustered
    later = frame.copy()
    train_end = int(len(frame) * 0.7)
    later.iloc[train_end:, :4] *= np.exp(np.random.default_rng(9).normal(0, 0.01, (len(frame) - train_end, 1)))
    refit, refit_metrics = train_har(later, "all", version="h1")
    for field in ("coefficients", "floor", "z_quantiles", "z_std"):
        assert getattr(refit.metadata, field) == getattr(model.metadata, field), field
    assert refit_metrics["test"]["h12"]["forecasters"]["har"]["qlike"] != metrics["test"]["h12"]["forecasters"]["har"]["qlike"]


def test_har_beats_the_training_mean_on_clustered_bars_with_var_near_its_levels(clustered):
    _, model, metrics = clustered
    for part in ("validation", "test"):
        scores = metrics[part]["h12"]["forecasters"]
        assert scores["har"]["qlike"] < scores["unconditional"]["qlike"]
    assert 0.8 < model.metadata.z_std[0] < 1.25  # returns divided by a fair volatility forecast
    breaches = metrics["test"]["h12"]["forecasters"]["har"]["var"]["0.95"]["kupiec"]
    assert 0.02 < breaches["rate"] < 0.09


def test_save_load_round_trip_and_the_directory_says_its_kind(clustered, tmp_path, tiny_price_dir):
    frame, model, _ = clustered
    model.save(tmp_path / "har")
    assert is_har_directory(tmp_path / "har") and not is_har_directory(tiny_price_dir)
    loaded = load_volatility_model(tmp_path / "har")
    assert isinstance(loaded, HarVolatilityModel) and loaded.metadata == model.metadata
    bars = api_bars(frame.iloc[-500:])
    assert loaded.benchmark_variances(bars) == model.benchmark_variances(bars)
    with pytest.raises(ValueError, match="is not a volatility model directory"):
        load_volatility_model(tiny_price_dir, prefer_gpu=False)


def candidate(test_qlike: dict, horizons=(12,), session="regular"):
    """A PatchTST-like candidate carrying only what the gate reads."""
    test = {"samples": 50, **{h: {"model": {"qlike": c}, "har": {"qlike": har}} for h, (c, har) in test_qlike.items()}}
    return SimpleNamespace(metadata=SimpleNamespace(extra={"metrics": {"test": test}}, horizons=list(horizons),
                                                    bar_interval_s=300.0, session=session))


def test_the_gate_admits_nothing_worse_than_har(clustered):
    _, model, _ = clustered
    passed, reasons, _ = volatility_gate(model, None)
    assert passed and reasons == ["the candidate is HAR itself on every horizon's test windows"]
    assert volatility_gate(candidate({"h12": (0.40, 0.45)}), None)[0]
    passed, reasons, figures = volatility_gate(candidate({"h12": (0.50, 0.45)}), None)
    assert not passed and reasons == ["h12: test QLIKE 0.5000 above HAR's 0.4500"]
    assert figures["test_qlike"]["h12"] == {"candidate": 0.50, "har": 0.45}
    production = {"horizons": [1, 5], "bar_interval_s": 86400.0, "session": "all"}
    passed, reasons, _ = volatility_gate(candidate({"h12": (0.40, 0.45)}), production)
    assert not passed and reasons[0].startswith("forecasts another thing than production (horizons [12] vs [1, 5]")


def test_baselines_that_beat_har_on_validation_and_test_are_named():
    def part(p_ewma: float) -> dict:
        return {"forecasters": {"har": {}, "ewma": {"qlike_vs_har": {"estimate": -0.1, "p_value": p_ewma}},
                                "garch": {"qlike_vs_har": {"estimate": +0.1, "p_value": 0.001}}}}

    from training.train_har import beaten_by

    assert beaten_by({"validation": {"h1": part(0.01)}, "test": {"h1": part(0.02)}}) == {"h1": ["ewma"]}
    assert beaten_by({"validation": {"h1": part(0.01)}, "test": {"h1": part(0.20)}}) == {"h1": []}
