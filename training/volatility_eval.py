"""Walk-forward scores of volatility forecasters on real bars, on the very same windows.

The last `test_fraction` of a series is cut into `folds` consecutive test blocks; for each
block every forecaster is fitted on everything before it (never on the block) and forecasts,
at each test origin one horizon apart, the variance of the next `horizon` bars:
- daily bars: the target is the sum of the days' Parkinson range variances (the less noisy
  one-day measure); intraday: the sum of squared 5-minute log returns within the session (a
  day's first bar from its own open: the overnight gap is not intraday variance);
- `har`: HAR-RV, direct (models.volatility.har_forecasts), windows of 1, 5, 22 days or of an
  hour, a session and a week of bars;
- `ewma`: RiskMetrics on the same per-bar variance measure (lambda 0.94), times the horizon;
  intraday also `ewma_tod`, on returns scaled by the time-of-day pattern of the training bars;
- `garch`: GARCH(1,1) on the one-bar returns (arch), estimated on the training part;
- `mean_22` (daily) or `mean_week` (intraday): the mean of the last 22 days / 390 bars;
- `unconditional`: the training mean;
- `patchtst`: the PatchTST volatility model (training.train_volatility), trained on the bars
  before the fold (their last 30 % held out for early stopping and its own checks).
GARCH reads close-to-close returns, so on daily bars it forecasts another variance than the
range target: it is rescaled by the mean ratio of target to forecast on its training origins
before it is scored. PatchTST is trained on the very measure the target sums. Scores: QLIKE
and MSE of log variance with moving-block bootstrap intervals, Diebold–Mariano against HAR,
Mincer–Zarnowitz; and for value-at-risk at 95 % and 99 % (filtered historical simulation: the
forecast volatility times the empirical quantile of the training part's returns divided by
the forecast volatility, as the served model does) the breach rate with Kupiec's and
Christoffersen's tests, and the pinball loss.

    investiq report --sections volatility
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from models.evaluation import diebold_mariano
from models.risk import QUANTILE_LEVELS, empirical_z
from models.risk_scores import christoffersen, kupiec, log_mse, mincer_zarnowitz, pinball, qlike
from models.volatility import (
    bar_variance,
    default_horizons,
    ewma_forecasts,
    garch_forecasts,
    har_forecasts,
    har_windows_of,
    realised_variance,
    time_of_day_scale,
)
from models.volatility_model import expected_variance, volatility_features
from training.data import OHLCV, horizon_log_returns, load_bars
from training.scoring import block_resamples, interval, politis_white_block
from training.train_volatility import VolatilityTrainConfig, train_volatility

logger = logging.getLogger(__name__)
VAR_LEVELS = (0.95, 0.99)
DAY_S, FIVE_MIN_S = 86_400.0, 300.0


PATCHTST = VolatilityTrainConfig(context_length=256, max_epochs=8, patience=2)
CLOSE_TO_CLOSE = ("garch",)  # forecasters of another variance than the daily range target


@dataclass(frozen=True)
class VolatilitySetup:
    bars: str  # CSV path relative to the shared data folder
    session: str  # "regular" intraday, "all" daily
    horizons: tuple[int, ...]  # bars ahead
    har_windows: tuple[int, ...]
    intraday: bool
    folds: int = 4
    test_fraction: float = 0.4
    first_bar: str | None = None
    patchtst: VolatilityTrainConfig | None = field(default_factory=lambda: replace(PATCHTST))  # None: baselines only


SETUPS = {  # the horizons and HAR windows a model trained on such bars has (models.volatility)
    "SPY-daily": VolatilitySetup("stocks/daily/SPY_1d.csv", "all", default_horizons(DAY_S), har_windows_of(DAY_S),
                                 False, first_bar="2000-01-01"),
    "SPY-5min": VolatilitySetup("stocks/intraday_5min/SPY_5min.csv", "regular", default_horizons(FIVE_MIN_S),
                                har_windows_of(FIVE_MIN_S), True),
    "NVDA-5min": VolatilitySetup("stocks/intraday_5min/NVDA_5min.csv", "regular", default_horizons(FIVE_MIN_S),
                                 har_windows_of(FIVE_MIN_S), True),
}


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` values up to and including each one (fewer at the start)."""
    sums = np.concatenate([[0.0], np.cumsum(x)])
    t = np.arange(len(x))
    first = np.maximum(0, t + 1 - window)
    return (sums[t + 1] - sums[first]) / (t + 1 - first)


