"""Realised variance and the baselines a volatility forecast must beat (numpy, arch; no Ray).

Target: the realised variance of the next `horizon` bars, the sum of their squared one-bar
log returns (RV_{t+1..t+h}); for daily bars the Parkinson range variance of a day,
(ln H/L)^2 / (4 ln 2), is the less noisy one-day measure. Every baseline is fitted on a
training part only and then forecasts each later period from the data before it:

- `har_forecasts`: HAR-RV (Corsi 2009), OLS of the next `horizon` periods' RV on the mean RV
  of the last 1, 5 and 22 periods (for daily bars; intraday, windows of bars such as an hour,
  a session and a week);
- `ewma_forecasts`: RiskMetrics, sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2, times horizon;
- `ewma_forecasts(..., seasonal=...)`: the same on returns divided by their time-of-day scale
  (fitted on training bars), times the scale of the bars forecast: intraday volatility is
  U-shaped over the session, and a plain EWMA reads the open's burst as a regime;
- `garch_forecasts`: GARCH(1,1) with the `arch` package, parameters estimated on the training
  part (`last_obs`), then filtered through the later bars with those parameters fixed.
"""

from __future__ import annotations

import math

import numpy as np

from models.evaluation import settled_bar

HAR_WINDOWS = (1, 5, 22)  # periods: the last one, a "week", a "month" (Corsi 2009)
RISKMETRICS_LAMBDA = 0.94
INTRADAY_BELOW_S = 6 * 3600  # bars closer than this are intraday: time of day matters, horizons of an hour
HOUR_S, SESSION_S = 3600, 6.5 * 3600  # a regular US session
TRADING_DAYS_PER_YEAR = 252


def is_intraday(bar_interval_s: float) -> bool:
    return bar_interval_s < INTRADAY_BELOW_S


def default_horizons(bar_interval_s: float) -> tuple[int, ...]:
    """Intraday: the next hour and one regular session (12 and 78 five-minute bars); else the
    next day and week (1 and 5 bars)."""
    if not is_intraday(bar_interval_s):
        return (1, 5)
    return tuple(max(1, round(s / bar_interval_s)) for s in (HOUR_S, SESSION_S))


def har_windows_of(bar_interval_s: float) -> tuple[int, ...]:
    """The windows HAR reads, in bars: daily bars Corsi's day, week and month (1, 5, 22);
    intraday an hour, a session and a week of sessions (12, 78, 390 five-minute bars)."""
    if not is_intraday(bar_interval_s):
        return HAR_WINDOWS
    session = round(SESSION_S / bar_interval_s)
    return (round(HOUR_S / bar_interval_s), session, 5 * session)


def bars_per_year(bar_interval_s: float) -> float:
    """Trading bars in a year, for a model that did not measure them on its bars: 252 days, of
    one regular session each intraday."""
    per_day = SESSION_S / bar_interval_s if is_intraday(bar_interval_s) else 1.0
    return TRADING_DAYS_PER_YEAR * per_day


def measured_bars_per_year(index) -> float:
    """Bars a year in a series, from its own span: what the bars of a session, a 24-hour market
    or weekly data make, whatever the interval assumes."""
    years = (index[-1] - index[0]).total_seconds() / (365.25 * 86_400)
    return (len(index) - 1) / years


def realised_variance(log_returns: np.ndarray, horizon: int) -> np.ndarray:
    """RV over the `horizon` returns after each bar: out[t] = sum(r[t+1 .. t+horizon]^2); NaN
    where fewer than `horizon` returns follow."""
    squared = np.concatenate([[0.0], np.cumsum(np.asarray(log_returns, dtype=np.float64) ** 2)])
    n = len(log_returns)
    out = np.full(n, np.nan)
    t = np.arange(n - horizon)
    out[t] = squared[t + horizon + 1] - squared[t + 1]
    return out


