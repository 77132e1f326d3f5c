"""A trading rule on direction probabilities, with costs, beside buy-and-hold.

Each period the rule goes long when P(up) - P(down) exceeds a threshold, short below minus
it, flat otherwise, and holds for one horizon (periods do not overlap). Costs are charged in
basis points per unit of position change, the entry from flat included.
"""

from __future__ import annotations

import math

import numpy as np

from models.direction import CLASSES

UP, DOWN = CLASSES.index("up"), CLASSES.index("down")


def positions(probs: np.ndarray, threshold: float) -> np.ndarray:
    """+1 long, -1 short, 0 flat per period."""
    edge = np.asarray(probs)[:, UP] - np.asarray(probs)[:, DOWN]
    return np.where(edge > threshold, 1.0, np.where(edge < -threshold, -1.0, 0.0))


def backtest(position: np.ndarray, log_returns: np.ndarray, cost_bp: float, periods_per_year: float) -> dict:
    """Figures of holding `position[t]` over period t, whose log return is `log_returns[t]`."""
    position = np.asarray(position, dtype=np.float64)
    simple = np.expm1(np.asarray(log_returns, dtype=np.float64))
    trades = np.abs(np.diff(position, prepend=0.0))
    pnl = position * simple - trades * cost_bp / 1e4
    equity = np.cumprod(1 + pnl)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    active = position != 0
    sd = pnl.std(ddof=1) if len(pnl) > 1 else 0.0
    return {
        "periods": len(pnl),
        "total_return": float(equity[-1] - 1) if len(pnl) else 0.0,
        "sharpe": float(pnl.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else 0.0,
        "max_drawdown": float((1 - equity / peak).max()) if len(pnl) else 0.0,
        "hit_rate": float((position[active] * simple[active] > 0).mean()) if active.any() else None,
        "exposure": float(active.mean()) if len(pnl) else 0.0,
        "turnover": float(trades.mean()) if len(pnl) else 0.0,  # position change per period
        "equity": equity.tolist(),
    }