def patchtst_forecasts(frame, train_end: int, setup: VolatilitySetup) -> dict[int, np.ndarray]:
    """Per horizon, the variance forecast made at every bar by a PatchTST volatility model
    trained on the bars before `train_end` only (their last 30 % held out for early stopping
    and its own checks); NaN where a window does not fit."""
    model, _ = train_volatility(frame.iloc[:train_end],
                                replace(setup.patchtst, horizons=setup.horizons, time_of_day=setup.intraday),
                                session=setup.session)
    timestamps = frame.index if model.needs_timestamps else None
    features = model.normalise(volatility_features(*(frame[c].to_numpy() for c in OHLCV), timestamps=timestamps))
    context = model.context_length
    origins = np.arange(context, len(frame))  # feature row j is the move into bar j + 1
    windows = np.lib.stride_tricks.sliding_window_view(features, context, axis=0)[origins - context]
    log_mean, _ = model.predict_log_variance(np.swapaxes(windows, 1, 2))
    out = {}
    for k, horizon in enumerate(model.metadata.horizons):
        values = np.full(len(frame), np.nan)
        values[origins] = expected_variance(log_mean[:, k], model.metadata.smearing[k])
        out[horizon] = values
    return out


def forecasts_for_fold(measure, returns, slots, train_end: int, horizon: int, har_windows: tuple[int, ...],
                       intraday: bool) -> dict:
    """Every forecaster's variance forecast of the next `horizon` bars, made at every bar,
    fitted on bars before `train_end` only."""
    out = {
        "har": har_forecasts(measure, train_end, horizon, har_windows)[0],
        "ewma": ewma_forecasts(np.sqrt(measure), horizon, train_end),
        "garch": garch_forecasts(returns, horizon, train_end)[0],
        ("mean_week" if intraday else "mean_22"): horizon * trailing_mean(measure, har_windows[-1]),
        "unconditional": np.full(len(measure), horizon * measure[:train_end].mean()),
    }
    if intraday:
        scale = time_of_day_scale(returns, slots, train_end)
        out["ewma_tod"] = ewma_forecasts(returns, horizon, train_end, seasonal=scale)
    return out


def evaluate_volatility(setup: VolatilitySetup, data_dir: Path, reps: int = 1000) -> dict:
    """Walk-forward figures of one setup, per horizon: losses with intervals, DM against HAR,
    Mincer–Zarnowitz and VaR coverage, for every forecaster on the same origins."""
    frame = load_bars(csv=data_dir / setup.bars, session=setup.session)
    if setup.first_bar:
        frame = frame[frame.index >= setup.first_bar]
    measure, returns = bar_variance(frame, setup.intraday)
    slots = (frame.index.hour * 60 + frame.index.minute).to_numpy()
    n = len(frame)
    test_start = int(n * (1 - setup.test_fraction))
    bounds = np.linspace(test_start, n, setup.folds + 1).astype(int)
    result = {"setup": asdict(setup), "bars": n, "first_bar": str(frame.index[0]), "last_bar": str(frame.index[-1]),
              "test_first_bar": str(frame.index[test_start]), "horizons": {}}
    patchtst = {start: patchtst_forecasts(frame, start, setup) for start in bounds[:-1]} if setup.patchtst else {}
    for horizon in setup.horizons:
        target = realised_variance(np.sqrt(measure), horizon)  # the measure summed over bars t+1..t+h
        horizon_return = horizon_log_returns(frame["close"].to_numpy(), horizon)
        pooled: dict[str, list] = {}
        for k, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
            logger.info("%s horizon %d, fold %d/%d", setup.bars, horizon, k + 1, setup.folds)
            fold = forecasts_for_fold(measure, returns, slots, start, horizon, setup.har_windows, setup.intraday)
            if start in patchtst:
                fold["patchtst"] = patchtst[start][horizon]
            # One horizon apart, and only targets that end inside the block.
            origins = np.arange(start, stop - horizon, horizon)
            train_origins = np.arange(setup.har_windows[-1], start - horizon)
            train_origins = train_origins[np.isfinite(fold.get("patchtst", measure)[train_origins])]
            for key, values in fold_arrays(fold, target, horizon_return, train_origins, origins,
                                           setup.intraday).items():
                pooled.setdefault(key, []).append(values)
        arrays = {key: np.concatenate(parts) for key, parts in pooled.items()}
        result["horizons"][str(horizon)] = score_horizon(arrays, horizon, reps)
    return result