def realised_after(as_of: float, last_close: float, horizon: int, timestamps: np.ndarray, closes: np.ndarray,
                   measure: np.ndarray) -> tuple[float, float] | None:
    """What a variance forecast made at the bar at `as_of` (epoch seconds) turned out to be: the
    per-bar `measure` summed over the next `horizon` bars, and the log return over them; None
    while `timestamps` (increasing) do not hold that bar and the one `horizon` later."""
    i = settled_bar(as_of, horizon, timestamps)
    if i is None:
        return None
    return float(np.sum(measure[i + 1:i + horizon + 1])), math.log(closes[i + horizon] / last_close)


def session_returns(open_: np.ndarray, close: np.ndarray, days: np.ndarray) -> np.ndarray:
    """One-bar log returns within the session: a day's first bar moves from its own open, so the
    overnight gap (a third to a half of the summed squared 5-minute returns on SPY and NVDA)
    is not counted as intraday variance. `days`: each bar's calendar day."""
    close = np.asarray(close, dtype=np.float64)
    returns = np.diff(np.log(close), prepend=np.nan)
    first = np.concatenate([[True], np.asarray(days)[1:] != np.asarray(days)[:-1]])
    returns[first] = np.log(close[first]) - np.log(np.asarray(open_, dtype=np.float64)[first])
    return returns


