"""Fit the served HAR-RV volatility model (models.har_model) from bars; no Ray.

The bars are split in time order: HAR's coefficients and the quantiles of the standardised
return (returns divided by HAR's forecast at the same bars) are fitted on the first part only; validation and test
origins, one horizon apart, are scored with every forecaster of the model-quality report fitted
on the same training part (training.volatility_eval: HAR, EWMA, the time-of-day EWMA intraday,
GARCH, trailing and unconditional means), with the report's own scorer: QLIKE with bootstrap
intervals, Diebold–Mariano against HAR, Mincer–Zarnowitz and VaR coverage. The figures travel
in the model's metadata, so `investiq models` and the promotion gate read them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.har_model import HarModelMetadata, HarVolatilityModel
from models.registry import new_version
from models.risk import empirical_z
from models.volatility import (
    bar_variance, default_horizons, har_floor, har_forecasts, har_windows_of, is_intraday, measured_bars_per_year,
    realised_variance,
)
from training.data import horizon_log_returns
from training.train import bar_interval_seconds, code_commit
from training.volatility_eval import fold_arrays, forecasts_for_fold, score_horizon

BOOTSTRAP_REPS = 200


def origins_between(start: int, stop: int, horizon: int) -> np.ndarray:
    """Forecast origins one horizon apart whose targets end before `stop`."""
    return np.arange(start, stop - horizon, horizon)


def train_har(frame: pd.DataFrame, session: str | None, horizons: tuple[int, ...] | None = None,
              version: str | None = None, validation_fraction: float = 0.15, test_fraction: float = 0.15,
              model_id: str = "har-rv") -> tuple[HarVolatilityModel, dict]:
    """HAR fitted on the first 1 - validation - test of `frame` (OHLC, time-indexed in exchange
    time); returns the model and its validation and test figures per horizon."""
    interval = bar_interval_seconds(frame.index)
    intraday = is_intraday(interval)
    horizons = tuple(horizons or default_horizons(interval))
    windows = har_windows_of(interval)
    measure, returns = bar_variance(frame, intraday)
    slots = (frame.index.hour * 60 + frame.index.minute).to_numpy()
    n = len(frame)
    train_end, validation_end = int(n * (1 - validation_fraction - test_fraction)), int(n * (1 - test_fraction))
    close = frame["close"].to_numpy()
    coefficients, floors, z_quantiles, z_std = [], [], [], []
    metrics: dict = {"validation": {}, "test": {}}
    for h in horizons:
        fold = forecasts_for_fold(measure, returns, slots, train_end, h, windows, intraday)
        _, coef = har_forecasts(measure, train_end, h, windows)
        target, horizon_return = realised_variance(np.sqrt(measure), h), horizon_log_returns(close, h)
        train_origins = np.arange(max(windows), train_end - h)  # every training bar, as the report fits
        for part, origins in (("validation", origins_between(train_end, validation_end, h)),
                              ("test", origins_between(validation_end, n, h))):
            arrays = fold_arrays(fold, target, horizon_return, train_origins, origins, intraday)
            scores = score_horizon(arrays, h, BOOTSTRAP_REPS)
            scores.pop("plotted")
            metrics[part][f"h{h}"] = scores
        coefficients.append(coef.tolist())
        floors.append(har_floor(measure, train_end, h))
        quantiles, std = empirical_z(horizon_return[train_origins], fold["har"][train_origins])
        z_quantiles.append(quantiles)
        z_std.append(std)
    index = frame.index
    metadata = HarModelMetadata(
        model_id=model_id, version=version or new_version(), horizons=list(horizons), windows=list(windows),
        coefficients=coefficients, floor=floors, z_quantiles=z_quantiles, z_std=z_std, bar_interval_s=interval,
        bars_per_year=measured_bars_per_year(frame.index), session=session,
        extra={"data_window": {"first_bar": str(index[0]), "last_bar": str(index[-1]), "bars": n,
                               "train_until": str(index[train_end - 1]),
                               "test_from": str(index[validation_end])},
               "metrics": metrics, "code_commit": code_commit()})
    return HarVolatilityModel(metadata), metrics


def beaten_by(metrics: dict, alpha: float = 0.05) -> dict[str, list[str]]:
    """Per horizon, the baselines whose QLIKE is below HAR's with Diebold–Mariano p < alpha on
    both the validation and the test windows: where HAR is not the best forecaster of these bars."""
    def better(part: dict) -> set[str]:
        return {n for n, s in part["forecasters"].items() if n != "har" and s["qlike_vs_har"]["estimate"] < 0
                and s["qlike_vs_har"]["p_value"] < alpha}

    return {h: sorted(better(metrics["validation"][h]) & better(metrics["test"][h])) for h in metrics["test"]}
