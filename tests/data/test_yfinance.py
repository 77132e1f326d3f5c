"""yfinance: an empty answer (what it gives offline) is an error naming symbol and interval,
or, with a cache, a warning and the cache. The download is patched: no network."""

import pandas as pd
import pytest
import yfinance

from training.data import DataSourceError, fetch_yfinance, load_bars_csv


def yahoo_frame(start: str, n: int) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="5min", tz="UTC", name="Datetime")
    close = pd.Series(range(100, 100 + n), index=index, dtype=float)
    return pd.DataFrame({"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 1000.0})


def test_empty_download_without_cache_names_symbol_and_interval(monkeypatch, tmp_path):
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.DataFrame())
    with pytest.raises(DataSourceError, match="no bars for SPY at interval 5m.*--bars"):
        fetch_yfinance("SPY", "5m", "5d", tmp_path)


def test_download_is_cached_and_reused_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: yahoo_frame("2025-06-02 13:30", 10))
    first = fetch_yfinance("SPY", "5m", "5d", tmp_path)
    assert first.index[0] == pd.Timestamp("2025-06-02 09:30")  # UTC -> US/Eastern, naive
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: yahoo_frame("2025-06-02 14:00", 10))
    merged = fetch_yfinance("SPY", "5m", "5d", tmp_path)
    assert len(merged) == 16  # 10 + 10, six bars overlap
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: pd.DataFrame())
    offline = fetch_yfinance("SPY", "5m", "5d", tmp_path)
    pd.testing.assert_frame_equal(offline, load_bars_csv(tmp_path / "SPY_5m.csv"))
    assert len(offline) == 16


def test_intraday_history_limit_is_respected(tmp_path):
    with pytest.raises(ValueError, match="last 60 days"):
        fetch_yfinance("SPY", "5m", "1y", tmp_path)
