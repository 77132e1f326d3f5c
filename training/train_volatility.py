"""Train a PatchTST volatility model (models.volatility_model) from bars; no Ray.

Same life cycle as the price model (training.train): windows over one bar series, a
chronological split with a purge (training.data.chronological_split, purging the longest
horizon), channels z-scored with training statistics, AdamW on the head's Gaussian likelihood
of the standardised log RV, early stopping on validation likelihood with the best weights
kept. Then nu per horizon is fitted on the training windows, and validation and test are
scored with QLIKE and log-MSE per horizon beside baselines fitted on the training part only
and scored on the very same windows: the training mean RV ("unconditional"), HAR-RV at bar
resolution and EWMA (with the time-of-day scale for intraday bars), from models.volatility.
Realised variances below a floor (1e-3 x the training mean, for horizons whose bars did not
move) count as the floor for every forecaster, so that QLIKE and logs stay finite.

`train_volatility(..., report=...)` hands each epoch's record to a callback together with a
function that writes the best model so far into a directory: what a Tune trainable needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models.input_range import fit_input_ranges
from models.registry import new_version
from models.risk import QUANTILE_LEVELS, empirical_z
from models.risk_scores import log_mse, qlike
from models.session import MARKET_TZ
from models.volatility import (
    bar_variance,
    default_horizons,
    ewma_forecasts,
    har_floor,
    har_forecasts,
    har_windows_of,
    is_intraday,
    measured_bars_per_year,
    realised_variance,
    time_of_day_scale,
)
from models.volatility_model import (
    VAR_COVERAGES,
    VolatilityModel,
    VolatilityModelMetadata,
    build_regression_patchtst,
    channels_for,
    expected_variance,
    fit_nu,
    volatility_features,
)
from training.data import OHLCV, Split, chronological_split, horizon_log_returns, normalisation_stats
from training.train import MODEL_SUBDIR, bar_interval_seconds, check_patchtst_sizes, code_commit

logger = logging.getLogger(__name__)
FLOOR_FRACTION = 1e-3


@dataclass
class VolatilityTrainConfig:
    horizons: tuple[int, ...] | None = None  # bars; None: an hour and a session intraday, else 1 and 5
    time_of_day: bool | None = None  # time-of-day channels; None: for intraday bars
    context_length: int = 256
    patch_length: int = 16
    patch_stride: int = 8
    d_model: int = 32
    num_attention_heads: int = 4
    num_hidden_layers: int = 2
    ffn_dim: int = 64
    dropout: float = 0.1
    pooling_type: str = "mean"
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 10
    patience: int = 3
    sample_step: int = 2  # use every n-th window; neighbouring windows are near-duplicates
    seed: int = 0
    model_id: str = "patchtst-volatility"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        check_patchtst_sizes(self)
        if self.horizons is not None and (not self.horizons or min(self.horizons) < 1):
            raise ValueError(f"horizons must be positive bar counts, got {self.horizons}")


@dataclass
class VolatilitySamples:
    """Windows over one bar series, laid out as training.data.Samples (which chronological_split
    and normalisation_stats read): sample e reads feature rows [e-L, e) and is labelled by the
    bars after bar e, up to the longest horizon."""

    features: np.ndarray  # (bars - 1, channels)
    measure: np.ndarray  # (bars,): bar b's variance measure (models.volatility.bar_variance)
    realised: np.ndarray  # (bars, horizons): RV over the bars after each bar, NaN past the data
    returns: np.ndarray  # (bars, horizons): log return over each horizon from each bar
    context_length: int
    horizon: int  # the longest, which the split purges

    def ends(self) -> np.ndarray:
        return np.arange(self.context_length, len(self.features) - self.horizon + 1)

    def window(self, end: int) -> np.ndarray:
        return self.features[end - self.context_length:end]


def make_volatility_samples(frame: pd.DataFrame, context_length: int, horizons, time_of_day: bool) -> VolatilitySamples:
    """Intraday (`time_of_day`) the target sums squared within-session returns, daily the
    Parkinson range variances: the measures the report scores every forecaster on."""
    close = frame["close"].to_numpy()
    features = volatility_features(*(frame[c].to_numpy() for c in OHLCV),
                                   timestamps=frame.index if time_of_day else None)
    measure, _ = bar_variance(frame, intraday=time_of_day)
    realised = np.stack([realised_variance(np.sqrt(measure), h) for h in horizons], axis=1)
    returns = np.stack([horizon_log_returns(close, h) for h in horizons], axis=1)
    return VolatilitySamples(features, measure, realised, returns, context_length, max(horizons))


@dataclass
class PreparedVolatility:
    """Everything fixed before the first step: samples, split, statistics and baselines fitted on train."""

    frame: pd.DataFrame
    samples: VolatilitySamples
    split: Split
    horizons: tuple[int, ...]
    channels: list[str]
    bar_interval_s: float
    mean: np.ndarray
    std: np.ndarray
    floor: np.ndarray  # (horizons,)
    target_mean: np.ndarray
    target_std: np.ndarray
    baselines: dict[str, np.ndarray]  # name -> (bars, horizons) variance forecasts made at each bar
    har: dict | None  # HAR's fit (har_benchmark), kept with the model as its benchmark

    def inputs(self, ends: np.ndarray) -> np.ndarray:
        """Normalised windows (len(ends), context_length, channels)."""
        return (np.stack([self.samples.window(e) for e in ends]) - self.mean) / self.std

    def realised(self, ends: np.ndarray) -> np.ndarray:
        return np.maximum(self.samples.realised[ends], self.floor)

    def targets(self, ends: np.ndarray) -> np.ndarray:
        """Standardised log RV, what the head regresses."""
        return (np.log(self.realised(ends)) - self.target_mean) / self.target_std


def prepare_volatility(frame: pd.DataFrame, config: VolatilityTrainConfig, split: Split | None = None
                       ) -> PreparedVolatility:
    """`split` (sample end indices) replaces the default chronological split."""
    interval = bar_interval_seconds(frame.index)
    horizons = tuple(config.horizons or default_horizons(interval))
    time_of_day = is_intraday(interval) if config.time_of_day is None else config.time_of_day
    samples = make_volatility_samples(frame, config.context_length, horizons, time_of_day)
    split = split or chronological_split(samples, step=config.sample_step)
    mean, std = normalisation_stats(samples, split.train)
    train_end = int(split.train.max()) + 1  # bars a baseline may learn from: up to the last training window's end
    floor = FLOOR_FRACTION * np.nanmean(samples.realised[split.train], axis=0)
    log_train = np.log(np.maximum(samples.realised[split.train], floor))
    r = np.sqrt(samples.measure)  # a "return" whose square is the measure: baselines read what the target sums
    seasonal = None
    if time_of_day:
        local = frame.index.tz_convert(MARKET_TZ) if frame.index.tz is not None else frame.index
        seasonal = time_of_day_scale(r, (local.hour * 60 + local.minute).to_numpy(), train_end)
    har_forecast, har = har_benchmark(samples.measure, horizons, train_end, har_windows_of(interval), floor)
    baselines = {
        "unconditional": np.broadcast_to(np.exp(log_train).mean(axis=0), samples.realised.shape),
        "har": har_forecast,
        "ewma": np.stack([np.maximum(ewma_forecasts(r, h, train_end, seasonal=seasonal), f)
                          for h, f in zip(horizons, floor)], 1),
    }
    return PreparedVolatility(frame, samples, split, horizons, channels_for(time_of_day), interval, mean, std, floor,
                              log_train.mean(axis=0), log_train.std(axis=0), baselines, har)


def har_benchmark(measure: np.ndarray, horizons, train_end: int, windows: tuple[int, ...],
                  floor: np.ndarray) -> tuple[np.ndarray, dict | None]:
    """HAR fitted on the training bars with the report's windows: its forecasts at every bar,
    (bars, horizons), floored; and what the served model needs to make them again (windows,
    coefficients and floor per horizon). NaN and None where training is too short to fit HAR."""
    try:
        fits = [har_forecasts(measure, train_end, h, windows) for h in horizons]
    except ValueError as exc:
        logger.warning("no HAR baseline: %s", exc)
        return np.full((len(measure), len(horizons)), np.nan), None
    forecasts = np.stack([np.maximum(f, fl) for (f, _), fl in zip(fits, floor)], axis=1)
    return forecasts, {"windows": list(windows), "coefficients": [c.tolist() for _, c in fits],
                       "floor": [har_floor(measure, train_end, h) for h in horizons]}


def batches(p: PreparedVolatility, ends: np.ndarray, batch_size: int, rng: np.random.Generator | None = None):
    order = rng.permutation(len(ends)) if rng is not None else np.arange(len(ends))
    for start in range(0, len(order), batch_size):
        idx = ends[order[start:start + batch_size]]
        yield torch.from_numpy(p.inputs(idx)).float(), torch.from_numpy(p.targets(idx)).float()


@torch.inference_mode()
def mean_loss(network, p: PreparedVolatility, ends: np.ndarray, batch_size: int = 256) -> float:
    """The head's negative log-likelihood (summed over horizons) averaged over windows."""
    network.eval()
    total = 0.0
    for x, y in batches(p, ends, batch_size):
        total += network(past_values=x.to(network.device), target_values=y.to(network.device)).loss.item() * len(y)
    return total / len(ends)


