"""Ray Tune sweep over PatchTST hyperparameters: Optuna proposes, ASHA stops weak trials early.

Each trial trains one configuration (a `SweepKind`: the price model with `training.train.train`,
or the PatchTST volatility model with `training.train_volatility.train_volatility`) and
reports every epoch with a checkpoint holding its best model so far, so the best trial's last
checkpoint is a complete model directory, ready to become a registry candidate. The metric:
for price, validation log-loss minus the validation log-loss of the training base rates; for
volatility, the validation negative log-likelihood of log realised variance.

What defines the question is not searched: the labelling (horizon, flat band, volatility
band) of a price model, the horizons of a volatility model. It is fixed per registry, so that
every trial, the registry's production version and the baselines are scored on the same
targets and a sweep's best can be gated and promoted. Every trial is tracked in MLflow
(training.tracking).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import ray
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from models.price_direction import PriceDirectionModel
from models.volatility_model import VolatilityModel
from training.tracking import EXPERIMENT, VOLATILITY_EXPERIMENT, trial_run_id, tune_callback
from training.train import MODEL_SUBDIR, TrainConfig, train
from training.train_volatility import VolatilityTrainConfig, train_volatility

logger = logging.getLogger(__name__)
MODE = "min"


@dataclass(frozen=True)
class SweepKind:
    """What a sweep trains, how it ranks trials, and what it must not search."""

    config_class: type
    train: Callable  # train(frame, config, report=..., session=...[, resume_from=...])
    model_class: type
    metric: str
    score: Callable[[dict], float]  # an epoch record's metric, lower is better
    fixed: tuple[str, ...]  # settings that define the question
    experiment: str  # MLflow experiment of the trials
    resumes: bool  # the trainer continues from a checkpoint (else a restored trial starts over)


PRICE = SweepKind(TrainConfig, train, PriceDirectionModel, "val_loss_gap",
                  lambda r: r["best_val_loss"] - r["base_rate_val_loss"], ("horizon", "flat_band_bp", "flat_band_vol"),
                  EXPERIMENT, resumes=True)
VOLATILITY = SweepKind(VolatilityTrainConfig, train_volatility, VolatilityModel, "val_nll",
                       lambda r: r["best_val_loss"], ("horizons", "time_of_day"), VOLATILITY_EXPERIMENT,
                       resumes=False)
KINDS = {"price": PRICE, "volatility": VOLATILITY}
METRIC = PRICE.metric


def search_space(max_context: int) -> dict:
    contexts = [c for c in (64, 128, 256, 512) if c <= max_context] or [max_context]
    return {
        "context_length": tune.choice(contexts),
        "patch_length": tune.choice([8, 16]),
        "patch_stride": tune.choice([4, 8]),
        "d_model": tune.choice([16, 32, 64]),
        "num_hidden_layers": tune.choice([1, 2, 3]),
        "num_attention_heads": tune.choice([2, 4]),
        "dropout": tune.uniform(0.0, 0.4),
        "learning_rate": tune.loguniform(1e-4, 3e-3),
    }


def _trial(params: dict, frame: pd.DataFrame, base: dict, threads: int, session: str | None, kind: str) -> None:
    torch.set_num_threads(threads)
    sweep = KINDS[kind]
    config = sweep.config_class(**{**base, **params})
    cards = ray.get_gpu_ids()  # reported with every epoch: the GPU plan is checked from the results

    def report(record: dict, write_checkpoint) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            write_checkpoint(Path(tmp))
            tune.report({**record, sweep.metric: sweep.score(record), "gpu_ids": cards},
                        checkpoint=tune.Checkpoint.from_directory(tmp))

    checkpoint = tune.get_checkpoint()
    if checkpoint is None or not sweep.resumes:
        sweep.train(frame, config, report=report, session=session)
    else:  # a restored sweep continues the trial where it stopped
        with checkpoint.as_directory() as resume_dir:
            sweep.train(frame, config, report=report, resume_from=resume_dir, session=session)


def connect(address: str = "auto") -> None:
    """Join the Ray cluster the graph runs on, so that trials take only the GPUs it leaves free
    (with two Ray instances on one machine, each would believe it owns every card). 'auto':
    $RAY_ADDRESS, else the cluster `ray start` recorded on this machine, else a Ray instance
    found running here (a plain `serve run` records none; with several, Ray picks one), else a
    new local one; 'local': always a new local one; anything else: that cluster's address."""
    if ray.is_initialized():
        return
    if address == "auto":
        try:
            ray.init(address="auto")
        except ConnectionError:
            logger.warning("no running Ray cluster found: starting a local one for the sweep (it owns every card "
                           "it sees; start the graph first, or pass --ray-address)")
            ray.init()
            return
        logger.info("the sweep joins the running Ray cluster at %s", ray.get_runtime_context().gcs_address)
    else:
        ray.init(address=address)


