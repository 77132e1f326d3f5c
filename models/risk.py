"""The return distribution behind a variance forecast, and what a trader reads off it (numpy, scipy).

The horizon log return is modelled as sqrt(variance) * z: the forecast volatility times a
standardised return z whose distribution is fitted on training returns divided by the
forecast volatility at the same bars. The served HAR model takes z's empirical quantiles
(filtered historical simulation, Barone-Adesi et al. 1999): on the report's walk-forward
windows (training.volatility_eval scores every forecaster's VaR this way) its coverage is not
rejected, where a fitted Student-t's 99 % was in the report's previous run. The PatchTST
model's z is a unit-variance Student-t (models.volatility_model). Either way z is kept as its quantiles on
one grid of levels, which give value-at-risk thresholds and predictive intervals, and its
standard deviation, which sizes a volatility-targeted position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

# The levels at which z's quantiles are kept: the tails a risk user reads, and enough between
# them to interpolate an interval.
QUANTILE_LEVELS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995)


def return_quantile(probability: float, variance, nu, scale=1.0):
    """The `probability` quantile of scale * sqrt(variance) * t_nu (arrays broadcast)."""
    return stats.t.ppf(probability, nu) * scale * np.sqrt(variance)


def empirical_z(returns: np.ndarray, variance: np.ndarray) -> tuple[list[float], float]:
    """z's quantiles at QUANTILE_LEVELS and its standard deviation, from returns divided by the
    forecast volatility (non-finite pairs left out)."""
    z = np.asarray(returns, dtype=np.float64) / np.sqrt(np.asarray(variance, dtype=np.float64))
    z = z[np.isfinite(z)]
    return np.quantile(z, QUANTILE_LEVELS).tolist(), float(z.std())


def student_t_z(nu: float) -> tuple[tuple[float, ...], float]:
    """A unit-variance Student-t's quantiles at QUANTILE_LEVELS, and its standard deviation (1)."""
    return tuple((stats.t.ppf(QUANTILE_LEVELS, nu) * math.sqrt((nu - 2) / nu)).tolist()), 1.0


@dataclass(frozen=True)
class ReturnDistribution:
    """The log return over the next `horizon` bars: sqrt(variance) * z, z given by its quantiles
    at QUANTILE_LEVELS and its standard deviation."""

    horizon: int  # bars
    variance: float  # the forecast variance of the realised measure the model was scored on
    z_quantiles: tuple[float, ...]
    z_std: float

    @property
    def volatility(self) -> float:
        """The forecast realised volatility, sqrt(variance): what QLIKE scores."""
        return math.sqrt(self.variance)

    @property
    def return_std(self) -> float:
        return self.z_std * self.volatility

    def quantile(self, probability: float) -> float:
        """Interpolated between the kept levels; outside them the tails are not known."""
        if not QUANTILE_LEVELS[0] <= probability <= QUANTILE_LEVELS[-1]:
            raise ValueError(f"quantiles are kept from {QUANTILE_LEVELS[0]} to {QUANTILE_LEVELS[-1]}, "
                             f"not {probability}")
        return float(np.interp(probability, QUANTILE_LEVELS, self.z_quantiles)) * self.volatility

    def value_at_risk(self, coverage: float) -> float:
        """The loss (a positive log return) exceeded with probability 1 - coverage."""
        return -self.quantile(1 - coverage)


def position_scale(return_std: float, horizon_bars: int, bars_per_year: float, target_annual_volatility: float,
                   max_scale: float) -> float:
    """Volatility targeting: the fraction of capital whose return volatility over the horizon
    equals the annual target's share of it (sqrt-time over trading bars), capped at `max_scale`."""
    target = target_annual_volatility * math.sqrt(horizon_bars / bars_per_year)
    return min(max_scale, target / return_std) if return_std > 0 else max_scale