def score_part(model: VolatilityModel, p: PreparedVolatility, ends: np.ndarray) -> dict:
    """Per horizon on these windows: QLIKE (model's E[RV]) and log-MSE (model's mean log RV)
    for the model and each baseline (None for one without a forecast on every window: HAR needs
    22 x horizon bars behind it), and the model's VaR breach rates. Overlapping windows
    make neighbouring scores dependent: these are averages, not tests."""
    log_mean, _ = model.predict_log_variance(p.inputs(ends))
    variance = expected_variance(log_mean, model.metadata.smearing)
    realised = p.realised(ends)
    returns = p.samples.returns[ends]
    out = {"samples": len(ends)}
    for k, h in enumerate(p.horizons):
        rv = realised[:, k]
        scores = {"model": {"qlike": float(qlike(variance[:, k], rv).mean()),
                            "log_mse": float(log_mse(np.exp(log_mean[:, k]), rv).mean())}}
        for name, forecasts in p.baselines.items():
            f = forecasts[ends, k]
            scores[name] = None if np.isnan(f).any() else {"qlike": float(qlike(f, rv).mean()),
                                                           "log_mse": float(log_mse(f, rv).mean())}
        z = model.metadata.z_quantiles[k]  # the served VaR: the training windows' standardised quantile
        scores["var_breach_rate"] = {
            f"{c:.0%}": float((returns[:, k] < np.interp(1 - c, QUANTILE_LEVELS, z) * np.sqrt(variance[:, k])).mean())
            for c in VAR_COVERAGES}
        out[f"h{h}"] = scores
    return out


