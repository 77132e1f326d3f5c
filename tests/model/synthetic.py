"""Synthetic bars with known structure, for tests that need a series with drift or with
something to learn (tests.support.random_walk_frame has neither)."""

import numpy as np
import pandas as pd


def frame_from_log_returns(log_returns: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Valid 5-minute OHLCV bars whose closes follow `log_returns` from 100."""
    rng = np.random.default_rng(seed)
    n = len(log_returns)
    close = 100 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0, 5e-4, (2, n))
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * (1 + spread[0]),
                         "low": np.minimum(open_, close) * (1 - spread[1]), "close": close,
                         "volume": rng.integers(1_000, 100_000, n).astype(float)},
                        index=pd.date_range("2025-01-06 09:30", periods=n, freq="5min", name="timestamp"))


DRIFT, VOL = 5e-4, 1e-3  # drifting_frame's one-bar log-return mean and standard deviation


def drifting_frame(n: int, seed: int, drift: float = DRIFT, vol: float = VOL) -> pd.DataFrame:
    """I.i.d. returns with a strong upward drift: the past says nothing about the future, but
    most horizons go up."""
    return frame_from_log_returns(np.random.default_rng(seed).normal(drift, vol, n), seed)


def momentum_frame(n: int, seed: int, phi: float = 0.5, vol: float = 1e-3) -> pd.DataFrame:
    """AR(1) one-bar returns: the last moves predict the next ones, so a model can learn."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, vol, n)
    returns = np.zeros(n)
    for i in range(1, n):
        returns[i] = phi * returns[i - 1] + shocks[i]
    return frame_from_log_returns(returns, seed)


def garch_frame(n: int, seed: int, alpha: float = 0.15, beta: float = 0.83, vol: float = 1e-3,
                nu: float | None = None) -> pd.DataFrame:
    """GARCH(1,1) one-bar returns with unconditional standard deviation `vol`, normal or (with
    `nu`) unit-variance Student-t shocks: volatility clusters, so its recent level predicts the next."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu) if nu else rng.standard_normal(n)
    omega = vol ** 2 * (1 - alpha - beta)
    variance, returns = vol ** 2, np.zeros(n)
    for i in range(n):
        returns[i] = np.sqrt(variance) * shocks[i]
        variance = omega + alpha * returns[i] ** 2 + beta * variance
    return frame_from_log_returns(returns, seed)
