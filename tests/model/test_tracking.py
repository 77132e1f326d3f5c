"""MLflow tracks every training run and every Tune trial, offline, in a SQLite store, and
each registry version records the MLflow run it came from."""

import json

import pytest
from mlflow.tracking import MlflowClient
from ray import tune

from models.registry import ModelRegistry
from tests.support import PROJECT_ROOT, random_walk_frame
from training import tracking
from training.cli import main as cli
from training.retrain import consider
from training.train import TrainConfig
from training.train_volatility import VolatilityTrainConfig
from training.tune import best_of, best_run_id, run_sweep

TINY = ["--context-length", "32", "--horizon", "4", "--patch-length", "8", "--patch-stride", "8", "--d-model", "8",
        "--num-attention-heads", "2", "--num-hidden-layers", "1", "--ffn-dim", "16", "--max-epochs", "2"]
BASE = TrainConfig(context_length=32, horizon=4, patch_length=8, patch_stride=8, d_model=8, num_attention_heads=2,
                   num_hidden_layers=1, ffn_dim=16, max_epochs=1, sample_step=2)


def runs(uri: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    return client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id])


def test_a_training_run_is_tracked_and_its_version_knows_the_run(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    random_walk_frame(900, seed=2).to_csv(tmp_path / "bars.csv")
    registry = tmp_path / "registry"
    cli(["train", "--bars", str(tmp_path / "bars.csv"), "--session", "all", "--registry", str(registry),
         "--promote", "--version", "v1", "--tracking-uri", uri, *TINY])
    summary = json.loads(capsys.readouterr().out)
    (run,) = runs(uri)
    assert run.info.run_id == summary["mlflow_run_id"] == ModelRegistry(registry).metadata("v1")["extra"]["mlflow_run_id"]
    assert run.data.params["d_model"] == "8" and run.data.params["data_bars"] == "900"
    assert run.data.params["data_session"] == "all" and run.data.params["data_last_bar"].startswith("2025-")
    assert {"val_loss", "train_loss", "test_log_loss", "test_base_rate_log_loss"} <= set(run.data.metrics)
    history = MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1]
    # The gate decides whether it became production (on a random walk it may not beat the base rate).
    assert run.data.tags["registry_version"] == "v1"
    assert run.data.tags["promoted"] == str(summary["decision"]["promoted"]).lower()
    assert run.info.status == "FINISHED"


def test_tracking_uri_comes_from_the_flag_the_environment_or_var(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking.resolve_tracking_uri() == "sqlite:///var/mlflow.db" and (tmp_path / "var").is_dir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking.resolve_tracking_uri() == "http://mlflow.internal:5000"
    assert tracking.resolve_tracking_uri("none") is None


@pytest.fixture(scope="module")
def ray_instance():
    """A small Ray of this module's own (RAY_TMPDIR under .tmp/, set by tests/conftest.py)."""
    import ray

    if ray.is_initialized():  # another module's Ray: use it, leave it running
        yield
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1"}})
    yield
    ray.shutdown()


def test_every_trial_of_a_sweep_is_an_mlflow_run_and_the_best_can_be_promoted(ray_instance, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    frame = random_walk_frame(600, seed=11)
    space = {"d_model": tune.choice([8, 16]), "learning_rate": tune.loguniform(1e-4, 1e-2)}
    with pytest.raises(ValueError, match="fixed per registry"):
        run_sweep(frame, BASE, 2, tmp_path / "tune", space={**space, "flat_band_bp": tune.uniform(2, 10)})
    results = run_sweep(frame, BASE, num_samples=2, storage_path=tmp_path / "tune", name="tracked",
                        cpus_per_trial=1, gpus_per_trial=0, space=space, tracking_uri=uri, session="all")
    assert len(results) == 2 and not results.errors
    trials = [r for r in runs(uri) if r.data.tags.get("sweep") == "tracked"]
    assert len(trials) == 2 and all(r.data.tags["kind"] == "tune-trial" for r in trials)
    assert all("learning_rate" in r.data.params and "val_loss" in r.data.metrics for r in trials)
    assert trials[0].data.tags["data_bars"] == "600"

    (config, model_dir), run_id = best_of(results), best_run_id(results, uri)
    assert run_id in {r.info.run_id for r in trials}
    from models.price_direction import PriceDirectionModel

    registry = ModelRegistry(tmp_path / "registry")
    decision = consider(PriceDirectionModel.load(model_dir, prefer_gpu=False), registry, frame, config, "swept",
                        run_id=run_id, tracking_uri=uri)
    assert registry.metadata("swept")["extra"]["mlflow_run_id"] == run_id
    assert decision["figures"]["labelling"] == {"horizon": 4, "flat_band_bp": 5.0, "flat_band_vol": 0.0}
    tagged = MlflowClient(tracking_uri=uri).get_run(run_id).data.tags
    assert tagged["registry_version"] == "swept" and tagged["promoted"] == str(decision["promoted"]).lower()


def test_a_volatility_sweep_puts_its_best_trial_through_the_gate_against_har(ray_instance, tmp_path, capsys):
    """`investiq train-volatility --forecaster patchtst --sweep N`: every trial an MLflow run in
    the volatility experiment; the best one is published with its run id and the gate's
    comparison with HAR on its test windows; its horizons are never searched."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    random_walk_frame(2000, seed=5).to_csv(tmp_path / "bars.csv")
    registry = tmp_path / "volatility"
    cli(["train-volatility", "--forecaster", "patchtst", "--bars", str(tmp_path / "bars.csv"), "--registry",
         str(registry), "--promote", "--version", "swept", "--context-length", "32", "--max-epochs", "1",
         "--sweep", "2", "--storage-path", str(tmp_path / "tune"), "--cpus-per-trial", "1", "--gpus-per-trial", "0",
         "--tracking-uri", uri])
    out = capsys.readouterr().out
    summary = json.loads(out[out.rindex("\n{\n") + 1:])  # after Tune's progress tables
    client = MlflowClient(tracking_uri=uri)
    trials = client.search_runs([client.get_experiment_by_name(tracking.VOLATILITY_EXPERIMENT).experiment_id])
    assert len(trials) == 2 and summary["mlflow_run_id"] in {t.info.run_id for t in trials}
    published = ModelRegistry(registry).metadata("swept")
    assert published["extra"]["mlflow_run_id"] == summary["mlflow_run_id"] and published["horizons"] == [12, 78]
    figures = published["extra"]["gate"]["figures"]["test_qlike"]
    assert set(figures) == {"h12", "h78"} and all(q["har"] > 0 for q in figures.values())
    assert summary["decision"]["passed"] == all(q["candidate"] <= q["har"] for q in figures.values())
    with pytest.raises(ValueError, match="fixed per registry"):
        run_sweep(random_walk_frame(600), VolatilityTrainConfig(context_length=32), 1, tmp_path / "t2",
                  space={"horizons": tune.choice([(1,), (2,)])}, kind="volatility")
