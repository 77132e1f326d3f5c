"""Retrain and promote: fresh data → candidate → gate against production → registry → Serve.

`retrain()` is the one function a scheduler (cron, a Ray Job) calls. It trains a candidate
(the production version's configuration, or the best of a short sweep), and `consider()`
gates it, publishes it and promotes it if it passes; `investiq train` and `investiq tune`
publish through `consider()` too, so no path promotes a model the gate refused.

The gate scores candidate, production and the base rate on the same windows with the same
labels: the candidate's held-out test windows (the most recent part of the data, which the
candidate never trained on), labelled with the registry's labelling (horizon, flat band,
volatility band), which every version of a registry shares. A candidate labelled otherwise
is not comparable and is refused. Both comparisons are Diebold–Mariano tests on per-window
log-loss differences d = candidate - other, with Newey–West errors whose lags cover the
overlap of neighbouring windows; promotion needs both to pass:
- against production, non-inferiority: the upper one-sided (1 - alpha) bound of mean(d) must
  be below `margin` nats. The burden of proof is on the candidate. Two versions of one model
  make nearly the same forecasts, so the paired test is sharp: an equal candidate passes
  (d = 0), a slightly worse one does not.
- against the base rate, the candidate must not be shown worse: the lower one-sided bound of
  mean(d) must not be above 0. Demanding proof of non-inferiority here would refuse every
  model on a few hundred windows, skilled or not, since a model's forecasts scatter around
  the base rate; a model that is measurably worse than the base rate is refused.
Every decision is recorded with its figures and reasons in the registry (decisions.jsonl
and the version's metadata, `extra.gate`).
A promotion or rollback reaches the running graph through the Price deployment's
user_config, which Serve applies in place (`reconfigure()`, no restart).
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from models.direction import CLASSES
from models.evaluation import diebold_mariano, newey_west_lags, window_losses
from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry, new_version
from training import tracking
from training.promotion import PromotionFailed, promote_and_follow
from training.data import make_samples
from training.train import TrainConfig, prepare, train

logger = logging.getLogger(__name__)
DEFAULT_MARGIN = 0.002  # nats of mean log-loss a candidate may lose and still count as not worse
DEFAULT_ALPHA = 0.05  # level of each one-sided non-inferiority test


def labelling(config: TrainConfig) -> dict:
    """The labelling a configuration trains on, as PriceModelMetadata.labelling() reports it."""
    return {"horizon": config.horizon, "flat_band_bp": config.flat_band_bp, "flat_band_vol": config.flat_band_vol}


def window_probabilities(model: PriceDirectionModel, frame: pd.DataFrame, ends: np.ndarray) -> np.ndarray:
    """(n, classes) probabilities of `model` on the windows ending at `ends` of `frame`, with its
    own context length, normalisation and temperature."""
    meta = model.metadata
    samples = make_samples(frame, model.context_length, meta.horizon, meta.flat_band_bp, meta.flat_band_vol)
    windows = np.stack([model.normalise(samples.window(e)) for e in ends])
    return np.array([[f.probabilities[c] for c in CLASSES]
                     for start in range(0, len(windows), 256) for f in model.predict_windows(windows[start:start + 256])])


def compare(loss: np.ndarray, other: np.ndarray, lags: int, alpha: float, rule: str, margin: float) -> dict:
    """Diebold–Mariano on loss - other, with one-sided (1 - alpha) bounds, judged by `rule`:
    "non-inferiority" (upper bound below margin) or "not shown worse" (lower bound not above 0)."""
    test = diebold_mariano(loss, other, maxlags=lags)
    z = norm.ppf(1 - alpha)
    lower, upper = test["estimate"] - z * test["se"], test["estimate"] + z * test["se"]
    passed = upper < margin if rule == "non-inferiority" else lower <= 0
    return {"rule": rule, "mean_difference": test["estimate"], "hac_se": test["se"], "t": test["t"],
            "p_value": test["p_value"], "lower_bound": lower, "upper_bound": upper, "passed": bool(passed)}


def gate(candidate: PriceDirectionModel, production: PriceDirectionModel | None, frame: pd.DataFrame,
         config: TrainConfig, margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA
         ) -> tuple[bool, list[str], dict]:
    """Whether to promote `candidate` (trained with `config` on `frame`), why, and the figures."""
    if production is not None and candidate.metadata.labelling() != production.metadata.labelling():
        return False, [f"not comparable: production labels {production.metadata.labelling()}, candidate "
                       f"{candidate.metadata.labelling()}; the labelling is fixed per registry"], {}
    prepared = prepare(frame, config)
    contexts = [m.context_length for m in (candidate, production) if m is not None]
    ends = prepared.split.test[prepared.split.test >= max(contexts)]
    labels = prepared.samples.labels[ends]
    forecasts = {"candidate": window_probabilities(candidate, frame, ends),
                 "base_rate": np.tile(prepared.base_rates, (len(ends), 1))}
    if production is not None:
        forecasts["production"] = window_probabilities(production, frame, ends)
    losses = {name: window_losses(p, labels) for name, p in forecasts.items()}
    # Windows `sample_step` bars apart share outcomes over a `horizon`: the lags must cover that overlap.
    lags = max(newey_west_lags(len(ends)), math.ceil(config.horizon / config.sample_step))
    figures = {
        "windows": len(ends), "first_window": str(frame.index[int(ends.min())]),
        "last_window": str(frame.index[int(ends.max())]), "labelling": labelling(config), "margin": margin,
        "alpha": alpha, "hac_lags": lags,
        "log_loss": {name: float(loss["log_loss"].mean()) for name, loss in losses.items()},
        "accuracy": {name: float(loss["hit"].mean()) for name, loss in losses.items()},
    }
    reasons, passed = [], True
    for other, rule in (("production", "non-inferiority"), ("base_rate", "not shown worse")):
        if other not in losses:
            reasons.append("no production version yet")
            continue
        test = compare(losses["candidate"]["log_loss"], losses[other]["log_loss"], lags, alpha, rule, margin)
        figures[f"vs_{other}"] = test
        passed &= test["passed"]
        if rule == "non-inferiority":
            verdict = (f"upper bound {test['upper_bound']:+.4f} {'<' if test['passed'] else '>='} margin {margin:g}: "
                       f"{'not worse' if test['passed'] else 'not shown to be no worse'}")
        else:
            verdict = (f"lower bound {test['lower_bound']:+.4f}: {'not shown worse' if test['passed'] else 'worse'}")
        reasons.append(f"candidate - {other.replace('_', ' ')} log-loss {test['mean_difference']:+.4f} (HAC se "
                       f"{test['hac_se']:.4f}, t {test['t']:+.2f}); {1 - alpha:.0%} {verdict} on {len(ends)} windows")
    if production is not None:
        until = production.metadata.extra.get("data_window", {}).get("train_until")
        figures["production_trained_until"] = until
        if until and until >= figures["first_window"]:
            reasons.append(f"note: production trained on bars up to {until}, after the first scored window")
    return passed, reasons, figures


def consider(candidate: PriceDirectionModel, registry: ModelRegistry, frame: pd.DataFrame, config: TrainConfig,
             version: str, promote: bool = True, margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA,
             run_id: str | None = None, tracking_uri: str | None = None, serve_address: str | None = None,
             app: str = "investiq") -> dict:
    """Gate `candidate` against the registry's production, publish it as `version` with the
    gate's decision and its MLflow run id in its metadata, and promote it when `promote` is
    asked and the gate passed. Returns the decision."""
    production_version = registry.production()
    production = (PriceDirectionModel.load(registry.production_path(), prefer_gpu=False)
                  if production_version else None)
    passed, reasons, figures = gate(candidate, production, frame, config, margin, alpha)
    promoted = passed and promote
    decision = {"candidate": version, "production_before": production_version, "passed": passed,
                "promoted": promoted, "reasons": reasons, "figures": figures, "config": asdict(config),
                "mlflow_run_id": run_id}
    gate_record = {"passed": passed, "promoted": promoted, "production_before": production_version,
                   "reasons": reasons, "figures": figures}
    with tempfile.TemporaryDirectory() as tmp:
        registry.publish(candidate.save(Path(tmp) / "candidate"), version,
                         extra={"gate": gate_record, "mlflow_run_id": run_id})
    if promoted:  # with a serve address, the graph follows or the promotion is undone (PromotionFailed)
        try:
            promote_and_follow(registry, version, serve_address, app, reason="; ".join(reasons), gate=figures)
        except PromotionFailed:
            tracking.record_registration(tracking_uri, run_id, registry.root, version, False)
            raise
    elif not passed:
        registry.record({"action": "reject", "version": version, "reasons": reasons, "gate": figures})
    tracking.record_registration(tracking_uri, run_id, registry.root, version, promoted)
    logger.info("%s: %s (%s)", version, "promoted" if promoted else "published" if passed else "refused",
                "; ".join(reasons))
    return decision


def train_tracked(frame: pd.DataFrame, config: TrainConfig, version: str, session: str | None,
                  tracking_uri: str | None, report=None, **train_options) -> tuple[PriceDirectionModel, dict, str | None]:
    """train() as an MLflow run: params, data window, every epoch, the final metrics; the run id
    goes into the model's metadata. `report`: a further per-epoch hook (e.g. checkpoints)."""
    run = tracking.TrainingRun(tracking_uri, version, config, frame, session)

    def both(record, write_checkpoint):
        run.report(record, write_checkpoint)
        if report is not None:
            report(record, write_checkpoint)

    try:
        model, metrics = train(frame, config, version=version, report=both, session=session, **train_options)
    except BaseException:
        run.finish({}, failed=True)
        raise
    run.finish(metrics)
    model.metadata.extra["mlflow_run_id"] = run.run_id
    return model, metrics, run.run_id


