"""The return distribution behind a variance forecast (numpy, scipy).

The horizon log return is modelled as s * sqrt(variance) * t_nu: a Student-t whose scale is
the forecast volatility, with the degrees of freedom nu and a scale factor s fitted on
training returns divided by the forecast volatility. Its quantiles are value-at-risk
thresholds (training.volatility_eval scores their coverage).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def return_quantile(probability: float, variance, nu, scale=1.0):
    """The `probability` quantile of scale * sqrt(variance) * t_nu (arrays broadcast)."""
    return stats.t.ppf(probability, nu) * scale * np.sqrt(variance)
