"""Bars in, model samples out: CSV layouts, the regular-session filter, direction labels,
and a chronological split whose parts never share a bar.

Layouts read by `load_bars_csv` (column names are matched case-insensitively):
- daily, as in ../shared/data/stocks/daily:   Date,Open,High,Low,Close,Volume
- intraday, as in .../intraday_5min:          datetime,open,high,low,close,volume
- generic:                                    timestamp,open,high,low,close,volume
  (timestamp: ISO-8601 or anything pandas parses; extra columns such as `idx` are ignored)
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.direction import direction_labels, flat_band
from models.price_direction import ohlcv_features
from models.session import MARKET_TZ, in_regular_session

logger = logging.getLogger(__name__)

OHLCV = ["open", "high", "low", "close", "volume"]
TIME_COLUMNS = ("timestamp", "datetime", "date")
# How far back Yahoo serves each intraday interval, in days.
YFINANCE_HISTORY_DAYS = {"1m": 7, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "60m": 730, "90m": 60, "1h": 730}


class DataSourceError(RuntimeError):
    """A data source gave nothing usable; the message says which and what to do."""


def shared_data_dir() -> Path:
    """The reference data beside the project; INVESTIQ_SHARED_DATA points elsewhere."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("INVESTIQ_SHARED_DATA", default))


def load_bars_csv(path: str | Path) -> pd.DataFrame:
    """OHLCV frame indexed by a naive timestamp, sorted, duplicates kept last, bad rows dropped."""
    raw = pd.read_csv(path)
    columns = {c.lower(): c for c in raw.columns}
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    missing = [c for c in OHLCV if c not in columns]
    if time_col is None or missing:
        raise ValueError(f"{path}: need a time column ({'/'.join(TIME_COLUMNS)}) and {OHLCV}; missing {missing}")
    frame = raw[[columns[c] for c in OHLCV]].set_axis(OHLCV, axis=1).astype(float)
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw[time_col]), name="timestamp")
    frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    prices = frame[["open", "high", "low", "close"]]
    valid = (prices > 0).all(axis=1) & np.isfinite(frame).all(axis=1) & (frame["volume"] >= 0)
    valid &= (frame["high"] >= frame["low"])
    return frame[valid]


def period_days(period: str) -> float:
    """yfinance period ('60d', '3mo', '2y', 'ytd', 'max') in days, roughly."""
    if period == "max":
        return math.inf
    if period == "ytd":
        return 366
    match = re.fullmatch(r"(\d+)(d|wk|mo|y)", period)
    if not match:
        raise ValueError(f"unknown period {period!r}: use e.g. 60d, 3mo, 2y, ytd or max")
    return int(match[1]) * {"d": 1, "wk": 7, "mo": 31, "y": 366}[match[2]]


def fetch_yfinance(symbol: str, interval: str, period: str, cache_dir: str | Path) -> pd.DataFrame:
    """Bars from Yahoo through yfinance, merged into a local CSV cache that offline runs reuse.

    yfinance returns an empty frame instead of raising when offline: with a cache that is a
    warning and the cache is used; without one it is an error naming symbol and interval.
    """
    limit = YFINANCE_HISTORY_DAYS.get(interval)
    if limit is not None and period_days(period) > limit:
        raise ValueError(f"yfinance keeps {interval} bars for the last {limit} days only; use --period {limit}d or less")
    cache = Path(cache_dir) / f"{symbol}_{interval}.csv"
    import yfinance as yf

    try:
        raw = yf.download(symbol, period=period, interval=interval, auto_adjust=True, progress=False,
                          multi_level_index=False)
    except Exception as exc:  # yfinance raises on some network errors, returns empty on others
        logger.warning("yfinance download of %s %s failed: %s", symbol, interval, exc)
        raw = None
    if raw is None or raw.empty:
        if cache.is_file():
            logger.warning("yfinance returned no bars for %s at %s; using the cache %s", symbol, interval, cache)
            return load_bars_csv(cache)
        raise DataSourceError(f"yfinance returned no bars for {symbol} at interval {interval} (offline or unknown "
                              f"symbol) and there is no cache at {cache}; pass --bars with a CSV instead")
    frame = raw.rename(columns=str.lower)[OHLCV].astype(float)
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:  # intraday bars come zoned; keep exchange time, naive, like the shared CSVs
        index = index.tz_convert(MARKET_TZ).tz_localize(None)
    frame.index = index.rename("timestamp")
    if cache.is_file():
        frame = pd.concat([load_bars_csv(cache), frame])
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    frame.to_csv(tmp)
    os.replace(tmp, cache)
    return frame


