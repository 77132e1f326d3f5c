"""A two-trial sweep on a few hundred bars finishes on CPU and leaves a registry version;
a finished sweep can be restored."""

import time

from ray import tune

from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry
from tests.support import random_walk_frame
from training.train import TrainConfig
from training.tune import METRIC, best_of, run_sweep

BASE = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8, num_attention_heads=2,
                   num_hidden_layers=1, ffn_dim=16, max_epochs=2, sample_step=2)
SPACE = {"d_model": tune.choice([8, 16]), "learning_rate": tune.loguniform(1e-4, 1e-2)}


def test_two_trial_sweep_leaves_a_registry_version(ray_cluster, tmp_path):
    frame = random_walk_frame(600, seed=11)
    start = time.monotonic()
    results = run_sweep(frame, BASE, num_samples=2, storage_path=tmp_path / "tune", name="smoke",
                        cpus_per_trial=0.5, gpus_per_trial=0, space=SPACE)
    assert time.monotonic() - start < 120
    assert len(results) == 2 and not results.errors
    assert all(METRIC in r.metrics for r in results)

    config, model_dir = best_of(results)
    assert config.context_length == 32 and config.d_model in (8, 16)
    registry = ModelRegistry(tmp_path / "registry")
    registry.publish(model_dir, "swept")
    model = PriceDirectionModel.load(registry.path_of("swept"), prefer_gpu=False)
    assert model.metadata.extra["train_config"]["d_model"] == config.d_model

    restored = run_sweep(frame, BASE, num_samples=2, storage_path=tmp_path / "tune", name="smoke",
                         cpus_per_trial=0.5, gpus_per_trial=0, resume=True)
    assert len(restored) == 2  # nothing left to run: the restored sweep reports the same trials
