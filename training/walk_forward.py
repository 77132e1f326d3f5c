"""Walk-forward (rolling-origin) evaluation of the direction model on real bars, beside
baselines scored on the very same windows.

The last `test_fraction` of a series is cut into `folds` consecutive test blocks. For each
block the model is trained from scratch on everything before it (its last 15 % held out for
early stopping, the temperature and the ensemble weight), with a purge of context + horizon
bars before validation and before the block, so no bar read or labelled in one part is read
or labelled in the next. Hyperparameters are fixed in advance (`Setup`), never chosen on test
windows. Test windows are one horizon apart, across fold boundaries too, so their outcomes do
not overlap and the backtest holds each position for exactly one horizon.

Forecasters on each test window:
- `patchtst`: the price model as served (transformers' PatchTST, temperature-calibrated);
- `base_rate`: the class frequencies of the fold's training labels;
- `persistence`: the last move's class again, with the probability that training moves
  repeated their predecessor's class (the rest split evenly);
- `logistic`: multinomial logistic regression on the last `lags` one-bar log returns;
- `ensemble`: w * patchtst + (1 - w) * logistic, w chosen on validation log-loss.

Each forecaster's edge score (models.direction.edge_score, against the forecaster's mean
forecast on the fold's validation windows) is also scored as a trading signal: information
coefficient and rank IC against the realised return with HAC t-statistics, hit rate by
confidence bucket, and a backtest whose threshold is chosen per fold on validation windows
(training.backtest.validated_signal). PatchTST's reference and threshold are the ones its
model directory carries, so its backtest is the merged signal as served, on the price branch
alone: bars carry no news, so sentiment cannot be scored here.

    investiq report --sections direction --setups SPY-5min
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from models.direction import CLASSES, edge_score
from models.evaluation import hit_rate_by_confidence, information_coefficient, window_losses
from training.backtest import NEVER, backtest, positions, validated_signal
from training.data import Samples, Split, load_bars, make_samples
from training.scoring import reliability_bins, score_forecasts
from training.train import TrainConfig, train

logger = logging.getLogger(__name__)
FORECASTERS = ("patchtst", "base_rate", "persistence", "logistic", "ensemble")
TRADED = ("patchtst", "logistic", "ensemble")  # forecasters whose edge score is backtested


@dataclass(frozen=True)
class Setup:
    """One series and everything fixed before looking at its test windows."""

    bars: str  # CSV path relative to the shared data folder
    session: str  # "regular" keeps 09:30-15:55 intraday bars; "all" for daily
    train: TrainConfig
    folds: int = 4
    test_fraction: float = 0.4
    first_bar: str | None = None  # drop older bars
    lags: int = 20  # logistic regression inputs
    periods_per_year: float = 252.0  # test periods (horizons) per year, for the Sharpe ratio


INTRADAY = TrainConfig(context_length=512, horizon=12, flat_band_bp=5.0, max_epochs=10, patience=3, sample_step=4)
DAILY = TrainConfig(context_length=256, horizon=1, flat_band_bp=5.0, max_epochs=10, patience=3, sample_step=1)
SETUPS = {
    "SPY-5min": Setup("stocks/intraday_5min/SPY_5min.csv", "regular", INTRADAY, periods_per_year=252 * 78 / 12),
    "NVDA-5min": Setup("stocks/intraday_5min/NVDA_5min.csv", "regular", INTRADAY, periods_per_year=252 * 78 / 12),
    "SPY-daily": Setup("stocks/daily/SPY_1d.csv", "all", DAILY, first_bar="2000-01-01"),
}


def fold_splits(samples: Samples, folds: int, test_fraction: float, train_step: int,
                validation: float = 0.15) -> list[Split]:
    """Train / validation / test sample ends of each fold, purged; test windows one horizon
    apart, also from the last window of one fold to the first of the next."""
    ends = samples.ends()
    gap = samples.context_length + samples.horizon
    blocks = np.array_split(ends[int(len(ends) * (1 - test_fraction))::samples.horizon], folds)
    splits = []
    for block in blocks:
        history = ends[ends < block[0] - gap]
        n_val = int(len(history) * validation)
        train_ends = history[: len(history) - n_val - gap]
        if len(train_ends) == 0 or n_val == 0:
            raise ValueError(f"too few bars before the fold starting at sample {block[0]}")
        splits.append(Split(train_ends[::train_step], history[-n_val:][::train_step], block))
    return splits


def lagged_returns(samples: Samples, ends: np.ndarray, lags: int) -> np.ndarray:
    """The last `lags` one-bar log returns before each window end (feature column 0)."""
    return np.stack([samples.features[e - lags:e, 0] for e in ends])


def class_probabilities(model, x: np.ndarray) -> np.ndarray:
    """predict_proba in CLASSES order, zero for a class training never saw."""
    out = np.zeros((len(x), len(CLASSES)))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def logistic_baseline(samples: Samples, split: Split, lags: int):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    return model.fit(lagged_returns(samples, split.train, lags), samples.labels[split.train])


def persistence(samples: Samples, train_ends: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The class of the last horizon's move, at the rate training moves repeated theirs."""
    repeat = float((samples.labels[train_ends] == samples.labels[train_ends - samples.horizon]).mean())
    probs = np.full((len(ends), len(CLASSES)), (1 - repeat) / (len(CLASSES) - 1))
    probs[np.arange(len(ends)), samples.labels[ends - samples.horizon]] = repeat
    return probs


