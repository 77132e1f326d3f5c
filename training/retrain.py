"""Retrain and promote: fresh data → candidate → gate against production → registry → Serve.

`retrain()` is the one function a scheduler (cron, a Ray Job) calls. It trains a candidate
(the production version's configuration, or the best of a short sweep), and `consider()`
gates it, publishes it and promotes it if it passes; `investiq train` and `investiq tune`
publish through `consider()` too, so no path promotes a model the gate refused.

The gate scores candidate, production and the base rate on the same windows with the same
labels: every one of the candidate's held-out test windows (the most recent part of the
data, which the candidate never trained on), labelled with the registry's labelling (horizon,
flat band, volatility band) on bars of the registry's interval and session, which every
version of a registry shares. A candidate that differs in any of these is not comparable and
is refused. Both comparisons are Diebold–Mariano tests on the per-window log-loss differences
d = candidate - other, with Newey–West errors whose lags cover the horizon, over which
neighbouring windows share outcome bars. The candidate is refused when either comparison
finds it worse:
- significantly worse: the lower one-sided (1 - alpha) bound of mean(d) is above 0; or
- worse on the point estimate: mean(d) is above `margin` nats against production, above 0
  against the base rate.
Otherwise it passes. The burden of proof is on the evidence that the candidate is worse, not
on the candidate, because proof of non-inferiority is out of reach: two independently trained
models of equal skill differ window by window, and on a few hundred windows the standard
error of mean(d) can be wider than any useful margin, so such a rule refuses most retrained
models of equal skill. The point-estimate conditions bound what a promotion can cost: the measured
loss is at most `margin` above production's, and never above the base rate's, which
forecasts nothing beyond the training class frequencies.
Every decision is recorded with its figures and reasons in the registry (decisions.jsonl
and the version's metadata, `extra.gate`).
A promotion or rollback reaches the running graph through the Price deployment's
user_config, which Serve applies in place (`reconfigure()`, no restart).
"""

from __future__ import annotations

import logging
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
from training.data import chronological_split, make_samples, regular_session
from training.train import TrainConfig, bar_interval_seconds, prepare, train

logger = logging.getLogger(__name__)
DEFAULT_MARGIN = 0.002  # nats of mean log-loss a candidate may measure worse than production and pass
DEFAULT_ALPHA = 0.05  # level of each one-sided test that the candidate is worse


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


def compare(loss: np.ndarray, other: np.ndarray, lags: int, alpha: float, margin: float) -> dict:
    """Diebold–Mariano on d = loss - other: it fails when the lower one-sided (1 - alpha) bound
    of mean(d) is above 0 (significantly worse) or when mean(d) is above `margin`."""
    test = diebold_mariano(loss, other, maxlags=lags)
    lower = test["estimate"] - norm.ppf(1 - alpha) * test["se"]
    significantly_worse, beyond_margin = lower > 0, test["estimate"] > margin
    return {"mean_difference": test["estimate"], "hac_se": test["se"], "t": test["t"],
            "p_worse": float(norm.sf(test["t"])), "lower_bound": lower, "margin": margin,
            "significantly_worse": bool(significantly_worse), "beyond_margin": bool(beyond_margin),
            "passed": not (significantly_worse or beyond_margin)}


def gate(candidate: PriceDirectionModel, production: PriceDirectionModel | None, frame: pd.DataFrame,
         config: TrainConfig, margin: float = DEFAULT_MARGIN, alpha: float = DEFAULT_ALPHA
         ) -> tuple[bool, list[str], dict]:
    """Whether to promote `candidate` (trained with `config` on `frame`), why, and the figures."""
    if production is not None and candidate.metadata.comparability() != production.metadata.comparability():
        return False, [f"not comparable: production {production.metadata.comparability()}, candidate "
                       f"{candidate.metadata.comparability()}; these are fixed per registry"], {}
    prepared = prepare(frame, config)
    held_out = chronological_split(prepared.samples).test  # every test window, not every sample_step-th
    contexts = [m.context_length for m in (candidate, production) if m is not None]
    ends = held_out[held_out >= max(contexts)]
    labels = prepared.samples.labels[ends]
    forecasts = {"candidate": window_probabilities(candidate, frame, ends),
                 "base_rate": np.tile(prepared.base_rates, (len(ends), 1))}
    if production is not None:
        forecasts["production"] = window_probabilities(production, frame, ends)
    losses = {name: window_losses(p, labels) for name, p in forecasts.items()}
    # Windows 1 bar apart share outcome bars over a `horizon`: the lags must cover that overlap.
    lags = max(newey_west_lags(len(ends)), config.horizon)
    figures = {
        "windows": len(ends), "first_window": str(frame.index[int(ends.min())]),
        "last_window": str(frame.index[int(ends.max())]), "labelling": labelling(config), "margin": margin,
        "alpha": alpha, "hac_lags": lags,
        "log_loss": {name: float(loss["log_loss"].mean()) for name, loss in losses.items()},
        "accuracy": {name: float(loss["hit"].mean()) for name, loss in losses.items()},
    }
    reasons, passed = [], True
    for other, tolerance in (("production", margin), ("base_rate", 0.0)):
        if other not in losses:
            reasons.append("no production version yet")
            continue
        test = compare(losses["candidate"]["log_loss"], losses[other]["log_loss"], lags, alpha, tolerance)
        figures[f"vs_{other}"] = test
        passed &= test["passed"]
        worse = ([f"significantly worse ({1 - alpha:.0%} lower bound {test['lower_bound']:+.4f} > 0)"]
                 * test["significantly_worse"] + [f"worse by more than {tolerance:g}"] * test["beyond_margin"])
        verdict = "; ".join(worse) or f"not worse by more than {tolerance:g}, nor significantly (p {test['p_worse']:.3f})"
        reasons.append(f"candidate - {other.replace('_', ' ')} log-loss {test['mean_difference']:+.4f} (HAC se "
                       f"{test['hac_se']:.4f}, t {test['t']:+.2f}) on {len(ends)} windows: {verdict}")
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
    publish_decision(candidate, registry, version, decision, serve_address, app, tracking_uri)
    return decision