def load_bars(csv: str | Path | None = None, symbol: str | None = None, interval: str = "5m",
              period: str = "60d", cache_dir: str | Path = "var/bars", session: str = "all") -> pd.DataFrame:
    """Bars from a CSV or from yfinance, optionally cut to the regular session."""
    if csv is not None:
        frame = load_bars_csv(csv)
    elif symbol is not None:
        frame = fetch_yfinance(symbol, interval, period, cache_dir)
    else:
        raise ValueError("give a CSV path or a symbol")
    return regular_session(frame) if session == "regular" else frame


def regular_session(frame: pd.DataFrame) -> pd.DataFrame:
    """Weekday bars that start within the regular US session (models.session; naive times are US/Eastern)."""
    return frame[in_regular_session(frame.index)]


def horizon_log_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """r[e] = log(close[e + horizon] / close[e]); NaN where the horizon runs past the data."""
    log_close = np.log(np.asarray(close, dtype=np.float64))
    out = np.full(len(log_close), np.nan)
    out[:-horizon] = log_close[horizon:] - log_close[:-horizon]
    return out


@dataclass
class Samples:
    """Windows over one bar series. Sample k reads feature rows [ends[k]-L, ends[k]) — bars
    ends[k]-L .. ends[k] — and is labelled by the return from bar ends[k] to ends[k]+horizon."""

    features: np.ndarray  # (bars - 1, channels); row i is the move from bar i to bar i + 1
    returns: np.ndarray  # horizon log return from each bar
    labels: np.ndarray
    context_length: int
    horizon: int

    def ends(self) -> np.ndarray:
        last = len(self.features) - self.horizon  # bar index whose label still fits
        return np.arange(self.context_length, last + 1)

    def window(self, end: int) -> np.ndarray:
        return self.features[end - self.context_length:end]


def make_samples(frame: pd.DataFrame, context_length: int, horizon: int, flat_band_bp: float,
                 flat_band_vol: float = 0.0) -> Samples:
    feats = ohlcv_features(*(frame[c].to_numpy() for c in OHLCV))
    returns = horizon_log_returns(frame["close"].to_numpy(), horizon)
    band = flat_band(frame["close"].to_numpy(), horizon, flat_band_bp, flat_band_vol)
    return Samples(feats, returns, direction_labels(returns, band), context_length, horizon)


@dataclass
class Split:
    train: np.ndarray  # sample end indices
    validation: np.ndarray
    test: np.ndarray


def chronological_split(samples: Samples, validation: float = 0.15, test: float = 0.15,
                        step: int = 1) -> Split:
    """Train, then validation, then test, in time order, with a purge between parts so that
    no bar read or labelled by one part is read or labelled by the next (gap = context + horizon)."""
    ends = samples.ends()
    n = len(ends)
    gap = samples.context_length + samples.horizon
    n_test, n_val = int(n * test), int(n * validation)
    n_train = n - n_val - n_test - 2 * gap
    if n_train <= 0 or n_val <= 0 or n_test <= 0:
        raise ValueError(f"{n} windows are too few for a split with a {gap}-bar purge; give more bars")
    train = ends[:n_train]
    val = ends[n_train + gap:n_train + gap + n_val]
    tst = ends[n_train + 2 * gap + n_val:]
    return Split(train[::step], val[::step], tst[::step])


def normalisation_stats(samples: Samples, train_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of the feature rows that training windows read, nothing later."""
    rows = samples.features[: train_ends.max()]
    std = rows.std(axis=0)
    return rows.mean(axis=0), np.where(std > 0, std, 1.0)
