"""Realised volatility over fixed horizons from OHLCV bars, with transformers' PatchTST (issue 14).

The model reads `context_length` bars as the price model's stationary channels
(models.price_direction.ohlcv_features) plus, for intraday bars, the time of day as sin/cos
of the bar's US/Eastern clock time (intraday volatility is U-shaped over the session, so the
same recent moves mean a different variance ahead at 09:35 than at 12:30). It regresses the
log realised variance (sum of squared one-bar log returns, models.volatility.realised_variance)
over each horizon, one head output per horizon.

Horizons are fixed bar counts, since a head has a fixed number of outputs: for 5-minute bars
12 (the next hour) and 78 (one regular session, 6.5 h; "the rest of the session" would change
length with the time of day), for daily bars 1 and 5 (next day, next week).

The head is PatchTST's Normal distribution head on the standardised log RV: per horizon a
mean m and a standard deviation s of log RV, trained by likelihood. m is the point forecast of
log RV. The variance forecast is E[RV] = c exp(m), with c per horizon the smearing factor
(Duan 1983), the mean of RV / exp(m) over the training windows: exp(m) alone is biased low
(Jensen), and the log-normal correction exp(m + s^2/2) is badly wrong for short horizons, whose
log RV is far from normal (one bar: log chi-squared(1), long left tail; it overstated the
variance about threefold). QLIKE, the score that ranks variance forecasts, punishes either
bias. The return over a horizon is then Student-t with that variance and zero mean (drift is
negligible against volatility at these horizons): r_h = sqrt(V (nu-2)/nu) t_nu, with one nu
per horizon fitted by maximum likelihood on the training windows' standardised returns
r_h / sqrt(V). Quantiles and value-at-risk come from it.

A model is a directory: transformers' config.json + weights, and `investiq.json` with the
horizons, channels, normalisation statistics, nu and metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar
from scipy.stats import t as student_t
from transformers import PatchTSTForRegression

from models.input_range import InputShift, input_shifts
from models.model_directory import BarModel
from models.price_direction import CHANNELS as PRICE_CHANNELS
from models.price_direction import ohlcv_features, patchtst_config
from models.har_model import har_variances
from models.risk import ReturnDistribution, return_quantile, student_t_z
from models.session import MARKET_TZ

TIME_CHANNELS = ("time_of_day_sin", "time_of_day_cos")
VAR_COVERAGES = (0.95, 0.99)
NU_BOUNDS = (2.1, 200.0)  # above 2 the variance exists; at 200 the t is a normal for every practical purpose


def time_of_day_features(timestamps) -> np.ndarray:
    """(T,) times -> (T, 2) float32 sin/cos of the US/Eastern clock time over 24 h. Accepts a
    DatetimeIndex (naive = exchange time, as in the shared CSVs) or epoch seconds."""
    index = (timestamps if isinstance(timestamps, pd.DatetimeIndex)
             else pd.to_datetime(np.asarray(timestamps, dtype=np.float64), unit="s", utc=True))
    local = index.tz_convert(MARKET_TZ) if index.tz is not None else index
    angle = 2 * np.pi * (local.hour * 60 + local.minute + local.second / 60).to_numpy(np.float64) / 1440
    return np.stack([np.sin(angle), np.cos(angle)], axis=1).astype(np.float32)


def volatility_features(open_, high, low, close, volume, timestamps=None) -> np.ndarray:
    """(T bars) -> (T-1, channels): the price channels, plus the time-of-day channels of the
    bar each move ends at when `timestamps` is given."""
    feats = ohlcv_features(open_, high, low, close, volume)
    if timestamps is None:
        return feats
    return np.concatenate([feats, time_of_day_features(timestamps)[1:]], axis=1)


def channels_for(time_of_day: bool) -> list[str]:
    """The channel names volatility_features produces, in order."""
    return list(PRICE_CHANNELS) + (list(TIME_CHANNELS) if time_of_day else [])


def expected_variance(log_mean, smearing) -> np.ndarray:
    """E[RV] = smearing x exp(mean log RV)."""
    return np.asarray(smearing, dtype=np.float64) * np.exp(np.asarray(log_mean, dtype=np.float64))


def unit_variance_quantile(variance, nu, level) -> np.ndarray:
    """The `level` quantile of a zero-mean Student-t return whose variance is `variance`."""
    nu = np.asarray(nu, dtype=np.float64)
    return return_quantile(level, variance, nu, np.sqrt((nu - 2) / nu))


def fit_nu(standardised: np.ndarray) -> float:
    """Maximum-likelihood degrees of freedom of a unit-variance Student-t for returns already
    divided by their forecast volatility (the variance is the forecast's, not refitted)."""
    z = np.asarray(standardised, dtype=np.float64)
    z = z[np.isfinite(z)]

    def nll(nu: float) -> float:
        c = math.sqrt((nu - 2) / nu)
        return -(student_t.logpdf(z / c, nu) - math.log(c)).sum()

    return float(minimize_scalar(nll, bounds=NU_BOUNDS, method="bounded").x)


@dataclass
class VolatilityModelMetadata:
    model_id: str
    version: str
    horizons: list[int]  # bars ahead, one head output each
    channels: list[str]
    feature_mean: list[float]
    feature_std: list[float]
    target_mean: list[float]  # of log RV per horizon over the training windows: the head regresses
    target_std: list[float]  # (log RV - target_mean) / target_std
    smearing: list[float]  # per horizon: E[RV] / exp(mean log RV), fitted on the training windows
    nu: list[float]  # Student-t degrees of freedom of the return per horizon
    variance_floor: list[float]  # per horizon: realised variances below it count as it (bars that did not move)
    bar_interval_s: float | None = None
    session: str | None = None  # "regular" or "all", as for the price model
    input_ranges: dict | None = None  # as PriceModelMetadata.input_ranges
    har: dict | None = None  # HAR fitted on the same training bars: windows, coefficients, floor per horizon
    # Stored since the served risk block; None in older directories (a Student-t and 252 sessions a year then).
    z_quantiles: list[list[float]] | None = None  # per horizon: the standardised return's quantiles (models.risk)
    z_std: list[float] | None = None
    bars_per_year: float | None = None  # measured on the training bars
    extra: dict = field(default_factory=dict)  # training config and window, metrics, commit


@dataclass(frozen=True)
class HorizonForecast:
    horizon: int  # bars
    log_variance: float  # point forecast of log RV (the head's mean)
    log_variance_std: float  # the head's standard deviation of log RV
    variance: float  # E[RV] = smearing x exp(log_variance): the variance of the return over the horizon
    nu: float  # Student-t degrees of freedom of that return
    var_95: float  # value-at-risk as a positive log return: -quantile(0.05)
    var_99: float

    def quantile(self, level: float) -> float:
        """The `level` quantile of the log return over the horizon."""
        return float(unit_variance_quantile(self.variance, self.nu, level))


def build_regression_patchtst(num_input_channels: int, num_horizons: int, context_length: int = 256,
                              patch_length: int = 16, patch_stride: int = 8, d_model: int = 32,
                              num_attention_heads: int = 4, num_hidden_layers: int = 2, ffn_dim: int = 64,
                              dropout: float = 0.1, pooling_type: str = "mean") -> PatchTSTForRegression:
    if pooling_type not in ("mean", "max"):  # anything else fails only at the first forward pass
        raise ValueError(f"pooling_type must be 'mean' or 'max', got {pooling_type!r}")
    config = patchtst_config(num_input_channels, num_horizons, context_length, patch_length, patch_stride, d_model,
                             num_attention_heads, num_hidden_layers, ffn_dim, dropout, loss="nll",
                             distribution_output="normal", pooling_type=pooling_type)
    return PatchTSTForRegression(config)


class VolatilityModel(BarModel):
    """A PatchTST regressor of log RV plus what turns raw bars into variance and return quantiles."""

    METADATA_CLASS, NETWORK_CLASS, KIND = VolatilityModelMetadata, PatchTSTForRegression, "volatility"

    @property
    def needs_timestamps(self) -> bool:
        return TIME_CHANNELS[0] in self.metadata.channels

    def window(self, open_, high, low, close, volume, timestamps=None) -> np.ndarray:
        """Normalised model input (context_length, channels) from the most recent bars;
        `timestamps` (DatetimeIndex or epoch seconds) is required by intraday models."""
        n = self.min_bars
        if len(close) < n:
            raise ValueError(f"need at least {n} bars, got {len(close)}")
        if self.needs_timestamps and timestamps is None:
            raise ValueError("this model reads the time of day: pass the bars' timestamps")
        cols = [np.asarray(x)[-n:] for x in (open_, high, low, close, volume)]
        return self.normalise(volatility_features(*cols, timestamps=timestamps[-n:] if self.needs_timestamps else None))

    def input_shifts(self, window: np.ndarray) -> list[InputShift] | None:
        """The channels of a normalised window outside what training saw (models.input_range)."""
        if self.metadata.input_ranges is None:
            return None
        return input_shifts(window, self.metadata.input_ranges, self.metadata.channels)

    @torch.inference_mode()
    def predict_log_variance(self, windows: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of log RV, each (batch, horizons), for normalised windows
        shaped (batch, context_length, channels)."""
        mu, sd = np.asarray(self.metadata.target_mean), np.asarray(self.metadata.target_std)
        means, stds = [], []
        for start in range(0, len(windows), batch_size):
            x = torch.as_tensor(np.asarray(windows[start:start + batch_size], dtype=np.float32), device=self.device)
            loc, scale = self.network(past_values=x).regression_outputs
            means.append(loc.double().cpu().numpy())
            stds.append(scale.double().cpu().numpy())
        return mu + sd * np.concatenate(means), sd * np.concatenate(stds)

    def predict_windows(self, windows: np.ndarray) -> list[list[HorizonForecast]]:
        """Per window, one forecast per horizon (in metadata.horizons order)."""
        log_mean, log_std = self.predict_log_variance(windows)
        return [[self.forecast(k, m, s) for k, (m, s) in enumerate(zip(row_m, row_s))]
                for row_m, row_s in zip(log_mean, log_std)]

    def forecast(self, k: int, log_mean: float, log_std: float) -> HorizonForecast:
        """The forecast for horizon number `k` from the head's log-RV mean and std."""
        variance, nu = float(expected_variance(log_mean, self.metadata.smearing[k])), self.metadata.nu[k]
        var_95, var_99 = (-float(unit_variance_quantile(variance, nu, 1 - c)) for c in VAR_COVERAGES)
        return HorizonForecast(horizon=self.metadata.horizons[k], log_variance=float(log_mean),
                               log_variance_std=float(log_std), variance=variance, nu=nu, var_95=var_95, var_99=var_99)

    def forecast_bars(self, bars: dict) -> tuple[list[ReturnDistribution], list[InputShift] | None]:
        """From the API's columns (epoch-second timestamps): the return distribution per horizon
        (the empirical standardised return of the training windows, as the report scores it; a
        unit-variance Student-t for a directory saved before those were stored), and the
        window's channels outside what training saw."""
        window = self.window(*(bars[k] for k in ("open", "high", "low", "close", "volume")),
                             timestamps=np.asarray(bars["timestamps"], dtype=np.float64))
        forecasts = self.predict_windows(window[None])[0]
        m = self.metadata
        z = (list(zip(map(tuple, m.z_quantiles), m.z_std)) if m.z_quantiles is not None
             else [student_t_z(nu) for nu in m.nu])
        return ([ReturnDistribution(f.horizon, f.variance, *z_k) for f, z_k in zip(forecasts, z)],
                self.input_shifts(window))


    def benchmark_variances(self, bars: dict) -> list[float] | None:
        """Per horizon, HAR's forecast at the last bar (fitted on this model's training bars):
        the benchmark evaluation scores it beside. None for a model saved without it, or for
        fewer bars than HAR's longest window."""
        har = self.metadata.har
        if har is None or len(bars["close"]) < max(har["windows"]):
            return None
        return har_variances(bars, har["windows"], har["coefficients"], har["floor"], self.needs_timestamps)