def publish_decision(candidate, registry: ModelRegistry, version: str, decision: dict, serve_address: str | None,
                     app: str, tracking_uri: str | None = None) -> None:
    """Publish `candidate` (any model with `save`) as `version` with the gate's decision in its
    metadata, promote it when the decision says so (the graph follows, or the promotion is
    undone: PromotionFailed), record a refusal, and tell MLflow."""
    passed, promoted, reasons, figures = (decision[k] for k in ("passed", "promoted", "reasons", "figures"))
    run_id = decision.get("mlflow_run_id")
    gate_record = {"passed": passed, "promoted": promoted, "production_before": decision["production_before"],
                   "reasons": reasons, "figures": figures}
    with tempfile.TemporaryDirectory() as tmp:
        registry.publish(candidate.save(Path(tmp) / "candidate"), version,
                         extra={"gate": gate_record, "mlflow_run_id": run_id})
    if promoted:
        try:
            promote_and_follow(registry, version, serve_address, app, reason="; ".join(reasons), gate=figures)
        except PromotionFailed as exc:
            tracking.record_registration(tracking_uri, run_id, registry.root, version, False)
            raise PromotionFailed(f"{version} passed the gate and is published, but {exc}") from exc.__cause__
        if not serve_address:
            logger.warning("production is now %s, but a running graph was not told (its replicas load it only "
                           "when they restart): promote with --serve-address to move the graph too", version)
    elif not passed:
        registry.record({"action": "reject", "version": version, "reasons": reasons, "gate": figures})
    tracking.record_registration(tracking_uri, run_id, registry.root, version, promoted)
    logger.info("%s: %s (%s)", version, "promoted" if promoted else "published" if passed else "refused",
                "; ".join(reasons))


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
            session: str | None = None, tracking_uri: str | None = None, ray_address: str = "auto") -> dict:
    """Train a candidate, then gate, publish and maybe promote it (`consider`); returns the decision.
    The candidate is labelled as production is, on bars of its interval and session: `session`
    None takes production's; another labelling, bar interval or session is an error."""
    registry = ModelRegistry(registry_root)
    production_version = registry.production()
    production_meta = registry.metadata(production_version) if production_version else None
    if config is None:
        config = TrainConfig(**production_meta["extra"]["train_config"]) if production_meta else TrainConfig()
    session = session or (production_meta or {}).get("session")
    if session == "regular":
        frame = regular_session(frame)
    if production_meta is not None:
        fixed = {key: production_meta.get(key) for key in ("horizon", "flat_band_bp", "flat_band_vol",
                                                             "bar_interval_s", "session")}
        ours = {**labelling(config), "bar_interval_s": bar_interval_seconds(frame.index), "session": session}
        if ours != fixed:
            raise ValueError(f"the registry's labelling, bars and session are {fixed} (production "
                             f"{production_version}); a candidate on {ours} cannot be compared with it")
    version = new_version()
    if sweep_samples:
        from training.tune import best_of, best_run_id, run_sweep

        results = run_sweep(frame, config, sweep_samples, storage_path, name=f"retrain-{version}",
                            tracking_uri=tracking_uri, session=session, ray_address=ray_address)
        (config, model_dir), run_id = best_of(results), best_run_id(results, tracking_uri)
        candidate = PriceDirectionModel.load(model_dir, prefer_gpu=False)
        shutil.rmtree(model_dir.parent, ignore_errors=True)  # best_of's local copy of the checkpoint
    else:
        candidate, _, run_id = train_tracked(frame, config, version, session, tracking_uri)
    return consider(candidate, registry, frame, config, version, margin=margin, alpha=alpha, run_id=run_id,
                    tracking_uri=tracking_uri, serve_address=serve_address, app=app)