def retrain(frame: pd.DataFrame, registry_root: str | Path, config: TrainConfig | None = None,
            margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA, sweep_samples: int = 0,
            storage_path: str | Path = "var/tune", serve_address: str | None = None, app: str = "investiq",
            session: str | None = None, tracking_uri: str | None = None) -> dict:
    """Train a candidate, then gate, publish and maybe promote it (`consider`); returns the decision.
    The candidate is labelled as production is: a configuration with another labelling is an error."""
    registry = ModelRegistry(registry_root)
    production_version = registry.production()
    production_meta = registry.metadata(production_version) if production_version else None
    if config is None:
        config = TrainConfig(**production_meta["extra"]["train_config"]) if production_meta else TrainConfig()
    if production_meta is not None:
        fixed = {"horizon": production_meta["horizon"], "flat_band_bp": production_meta["flat_band_bp"],
                 "flat_band_vol": production_meta.get("flat_band_vol", 0.0)}
        if labelling(config) != fixed:
            raise ValueError(f"the registry's labelling is {fixed} (production {production_version}); a candidate "
                             f"labelled {labelling(config)} cannot be compared with it")
    version = new_version()
    if sweep_samples:
        from training.tune import best_of, best_run_id, run_sweep

        results = run_sweep(frame, config, sweep_samples, storage_path, name=f"retrain-{version}",
                            tracking_uri=tracking_uri, session=session)
        (config, model_dir), run_id = best_of(results), best_run_id(results, tracking_uri)
        candidate = PriceDirectionModel.load(model_dir, prefer_gpu=False)
        shutil.rmtree(model_dir.parent, ignore_errors=True)  # best_of's local copy of the checkpoint
    else:
        candidate, _, run_id = train_tracked(frame, config, version, session, tracking_uri)
    return consider(candidate, registry, frame, config, version, margin=margin, alpha=alpha, run_id=run_id,
                    tracking_uri=tracking_uri, serve_address=serve_address, app=app)