def ensemble_weight(patchtst: np.ndarray, logistic: np.ndarray, labels: np.ndarray) -> float:
    """The weight on PatchTST (0..1, steps of 0.05) with the lowest validation log-loss."""
    grid = np.linspace(0, 1, 21)
    losses = [window_losses(w * patchtst + (1 - w) * logistic, labels)["log_loss"].mean() for w in grid]
    return float(grid[int(np.argmin(losses))])


def evaluate_fold(frame, samples: Samples, split: Split, setup: Setup) -> dict[str, np.ndarray]:
    """Every forecaster's test probabilities for one fold, the trading thresholds chosen on
    its validation windows, plus what the report needs."""
    model, metrics = train(frame, setup.train, split=split, session=setup.session)
    logistic = logistic_baseline(samples, split, setup.lags)

    def forecasts(ends, weight=None):
        windows = np.stack([model.normalise(samples.window(e)) for e in ends])
        p_patch = np.array([[f.probabilities[c] for c in CLASSES] for f in model.predict_windows(windows)])
        p_logistic = class_probabilities(logistic, lagged_returns(samples, ends, setup.lags))
        if weight is None:
            weight = ensemble_weight(p_patch, p_logistic, samples.labels[ends])
        return {"patchtst": p_patch, "logistic": p_logistic, "ensemble": weight * p_patch + (1 - weight) * p_logistic,
                "weight": weight}

    validation = forecasts(split.validation)
    every = -(-setup.train.horizon // setup.train.sample_step)  # validation windows one horizon apart
    fixed = {name: validated_signal(validation[name], samples.returns[split.validation], every, setup.train.cost_bp)
             for name in TRADED}
    # PatchTST's reference and threshold are the ones the served model carries (same rule).
    threshold = model.metadata.signal_threshold
    fixed["patchtst"] = (model.reference, NEVER if threshold is None else threshold)
    test = split.test
    out = forecasts(test, validation["weight"])
    return {
        **{name: out[name] for name in TRADED},
        "base_rate": np.tile(model.base_rates, (len(test), 1)),
        "persistence": persistence(samples, split.train, test),
        **{f"reference_{name}": np.tile(fixed[name][0], (len(test), 1)) for name in TRADED},
        **{f"threshold_{name}": np.full(len(test), fixed[name][1]) for name in TRADED},
        "labels": samples.labels[test],
        "returns": samples.returns[test],
        "ends": test,
        "weight": np.array([validation["weight"]]),
        "validation_periods": np.array([len(split.validation[::every])]),
        "best_epoch": np.array([metrics["best_epoch"]]),
    }


def evaluate_setup(setup: Setup, data_dir: Path, reps: int = 1000) -> dict:
    """Walk-forward figures of one setup: scores with intervals, reliability, backtests."""
    frame = load_bars(csv=data_dir / setup.bars, session=setup.session)
    if setup.first_bar:
        frame = frame[frame.index >= setup.first_bar]
    cfg = setup.train
    samples = make_samples(frame, cfg.context_length, cfg.horizon, cfg.flat_band_bp, cfg.flat_band_vol)
    folds = []
    for k, split in enumerate(fold_splits(samples, setup.folds, setup.test_fraction, cfg.sample_step)):
        logger.info("fold %d/%d: train %d, validation %d, test %d windows", k + 1, setup.folds,
                    len(split.train), len(split.validation), len(split.test))
        folds.append(evaluate_fold(frame, samples, split, setup))
    pooled = {key: np.concatenate([f[key] for f in folds]) for key in folds[0]}
    labels = pooled["labels"]
    scores = score_forecasts({name: pooled[name] for name in FORECASTERS}, labels, reference="base_rate", reps=reps)
    returns, always_long = pooled["returns"], np.ones(len(labels))
    edges = {name: edge_score(pooled[name], pooled[f"reference_{name}"]) for name in TRADED}
    cost_bp = cfg.cost_bp
    backtests = {name: backtest(positions(edges[name], pooled[f"threshold_{name}"]), returns, cost_bp,
                                setup.periods_per_year, reference=always_long, reps=reps) for name in TRADED}
    backtests["buy_and_hold"] = backtest(always_long, returns, cost_bp, setup.periods_per_year, reps=reps)
    up, down = CLASSES.index("up"), CLASSES.index("down")
    index = frame.index
    return {
        "setup": {**asdict(setup), "train": asdict(cfg)},
        "bars": len(frame), "first_bar": str(index[0]), "last_bar": str(index[-1]),
        "test_first_bar": str(index[int(pooled["ends"][0])]), "test_last_bar": str(index[int(pooled["ends"][-1])]),
        "test_class_rates": dict(zip(CLASSES, (np.bincount(labels, minlength=len(CLASSES)) / len(labels)).tolist())),
        "scores": scores,
        "ensemble_weights": pooled["weight"].tolist(),
        "thresholds": {name: [None if np.isinf(f[f"threshold_{name}"][0]) else float(f[f"threshold_{name}"][0])
                              for f in folds] for name in TRADED},  # None: never trade
        "edge_score": {name: {"mean": float(edges[name].mean()), "mean_abs": float(np.abs(edges[name]).mean()),
                              "raw_up_minus_down": float((pooled[name][:, up] - pooled[name][:, down]).mean())}
                       for name in TRADED},
        "information_coefficient": {name: information_coefficient(edges[name], returns) for name in TRADED},
        "hit_rate_by_confidence": {name: hit_rate_by_confidence(edges[name], returns) for name in TRADED},
        "best_epochs": pooled["best_epoch"].tolist(),
        "validation_periods": pooled["validation_periods"].tolist(),  # per fold, one horizon apart
        "reliability_up": {name: reliability_bins(pooled[name][:, up], labels == up)
                           for name in TRADED},
        "backtest": backtests,
    }

