"""HAR-RV as a served volatility model: coefficients fitted on training bars, applied at the
last bar of a request (numpy, pandas; no torch).

The model-quality report scores every volatility forecaster on the same walk-forward windows
(training.volatility_eval): nothing beats HAR-RV significantly on SPY daily or SPY 5-minute,
and PatchTST beats it nowhere. So the graph serves HAR by default; a PatchTST volatility model
serves through the same deployment when the promotion gate admits it (not worse than HAR on its
test windows). The return over each horizon is the forecast volatility times a standardised
return whose quantiles are those of the training bars' returns divided by HAR's forecast at
the same bars (filtered historical simulation; models.risk).

A model is a directory holding only `investiq.json` (no network weights): this metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from models.model_directory import METADATA_FILE
from models.risk import ReturnDistribution
from models.session import MARKET_TZ
from models.volatility import bar_variance, har_at_last, is_intraday

HAR_FORECASTER = "har"


@dataclass
class HarModelMetadata:
    model_id: str
    version: str
    horizons: list[int]  # bars ahead
    windows: list[int]  # bars each HAR regressor averages over (models.volatility.har_windows_of)
    coefficients: list[list[float]]  # per horizon: intercept, then one per window
    floor: list[float]  # per horizon: the lowest variance forecast (a thousandth of the training mean)
    z_quantiles: list[list[float]]  # per horizon: the standardised return's quantiles at models.risk.QUANTILE_LEVELS
    z_std: list[float]  # per horizon: its standard deviation
    bar_interval_s: float
    bars_per_year: float  # measured on the training bars (models.volatility.measured_bars_per_year)
    session: str | None = None  # "regular" or "all", as for the price model
    forecaster: str = HAR_FORECASTER  # tells a HAR directory from a PatchTST one
    extra: dict = field(default_factory=dict)  # training window, validation and test scores, commit


def bars_frame(bars: dict) -> pd.DataFrame:
    """The API's columns (epoch-second timestamps) as a frame indexed in US/Eastern, the
    exchange time training reads (days start at the exchange's midnight)."""
    index = pd.to_datetime(np.asarray(bars["timestamps"], dtype=np.float64), unit="s", utc=True).tz_convert(MARKET_TZ)
    return pd.DataFrame({k: np.asarray(bars[k], dtype=np.float64) for k in ("open", "high", "low", "close")},
                        index=index)


def bar_measure(bars: dict, intraday: bool) -> np.ndarray:
    """Per bar of the API's columns, the variance measure a target sums (models.volatility.bar_variance)."""
    return bar_variance(bars_frame(bars), intraday)[0]


def har_variances(bars: dict, windows, coefficients, floors, intraday: bool) -> list[float]:
    """Per horizon, HAR's variance forecast made at the last of the API's bars."""
    measure = bar_measure(bars, intraday)
    return [har_at_last(measure, windows, c, f) for c, f in zip(coefficients, floors)]


class HarVolatilityModel:
    KIND = "volatility"

    def __init__(self, metadata: HarModelMetadata):
        self.metadata = metadata
        self.intraday = is_intraday(metadata.bar_interval_s)
        self.device = "cpu"

    @property
    def min_bars(self) -> int:
        """Bars a request must carry: the longest window."""
        return max(self.metadata.windows)

    def benchmark_variances(self, bars: dict) -> list[float]:
        """Per horizon, HAR's variance forecast made at the last bar: this model's own."""
        m = self.metadata
        return har_variances(bars, m.windows, m.coefficients, m.floor, self.intraday)

    def forecast_bars(self, bars: dict) -> tuple[list[ReturnDistribution], None]:
        """The return distribution per horizon, and None: HAR keeps no training input ranges,
        so its inputs are not checked."""
        m = self.metadata
        return [ReturnDistribution(h, v, tuple(q), sd)
                for h, v, q, sd in zip(m.horizons, self.benchmark_variances(bars), m.z_quantiles, m.z_std)], None

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / METADATA_FILE).write_text(json.dumps(asdict(self.metadata), indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, prefer_gpu: bool = False) -> "HarVolatilityModel":
        path = Path(directory) / METADATA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a volatility model directory (no {METADATA_FILE})")
        try:
            return cls(HarModelMetadata(**json.loads(path.read_text())))
        except TypeError as exc:
            raise ValueError(f"{directory} is not a HAR volatility model directory: {exc}") from None


def is_har_directory(directory: str | Path) -> bool:
    path = Path(directory) / METADATA_FILE
    return path.is_file() and json.loads(path.read_text()).get("forecaster") == HAR_FORECASTER


def load_volatility_model(directory: str | Path, prefer_gpu: bool = True):
    """Either kind of served volatility model, by what its directory holds. torch and
    transformers are imported only for a PatchTST one: a replica serving HAR stays light."""
    if is_har_directory(directory):
        return HarVolatilityModel.load(directory)
    from models.volatility_model import VolatilityModel

    return VolatilityModel.load(directory, prefer_gpu)
