"""The return distribution behind a variance forecast, and what a trader reads off it (numpy, scipy).

The horizon log return is modelled as scale * sqrt(variance) * t_nu: a Student-t whose scale is
the forecast volatility, with the degrees of freedom nu and a scale factor fitted on training
returns divided by the forecast volatility (for the PatchTST model, the scale that gives the
return exactly the forecast variance). Its quantiles are value-at-risk thresholds and
predictive intervals (training.volatility_eval scores their coverage), and its standard
deviation sizes a volatility-targeted position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def return_quantile(probability: float, variance, nu, scale=1.0):
    """The `probability` quantile of scale * sqrt(variance) * t_nu (arrays broadcast)."""
    return stats.t.ppf(probability, nu) * scale * np.sqrt(variance)


@dataclass(frozen=True)
class ReturnDistribution:
    """The log return over the next `horizon` bars: scale * sqrt(variance) * t_nu."""

    horizon: int  # bars
    variance: float  # the forecast variance of the realised measure the model was scored on
    nu: float
    scale: float

    @property
    def volatility(self) -> float:
        """The forecast realised volatility, sqrt(variance): what QLIKE scores."""
        return math.sqrt(self.variance)

    @property
    def return_std(self) -> float:
        """The standard deviation of the return itself (nu > 2)."""
        return self.scale * self.volatility * math.sqrt(self.nu / (self.nu - 2))

    def quantile(self, probability: float) -> float:
        return float(return_quantile(probability, self.variance, self.nu, self.scale))

    def value_at_risk(self, coverage: float) -> float:
        """The loss (a positive log return) exceeded with probability 1 - coverage."""
        return -self.quantile(1 - coverage)


def position_scale(return_std: float, horizon_bars: int, bars_per_year: float, target_annual_volatility: float,
                   max_scale: float) -> float:
    """Volatility targeting: the fraction of capital whose return volatility over the horizon
    equals the annual target's share of it (sqrt-time over trading bars), capped at `max_scale`."""
    target = target_annual_volatility * math.sqrt(horizon_bars / bars_per_year)
    return min(max_scale, target / return_std) if return_std > 0 else max_scale