def finalize(network, p: PreparedVolatility, config: VolatilityTrainConfig, version: str, history: list[dict],
             best_epoch: int, session: str | None = None) -> tuple[VolatilityModel, dict]:
    """Fit the smearing factor, nu and the standardised return's quantiles per horizon on the
    training windows, score validation and test, and wrap it all into a model whose metadata
    says what it forecasts from which bars."""
    metadata = VolatilityModelMetadata(
        model_id=config.model_id, version=version, horizons=list(p.horizons), channels=p.channels,
        feature_mean=p.mean.tolist(), feature_std=p.std.tolist(), target_mean=p.target_mean.tolist(),
        target_std=p.target_std.tolist(), smearing=[1.0] * len(p.horizons), nu=[0.0] * len(p.horizons),
        variance_floor=p.floor.tolist(), bar_interval_s=p.bar_interval_s, session=session, har=p.har,
        input_ranges=fit_input_ranges((p.samples.features - p.mean) / p.std, p.split.train, config.context_length))
    model = VolatilityModel(network, metadata, prefer_gpu=False)
    log_mean, _ = model.predict_log_variance(p.inputs(p.split.train))
    metadata.smearing = (p.realised(p.split.train) / np.exp(log_mean)).mean(axis=0).tolist()
    standardised = p.samples.returns[p.split.train] / np.sqrt(expected_variance(log_mean, metadata.smearing))
    metadata.nu = [fit_nu(standardised[:, k]) for k in range(len(p.horizons))]
    fits = [empirical_z(p.samples.returns[p.split.train][:, k], variance_k)
            for k, variance_k in enumerate(expected_variance(log_mean, metadata.smearing).T)]
    metadata.z_quantiles, metadata.z_std = [q for q, _ in fits], [sd for _, sd in fits]
    metadata.bars_per_year = measured_bars_per_year(p.frame.index)
    metrics = {"best_epoch": best_epoch, "smearing": metadata.smearing, "nu": metadata.nu,
               "validation": score_part(model, p, p.split.validation), "test": score_part(model, p, p.split.test),
               "history": history}
    index = p.frame.index
    metadata.extra = {
        "train_config": asdict(config),
        "data_window": {"first_bar": str(index[0]), "last_bar": str(index[-1]), "bars": len(index),
                        "train_until": str(index[int(p.split.train.max())])},
        "metrics": metrics,
        "code_commit": code_commit(),
    }
    return model, metrics