def run_sweep(frame: pd.DataFrame, base, num_samples: int, storage_path: str | Path,
              name: str = "patchtst-sweep", cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.5,
              max_concurrent: int = 2, space: dict | None = None, resume: bool = False, seed: int = 0,
              tracking_uri: str | None = None, session: str | None = None, ray_address: str = "auto",
              kind: str = "price"):
    """Run (or, with resume, continue) a sweep of `kind` ("price" or "volatility") around the
    `base` configuration of that kind; returns Tune's ResultGrid. `tracking_uri`: MLflow store
    for the trials (None: not tracked); `session` as in train(); `ray_address` as in connect()."""
    sweep = KINDS[kind]
    space = space if space is not None else search_space(base.context_length)
    searched = sorted(set(space) & set(sweep.fixed))
    if searched:
        raise ValueError(f"{', '.join(sweep.fixed)} define the question and are fixed per registry, not "
                         f"hyperparameters: do not search {searched}")
    connect(ray_address)
    if gpus_per_trial and not ray.cluster_resources().get("GPU"):
        logger.warning("no GPUs in the Ray cluster: trials run on CPU")
        gpus_per_trial = 0
    elif gpus_per_trial and ray.available_resources().get("GPU", 0) < gpus_per_trial:
        # Trials would wait forever for a card the graph holds.
        raise ValueError(f"the Ray cluster has {ray.available_resources().get('GPU', 0):g} GPU free, less than "
                         f"--gpus-per-trial {gpus_per_trial:g} (the graph holds the rest): free a card, or pass "
                         "--gpus-per-trial 0 to train on CPU")
    storage_path = str(Path(storage_path).resolve())
    trainable = tune.with_resources(
        tune.with_parameters(_trial, frame=frame, base=asdict(base), threads=max(1, int(cpus_per_trial)),
                             session=session, kind=kind),
        {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
    )
    experiment = Path(storage_path) / name
    if resume and tune.Tuner.can_restore(str(experiment)):
        logger.info("resuming sweep at %s", experiment)
        tuner = tune.Tuner.restore(str(experiment), trainable=trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=sweep.metric, mode=MODE, num_samples=num_samples, max_concurrent_trials=max_concurrent,
                search_alg=OptunaSearch(seed=seed),
                scheduler=ASHAScheduler(max_t=base.max_epochs, grace_period=1, reduction_factor=2),
            ),
            run_config=tune.RunConfig(name=name, storage_path=storage_path,
                                      checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                      callbacks=tune_callback(tracking_uri, name, frame, session, base,
                                                              sweep.experiment)),
        )
    return tuner.fit()


def best_of(results, kind: str = "price"):
    """The best trial's configuration and the model directory in its last checkpoint (which
    holds that trial's best epoch), copied to a temporary folder the caller removes."""
    sweep = KINDS[kind]
    best = results.get_best_result(metric=sweep.metric, mode=MODE, scope="all")
    if best.checkpoint is None:
        raise RuntimeError("no trial of the sweep produced a checkpoint")
    model_dir = Path(best.checkpoint.to_directory()) / MODEL_SUBDIR
    metadata = sweep.model_class.load(model_dir, prefer_gpu=False).metadata
    return sweep.config_class(**metadata.extra["train_config"]), model_dir


def best_run_id(results, tracking_uri: str | None, kind: str = "price") -> str | None:
    """The MLflow run of the sweep's best trial (None when the sweep was not tracked)."""
    sweep = KINDS[kind]
    best = results.get_best_result(metric=sweep.metric, mode=MODE, scope="all")
    return trial_run_id(tracking_uri, Path(results.experiment_path).name, best.metrics["trial_id"],
                        sweep.experiment)