def bar_variance(frame, intraday: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the per-bar variance measure a target sums, the one-bar log returns it comes from).
    Intraday: squared within-session returns (session_returns); daily: the Parkinson range
    variance, with close-to-close returns. A bar whose measure is 0 (no move, no range) takes
    a thousandth of the mean, so that logs stay finite without reading any later bar's value."""
    open_, high, low, close = (frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close"))
    if intraday:
        returns = session_returns(open_, close, frame.index.normalize().to_numpy())
        measure = returns ** 2
    else:
        returns = np.diff(np.log(close), prepend=np.nan)
        returns[0] = 0.0
        measure = parkinson_variance(high, low)
    floor = 1e-3 * np.cumsum(measure) / np.arange(1, len(measure) + 1)  # the mean up to each bar
    return np.where(measure > 0, measure, np.maximum(floor, 1e-12)), returns


def parkinson_variance(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """One bar's range-based variance estimate, (ln(high / low))^2 / (4 ln 2) (Parkinson 1980)."""
    # A difference of logs, not the log of a ratio: any positive finite prices give a finite variance.
    return (np.log(np.asarray(high, dtype=np.float64)) - np.log(np.asarray(low, dtype=np.float64))) ** 2 / (4 * math.log(2))


def har_design(period_rv: np.ndarray, windows=HAR_WINDOWS) -> np.ndarray:
    """Per period t, [1, mean RV over the last w periods up to t, for each w]; NaN rows until
    the longest window is full."""
    rv = np.asarray(period_rv, dtype=np.float64)
    sums = np.concatenate([[0.0], np.cumsum(rv)])
    t = np.arange(len(rv))
    columns = [np.ones(len(rv))]
    for w in windows:
        mean = np.full(len(rv), np.nan)
        full = t >= w - 1
        mean[full] = (sums[t[full] + 1] - sums[t[full] + 1 - w]) / w
        columns.append(mean)
    return np.column_stack(columns)


def har_at_last(variance: np.ndarray, windows, coefficients, floor: float) -> float:
    """The HAR forecast made at the last value of `variance` (which must cover the longest
    window): what har_forecasts gives at that bar, from fitted coefficients."""
    x = np.asarray(variance, dtype=np.float64)
    row = np.concatenate([[1.0], [x[-w:].mean() for w in windows]])
    return float(max(row @ np.asarray(coefficients, dtype=np.float64), floor))


def har_forecasts(variance: np.ndarray, train_end: int, horizon: int = 1,
                  windows=HAR_WINDOWS) -> tuple[np.ndarray, np.ndarray]:
    """HAR-RV, direct: OLS of the variance summed over the next `horizon` periods on the mean
    variance of the last w periods (each w in `windows`), fitted on targets that end before
    `train_end`; then the forecast made at every period t (its design reads up to t only).
    Returns (forecasts, coefficients); NaN until the longest window is full, and floored at a
    tiny positive variance."""
    x = np.asarray(variance, dtype=np.float64)
    design = har_design(x, windows)
    target = realised_variance(np.sqrt(x), horizon)  # sum of the next `horizon` values
    rows = np.arange(len(x))
    fit = (rows + horizon < train_end) & ~np.isnan(design).any(axis=1) & ~np.isnan(target)
    if not fit.any():
        raise ValueError(f"HAR needs more than {max(windows) + horizon} training periods, got {train_end}")
    coefficients, *_ = np.linalg.lstsq(design[fit], target[fit], rcond=None)
    return np.maximum(design @ coefficients, har_floor(x, train_end, horizon)), coefficients


def har_floor(variance: np.ndarray, train_end: int, horizon: int) -> float:
    """The lowest HAR forecast: a thousandth of the training mean over the horizon."""
    return 1e-3 * horizon * float(np.nanmean(np.asarray(variance, dtype=np.float64)[:train_end]))


def time_of_day_scale(log_returns: np.ndarray, slots: np.ndarray, train_end: int) -> np.ndarray:
    """Per bar, sqrt(mean squared return of its slot / mean squared return), both over the
    training bars only: the intraday volatility pattern. Slots unseen in training get 1."""
    r2 = np.asarray(log_returns, dtype=np.float64) ** 2
    slots = np.asarray(slots)
    overall = r2[:train_end].mean()
    scale = np.ones(len(r2))
    for slot in np.unique(slots):
        trained = slots[:train_end] == slot
        if trained.any():
            scale[slots == slot] = math.sqrt(r2[:train_end][trained].mean() / overall)
    return scale


def ewma_forecasts(log_returns: np.ndarray, horizon: int, train_end: int, lam: float = RISKMETRICS_LAMBDA,
                   seasonal: np.ndarray | None = None) -> np.ndarray:
    """Forecast at each bar t of the RV over bars t+1..t+horizon. The recursion starts from the
    training bars' variance and reads only returns up to t. With `seasonal` (per-bar scale,
    e.g. time_of_day_scale), the recursion runs on r / scale and the forecast sums the
    squared scales of the bars ahead."""
    r = np.asarray(log_returns, dtype=np.float64)
    scale = np.ones(len(r)) if seasonal is None else np.asarray(seasonal, dtype=np.float64)
    z2 = (r / scale) ** 2
    variance = np.empty(len(r))
    level = z2[:train_end].mean()
    for t, x in enumerate(z2):  # level after reading bar t: the next bar's variance
        level = lam * level + (1 - lam) * x
        variance[t] = level
    ahead = np.concatenate([[0.0], np.cumsum(scale ** 2)])
    t = np.arange(len(r) - horizon)
    out = np.full(len(r), np.nan)  # NaN where the bars ahead run past the data
    out[t] = variance[t] * (ahead[t + horizon + 1] - ahead[t + 1])
    return out


def garch_forecasts(log_returns: np.ndarray, horizon: int, train_end: int) -> tuple[np.ndarray, dict]:
    """GARCH(1,1) with a zero mean, estimated on the first `train_end` returns only, then the
    forecast at each bar of the variance summed over the next `horizon` bars. Returns are
    scaled by 100 for the optimiser and the variances scaled back. (forecasts, parameters)."""
    from arch import arch_model

    y = np.asarray(log_returns, dtype=np.float64) * 100
    model = arch_model(y, mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
    fitted = model.fit(last_obs=train_end, disp="off")
    paths = fitted.forecast(horizon=horizon, start=0, reindex=True).variance.to_numpy()
    return paths.sum(axis=1) / 1e4, dict(fitted.params)