def fold_arrays(fold: dict, target: np.ndarray, horizon_return: np.ndarray, train_origins: np.ndarray,
                origins: np.ndarray, intraday: bool) -> dict[str, np.ndarray]:
    """What score_horizon reads for one fold: target, return and each forecaster's forecast at
    `origins`, and the quantiles of its standardised return (`z_<name>`, one row per origin,
    at models.risk.QUANTILE_LEVELS) taken from `train_origins`: filtered historical
    simulation, the served model's VaR. Close-to-close forecasters of a daily range target are
    first rescaled onto its level by their mean ratio on the training origins."""
    out = {"target": target[origins], "return": horizon_return[origins]}
    for name, values in fold.items():
        if name in CLOSE_TO_CLOSE and not intraday:
            values = values * np.mean(target[train_origins] / values[train_origins])
        quantiles, _ = empirical_z(horizon_return[train_origins], values[train_origins])
        out[name] = values[origins]
        out[f"z_{name}"] = np.tile(quantiles, (len(origins), 1))
    return out


def score_horizon(arrays: dict[str, np.ndarray], horizon: int, reps: int) -> dict:
    """Scores of every forecaster on the pooled test origins of one horizon."""
    target, realised_return = arrays["target"], arrays["return"]
    names = [k for k in arrays if k not in ("target", "return") and not k.startswith("z_")]
    losses = {name: {"qlike": qlike(arrays[name], target), "log_mse": log_mse(arrays[name], target)}
              for name in names}
    block = politis_white_block(*(losses[name]["qlike"] for name in names))
    idx = block_resamples(len(target), block, reps, np.random.default_rng(0))
    lags = max(1, block)  # origins are one horizon apart: only the loss's own persistence remains
    out = {"origins": len(target), "bootstrap_block": block, "forecasters": {}}
    for name in names:
        scores = {}
        for loss, values in losses[name].items():
            scores[loss] = float(values.mean())
            scores[f"{loss}_ci"] = interval(values[idx].mean(axis=1))
        if name != "har":
            scores["qlike_vs_har"] = diebold_mariano(losses[name]["qlike"], losses["har"]["qlike"], maxlags=lags)
        scores["mincer_zarnowitz"] = mincer_zarnowitz(arrays[name], target, maxlags=lags)
        scores["var"] = {}
        for level in VAR_LEVELS:
            var = arrays[f"z_{name}"][:, QUANTILE_LEVELS.index(round(1 - level, 3))] * np.sqrt(arrays[name])
            breaches = realised_return < var
            scores["var"][f"{level:g}"] = {
                "kupiec": kupiec(breaches, 1 - level), "christoffersen": christoffersen(breaches, 1 - level),
                "pinball": float(pinball(realised_return, var, 1 - level).mean())}
        z = np.median(arrays[f"z_{name}"], axis=0)  # over folds
        scores["standardised_return"] = {f"q{level:g}": float(q) for level, q in zip(QUANTILE_LEVELS, z)
                                         if level in (0.01, 0.05)}
        out["forecasters"][name] = scores
    out["plotted"] = {name: arrays[name].tolist() for name in ("target", "har", best_other(out["forecasters"]))}
    return out


def best_other(forecasters: dict) -> str:
    """The forecaster other than HAR with the lowest QLIKE."""
    return min((n for n in forecasters if n != "har"), key=lambda n: forecasters[n]["qlike"])
