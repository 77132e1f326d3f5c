"""Probability forecasts of classes scored with confidence intervals.

Per-window losses (log-loss, multi-class Brier) and hits, summarised as means with moving-block
bootstrap 95 % intervals: windows in time order are resampled in blocks, because neighbouring
market windows are not independent (volatility clusters), which an i.i.d. bootstrap such as
`scipy.stats.bootstrap` would ignore and so report intervals too narrow. The block length is
chosen from the data (Politis and White 2004, with Patton, Politis and White's 2009
correction, as the `arch` package computes it): daily and intraday series need different
blocks. Differences between two forecasters are bootstrapped on the same resamples (paired).
"""

from __future__ import annotations

import numpy as np

from models.evaluation import window_losses


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray, classes: int) -> float:
    """Mean recall over the classes that occur."""
    recalls = [(predicted[labels == k] == k).mean() for k in range(classes) if (labels == k).any()]
    return float(np.mean(recalls))


def block_resamples(n: int, block: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, n) indices of moving-block bootstrap samples: blocks of `block` consecutive
    windows, starting anywhere, laid end to end and cut to n."""
    block = max(1, min(block, n))
    starts = rng.integers(0, n - block + 1, size=(reps, -(-n // block)))
    return (starts[:, :, None] + np.arange(block)).reshape(reps, -1)[:, :n]


def politis_white_block(*series: np.ndarray) -> int:
    """Block length for a moving-block bootstrap of these series (the longest any needs):
    Politis–White's estimate for the circular block bootstrap, which is also the moving-block
    optimum, rounded up; 1 for a constant or very short series (under 10 values)."""
    from arch.bootstrap import optimal_block_length

    lengths = [1.0]
    for x in series:
        x = np.asarray(x, dtype=np.float64)
        if len(x) >= 10 and x.std() > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                estimate = float(optimal_block_length(x)["circular"].iloc[0])
            if np.isfinite(estimate):
                lengths.append(estimate)
    return int(np.ceil(max(lengths)))


def interval(values: np.ndarray) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def score_forecasts(forecasts: dict[str, np.ndarray], labels: np.ndarray, reference: str,
                    block: int | None = None, reps: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Scores of each forecaster (name -> (n, classes) probabilities) on the same windows:
    accuracy, balanced accuracy, log-loss, Brier, and Brier skill against `reference`
    (1 - Brier / reference's Brier; > 0 is better than the reference), each with a 95 %
    block-bootstrap interval; the skill's interval is paired on the same resamples. `block`:
    the bootstrap block length, by default Politis–White's for the per-window Brier scores."""
    labels = np.asarray(labels)
    n, classes = len(labels), next(iter(forecasts.values())).shape[1]
    losses = {name: window_losses(p, labels) for name, p in forecasts.items()}
    block = block or politis_white_block(*(loss["brier"] for loss in losses.values()))
    idx = block_resamples(n, block, reps, np.random.default_rng(seed))
    ref_brier = losses[reference]["brier"]
    out = {}
    for name, p in forecasts.items():
        loss = losses[name]
        predicted = np.asarray(p).argmax(axis=1)
        boot_balanced = [balanced_accuracy(predicted[i], labels[i], classes) for i in idx]
        skill = 1 - loss["brier"][idx].mean(axis=1) / ref_brier[idx].mean(axis=1)
        out[name] = {
            "n": n,
            "accuracy": float(loss["hit"].mean()), "accuracy_ci": interval(loss["hit"][idx].mean(axis=1)),
            "balanced_accuracy": balanced_accuracy(predicted, labels, classes),
            "balanced_accuracy_ci": interval(np.asarray(boot_balanced)),
            "log_loss": float(loss["log_loss"].mean()), "log_loss_ci": interval(loss["log_loss"][idx].mean(axis=1)),
            "brier": float(loss["brier"].mean()), "brier_ci": interval(loss["brier"][idx].mean(axis=1)),
            "brier_skill": float(1 - loss["brier"].mean() / ref_brier.mean()), "brier_skill_ci": interval(skill),
            "bootstrap_block": block,
        }
    return out


def reliability_bins(prob: np.ndarray, happened: np.ndarray, bins: int = 10) -> list[dict]:
    """Reliability diagram data for one class: per probability bin, the mean forecast, the
    observed frequency and the count (empty bins left out)."""
    prob, happened = np.asarray(prob, dtype=np.float64), np.asarray(happened, dtype=np.float64)
    which = np.minimum((prob * bins).astype(int), bins - 1)
    return [{"forecast": float(prob[which == b].mean()), "observed": float(happened[which == b].mean()),
             "n": int((which == b).sum())} for b in range(bins) if (which == b).any()]
