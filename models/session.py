"""The trading session a price model was trained on, in one place: training cuts bars to it,
the client sends only bars inside it, and the price deployment refuses bars outside it.

"regular": weekday bars that start from 09:30 to 15:55 US/Eastern (the regular US session in
5-minute bars; exchange holidays are not known here). "all": any time. A naive time is
exchange time (US/Eastern), as in the shared CSVs and the yfinance cache; the API itself
accepts only zoned times (deployments/schemas.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MARKET_TZ = "America/New_York"
OPEN, LAST_BAR = pd.Timestamp("09:30").time(), pd.Timestamp("15:55").time()
REGULAR = "regular 09:30-15:55 US/Eastern, weekdays"


def in_regular_session(index: pd.DatetimeIndex) -> np.ndarray:
    """Which bars start within the regular session; a naive index is exchange time."""
    local = index.tz_convert(MARKET_TZ) if index.tz is not None else index
    times = local.time
    return (times >= OPEN) & (times <= LAST_BAR) & (local.dayofweek < 5)


def market_time(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The index in US/Eastern with its zone. Naive times are read as exchange time; the hour a
    daylight-saving change skips or repeats is dropped (NaT), since it has no single instant."""
    if index.tz is not None:
        return index.tz_convert(MARKET_TZ)
    return index.tz_localize(MARKET_TZ, ambiguous="NaT", nonexistent="NaT")


def session_error(timestamps, session: str | None, field: str = "bars.timestamps") -> str | None:
    """None when every bar (epoch seconds) is inside the model's session, else a message naming
    the first bar outside it. A model that does not record its session accepts any bar."""
    if session != "regular" or len(timestamps) == 0:
        return None
    index = pd.to_datetime(np.asarray(timestamps, dtype=np.float64), unit="s", utc=True).tz_convert(MARKET_TZ)
    outside = ~in_regular_session(index)
    if not outside.any():
        return None
    i = int(np.argmax(outside))
    return (f"{field}[{i}] ({index[i]:%a %Y-%m-%d %H:%M %Z}) is outside the session this model was trained on "
            f"({REGULAR}); send only bars of that session, with their zone")
