"""Experiment tracking in MLflow: every training run (`investiq train`, a retrain candidate)
and every Tune trial (through Ray Tune's own MLflowLoggerCallback) becomes an MLflow run with
its parameters, per-epoch metrics, data window and, once published, the registry version it
became and whether it was promoted. The registry's production pointer stays the one source
of truth for what is served; MLflow is the lab notebook, and each registry version records
its MLflow run id (`extra.mlflow_run_id`).

Where runs go: `--tracking-uri`, else $MLFLOW_TRACKING_URI, else a SQLite store at
var/mlflow.db under the working directory; `none` turns tracking off. Browse it with
`mlflow ui --backend-store-uri sqlite:///var/mlflow.db`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)
DEFAULT_TRACKING_URI = "sqlite:///var/mlflow.db"
EXPERIMENT = "investiq-price-direction"
VOLATILITY_EXPERIMENT = "investiq-volatility"
EPOCH_METRICS = ("train_loss", "val_loss", "best_val_loss", "base_rate_val_loss", "seconds")


def resolve_tracking_uri(explicit: str | None = None) -> str | None:
    """The tracking URI to use (None: tracking off). A relative SQLite file gets its folder."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.lower() == "none":
        return None
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def data_window(frame: pd.DataFrame, session: str | None) -> dict:
    """The bars a run saw, as MLflow params."""
    return {"data_first_bar": str(frame.index[0]), "data_last_bar": str(frame.index[-1]), "data_bars": len(frame),
            "data_session": session or "unknown"}


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_id(uri: str, name: str = EXPERIMENT) -> str:
    client = _client(uri)
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment else client.create_experiment(name)


class TrainingRun:
    """One training run in MLflow. `report` is a train() hook that logs each epoch; `finish`
    logs the final metrics. Without a URI every method does nothing (tracking off)."""

    def __init__(self, uri: str | None, run_name: str, config, frame: pd.DataFrame, session: str | None,
                 tags: dict | None = None):
        self.client, self.run_id = None, None
        if uri is None:
            return
        self.client = client = _client(uri)
        run = client.create_run(experiment_id(uri), run_name=run_name, tags={"kind": "train", **(tags or {})})
        self.run_id = run.info.run_id
        params = {k: v for k, v in asdict(config).items() if k != "extra"}
        for key, value in {**params, **data_window(frame, session)}.items():
            client.log_param(self.run_id, key, value)
        logger.info("MLflow run %s at %s", self.run_id, uri)

    def report(self, record: dict, write_checkpoint) -> None:
        if self.run_id is None:
            return
        for key in EPOCH_METRICS:
            if key in record:
                self.client.log_metric(self.run_id, key, float(record[key]), step=int(record["epoch"]))

    def finish(self, metrics: dict, failed: bool = False) -> None:
        if self.run_id is None:
            return
        client = self.client
        client.log_metric(self.run_id, "best_epoch", metrics.get("best_epoch", -1))
        for part in ("validation", "test"):
            for key, value in metrics.get(part, {}).items():
                client.log_metric(self.run_id, f"{part}_{key}", float(value))
        client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")


def tune_callback(uri: str | None, sweep: str, frame: pd.DataFrame, session: str | None, base_config,
                  experiment: str = EXPERIMENT) -> list:
    """Ray Tune's own MLflow logger for a sweep's trials (logged from the driver, so a local
    SQLite store works): one MLflow run per trial, tagged with the sweep, the data window
    and the fixed part of the configuration."""
    if uri is None:
        return []
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    experiment_id(uri, experiment)  # create it here, once, rather than racing in the callback
    tags = {"kind": "tune-trial", "sweep": sweep, **{k: str(v) for k, v in data_window(frame, session).items()},
            "base_config": json.dumps({k: v for k, v in asdict(base_config).items() if k != "extra"})}
    return [MLflowLoggerCallback(tracking_uri=uri, experiment_name=experiment, tags=tags)]


def trial_run_id(uri: str | None, sweep: str, trial_id: str, experiment: str = EXPERIMENT) -> str | None:
    """The MLflow run the Tune callback made for a trial of a sweep."""
    if uri is None:
        return None
    runs = _client(uri).search_runs([experiment_id(uri, experiment)],
                                    filter_string=f"tags.sweep = '{sweep}' and tags.trial_name LIKE '%{trial_id}'")
    return runs[0].info.run_id if runs else None


def record_registration(uri: str | None, run_id: str | None, registry: str | Path, version: str,
                        promoted: bool) -> None:
    """Tag a run with the registry version it became and whether it went to production."""
    if uri is None or run_id is None:
        return
    client = _client(uri)
    for key, value in (("registry", str(Path(registry).resolve())), ("registry_version", version),
                       ("promoted", str(promoted).lower())):
        client.set_tag(run_id, key, value)