Report = Callable[[dict, Callable[[Path], None]], None]


def train_volatility(frame: pd.DataFrame, config: VolatilityTrainConfig, out_dir: str | Path | None = None,
                     version: str | None = None, report: Report | None = None, split: Split | None = None,
                     session: str | None = None) -> tuple[VolatilityModel, dict]:
    """Train on `frame` (OHLCV, time-indexed); returns the final model and its metrics, and
    saves the model directory at `out_dir` when given. `split` as in prepare_volatility;
    `session`: the session filter the bars went through ("regular" or "all"), recorded."""
    version = version or new_version()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    p = prepare_volatility(frame, config, split)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def build():
        return build_regression_patchtst(
            len(p.channels), len(p.horizons), config.context_length, config.patch_length, config.patch_stride,
            config.d_model, config.num_attention_heads, config.num_hidden_layers, config.ffn_dim, config.dropout,
            config.pooling_type)

    network = build().to(device)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    best = {"loss": float("inf"), "epoch": -1, "weights": None}
    history: list[dict] = []

    def best_network():
        restored = build()
        restored.load_state_dict(best["weights"])
        return restored.to(device)

    def write_checkpoint(directory: Path) -> None:
        with torch.random.fork_rng():  # building the copy must not move training's random stream
            model, _ = finalize(best_network(), p, config, version, history, best["epoch"], session)
        model.save(Path(directory) / MODEL_SUBDIR)

    for epoch in range(config.max_epochs):
        start = time.perf_counter()
        network.train()
        losses = []
        for x, y in batches(p, p.split.train, config.batch_size, rng):
            loss = network(past_values=x.to(device), target_values=y.to(device)).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        val_loss = mean_loss(network, p, p.split.validation)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                  "train_samples": len(p.split.train), "seconds": time.perf_counter() - start}
        history.append(record)
        if val_loss < best["loss"]:
            best.update(loss=val_loss, epoch=epoch,
                        weights={k: v.detach().cpu().clone() for k, v in network.state_dict().items()})
        logger.info("epoch %d  train %.4f  val %.4f  best %.4f (epoch %d)  %.0f s", epoch, record["train_loss"],
                    val_loss, best["loss"], best["epoch"], record["seconds"])
        if report is not None:
            report({**record, "best_val_loss": best["loss"]}, write_checkpoint)
        if epoch - best["epoch"] >= config.patience:
            logger.info("early stop: no validation gain for %d epochs", config.patience)
            break

    model, metrics = finalize(best_network(), p, config, version, history, best["epoch"], session)
    if out_dir is not None:
        model.save(out_dir)
    return model, metrics
