"""Retrain and promote: fresh data → candidate → gate against production → registry → Serve.

`retrain()` is the one function a scheduler (cron, a Ray Job) calls. It trains a candidate
(the production version's configuration, or the best of a short sweep), scores candidate and
production on the same most recent held-out windows, and promotes only when the candidate's
log-loss is at most `tolerance` worse than production's. Every decision is recorded with its
reasons in the registry. A promotion or rollback reaches the running graph through the Price
deployment's user_config, which Serve applies in place (`reconfigure()`, no restart).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry, new_version
from training.train import TrainConfig, prepare, score, train

logger = logging.getLogger(__name__)


def score_on_windows(model: PriceDirectionModel, frame: pd.DataFrame, ends: np.ndarray, labels: np.ndarray,
                     base_rates: np.ndarray) -> dict:
    """Log-loss and accuracy of `model` on windows ending at `ends` of `frame`, with its own
    context length, normalisation and temperature."""
    from training.data import make_samples

    samples = make_samples(frame, model.context_length, model.metadata.horizon, model.metadata.flat_band_bp)
    windows = np.stack([model.normalise(samples.window(e)) for e in ends])
    probs = []
    for start in range(0, len(windows), 256):
        forecasts = model.predict_windows(windows[start:start + 256])
        probs += [[f.probabilities[c] for c in ("up", "flat", "down")] for f in forecasts]
    return score(torch.tensor(probs), torch.from_numpy(labels), base_rates)


def gate(candidate: PriceDirectionModel, production: PriceDirectionModel | None, frame: pd.DataFrame,
         config: TrainConfig, tolerance: float) -> tuple[bool, list[str], dict]:
    """Whether to promote, why, and the scores, on the candidate's held-out test windows
    (the most recent part of the data, which the candidate never trained on)."""
    if production is None:
        return True, ["no production version yet"], {}
    cm, pm = candidate.metadata, production.metadata
    if (cm.horizon, cm.flat_band_bp) != (pm.horizon, pm.flat_band_bp):
        return False, [f"not comparable: production labels horizon {pm.horizon} / band {pm.flat_band_bp} bp, "
                       f"candidate {cm.horizon} / {cm.flat_band_bp} bp; promote by hand if intended"], {}
    prepared = prepare(frame, config)
    ends = prepared.split.test[prepared.split.test >= max(candidate.context_length, production.context_length)]
    labels = prepared.samples.labels[ends]
    scores = {name: score_on_windows(model, frame, ends, labels, prepared.base_rates)
              for name, model in (("candidate", candidate), ("production", production))}
    limit = scores["production"]["log_loss"] * (1 + tolerance)
    ok = scores["candidate"]["log_loss"] <= limit
    reason = (f"candidate log-loss {scores['candidate']['log_loss']:.4f} {'<=' if ok else '>'} "
              f"{limit:.4f} (production {scores['production']['log_loss']:.4f} + {tolerance:.0%}) "
              f"on {len(ends)} held-out windows up to {frame.index[int(ends.max())]}")
    return ok, [reason], scores


def retrain(frame: pd.DataFrame, registry_root: str | Path, config: TrainConfig | None = None,
            tolerance: float = 0.10, sweep_samples: int = 0, storage_path: str | Path = "var/tune",
            serve_address: str | None = None, app: str = "investiq") -> dict:
    """Train a candidate, publish it, promote it if it passes the gate; returns the decision."""
    registry = ModelRegistry(registry_root)
    production_version = registry.production()
    production = PriceDirectionModel.load(registry.production_path(), prefer_gpu=False) if production_version else None
    if config is None:
        config = TrainConfig(**production.metadata.extra["train_config"]) if production else TrainConfig()
    version = new_version()

    with tempfile.TemporaryDirectory() as tmp:
        if sweep_samples:
            from training.tune import best_of, run_sweep

            config, model_dir = best_of(run_sweep(frame, config, sweep_samples, storage_path, name=f"retrain-{version}"))
            candidate = PriceDirectionModel.load(model_dir, prefer_gpu=False)
            shutil.rmtree(model_dir.parent, ignore_errors=True)  # best_of's local copy of the checkpoint
        else:
            candidate, _ = train(frame, config, version=version)
        promote, reasons, scores = gate(candidate, production, frame, config, tolerance)
        registry.publish(candidate.save(Path(tmp) / "candidate"), version)

    decision = {"candidate": version, "production_before": production_version, "promoted": promote,
                "reasons": reasons, "scores": scores, "config": asdict(config)}
    if promote:
        path = registry.promote(version, reason="; ".join(reasons))
        if serve_address:
            point_serve_at(path, serve_address, app)
    else:
        registry.record({"action": "reject", "version": version, "reasons": reasons, "scores": scores})
    logger.info("retrain: %s %s (%s)", version, "promoted" if promote else "kept aside", "; ".join(reasons))
    return decision


def point_serve_at(model_dir: str | Path, serve_address: str, app: str = "investiq", wait_s: float = 120) -> None:
    """Set the Price deployment's user_config in the running application's config. Only the
    user_config changes, so Serve calls reconfigure() on the live replicas: no restart."""
    from ray.dashboard.modules.serve.sdk import ServeSubmissionClient
    from ray.serve.schema import ServeInstanceDetails

    client = ServeSubmissionClient(serve_address)
    details = ServeInstanceDetails(**client.get_serve_details())
    if app not in details.applications:
        raise RuntimeError(f"no Serve application {app!r} at {serve_address}; is `serve run serve_config.yaml` up?")
    applications = []
    for name, state in details.applications.items():
        if state.deployed_app_config is None:
            raise RuntimeError(f"application {name!r} was not deployed from a config file, so its config cannot "
                               "be updated in place; start it with `serve run serve_config.yaml`")
        config = state.deployed_app_config.model_dump(exclude_unset=True)
        if name == app:
            deployments = [d for d in config.get("deployments", []) if d.get("name") != "Price"]
            price = next((d for d in config.get("deployments", []) if d.get("name") == "Price"), {"name": "Price"})
            config["deployments"] = deployments + [{**price, "user_config": {"model_dir": str(Path(model_dir).resolve())}}]
        applications.append(config)
    deployed_before = details.applications[app].last_deployed_time_s
    client.deploy_applications({"proxy_location": details.proxy_location,
                                "http_options": {"host": details.http_options.host, "port": details.http_options.port},
                                "applications": applications})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = ServeInstanceDetails(**client.get_serve_details()).applications[app]
        if state.last_deployed_time_s > deployed_before and state.status == "RUNNING":
            logger.info("Serve app %s now points the Price deployment at %s", app, model_dir)
            return
        time.sleep(1)
    raise TimeoutError(f"Serve app {app!r} did not return to RUNNING within {wait_s:g} s after the update")
