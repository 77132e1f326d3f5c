"""What a variance forecast means for a position: the risk figures an agent acts on (numpy, scipy).

Per horizon, from the forecast variance of the log return and a Student-t shape fitted on
training returns divided by the forecast volatility (degrees of freedom nu, scale factor s):
the return's distribution is s * sqrt(variance) * t_nu. From it:
- `volatility`: its standard deviation, s * sqrt(variance * nu / (nu - 2));
- `interval`: the central predictive interval of the return at a level;
- `value_at_risk`: the loss not exceeded with probability `level` (a positive number);
- `position_scale`: target volatility / forecast volatility (volatility targeting), capped,
  both over the same horizon.
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
    variance: float  # forecast variance of the horizon log return
    nu: float  # Student-t degrees of freedom (> 2)
    scale: float = 1.0  # fitted on training: the return is scale * sqrt(variance) * t_nu

    def __post_init__(self):
        if not (self.variance > 0 and self.nu > 2 and self.scale > 0):
            raise ValueError(f"need variance > 0, nu > 2 and scale > 0, got {self}")

    @property
    def volatility(self) -> float:
        return self.scale * math.sqrt(self.variance * self.nu / (self.nu - 2))

    def quantile(self, probability: float) -> float:
        return float(return_quantile(probability, self.variance, self.nu, self.scale))

    def interval(self, level: float) -> tuple[float, float]:
        return self.quantile((1 - level) / 2), self.quantile((1 + level) / 2)

    def value_at_risk(self, level: float) -> float:
        return -self.quantile(1 - level)


def position_scale(target_volatility: float, forecast_volatility: float, cap: float = 1.0) -> float:
    """The exposure that makes the position's forecast volatility the target, at most `cap`."""
    if target_volatility <= 0 or forecast_volatility <= 0:
        raise ValueError("target and forecast volatility must be > 0")
    return min(cap, target_volatility / forecast_volatility)
