"""A two-trial sweep on a few hundred bars finishes on CPU and leaves a registry version;
a finished sweep can be restored; a sweep started beside a running graph joins its cluster
and its trials never land on the card the graph fills."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from ray import tune

from models.price_direction import PriceDirectionModel
from models.registry import ModelRegistry
from tests.support import PROJECT_ROOT, free_port, random_walk_frame, ray_tmpdir, wait_until
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


# The graph's hold on card 0, as Serve places it: sentiment 0.5 then price 0.5, first fit.
HOLD_CARD_0 = textwrap.dedent("""
    import sys
    import ray
    ray.init(address=sys.argv[1], namespace="graph", log_to_driver=False)

    @ray.remote(num_gpus=0.5, num_cpus=0)
    class Replica:
        def card(self):
            return ray.get_gpu_ids()

    replicas = [Replica.options(name=name, lifetime="detached").remote() for name in ("sentiment", "price")]
    print(sorted(ray.get([r.card.remote() for r in replicas])))
""")


def test_a_sweep_joins_the_serving_cluster_and_leaves_the_serving_card_alone(tmp_path):
    env = {**os.environ, "RAY_TMPDIR": ray_tmpdir(f"tg-{uuid.uuid4().hex[:6]}"), "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("RAY_ADDRESS", None)
    storage = PROJECT_ROOT / ".tmp" / f"tune-gpu-{uuid.uuid4().hex[:8]}"
    random_walk_frame(600, seed=4).to_csv(tmp_path / "bars.csv")
    port = free_port()
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus=4",
                             "--num-gpus=2", f"--port={port}", "--include-dashboard=false",
                             "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # Until `ray start` records its cluster here, 'auto' would find any other Ray on the
    # machine (this session's own, for one): wait for the record, as a user starts Serve first.
    record = Path(env["RAY_TMPDIR"]) / "ray" / "ray_current_cluster"
    try:
        address = wait_until(lambda: record.is_file() and record.read_text().strip(), 120, "the head's cluster record")
        assert address.endswith(f":{port}"), address
        held = wait_until(lambda: subprocess.run([sys.executable, "-c", HOLD_CARD_0, address], env=env,
                                                 capture_output=True, text=True, timeout=120, check=True).stdout,
                          120, "card 0 held")
        assert held.splitlines()[-1] == "[[0], [0]]", held  # both serving replicas on card 0, which they fill
        sweep = subprocess.run(
            [sys.executable, "-m", "training.cli", "tune", "--bars", str(tmp_path / "bars.csv"), "--num-samples", "2",
             "--storage-path", str(storage), "--tracking-uri", "none", "--gpus-per-trial", "0.5",
             "--cpus-per-trial", "1", "--max-epochs", "1", "--context-length", "32", "--horizon", "4",
             "--ffn-dim", "16", "--sample-step", "2"],
            env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
        assert sweep.returncode == 0, sweep.stderr[-3000:]
        assert f"the sweep joins the running Ray cluster at {address}" in sweep.stderr
        results = [json.loads(line) for path in storage.glob("patchtst-sweep/*/result.json")
                   for line in path.read_text().splitlines()]
        trials = {r["trial_id"] for r in results}
        assert len(trials) == 2 and results
        assert {tuple(r["gpu_ids"]) for r in results} == {(1,)}  # every epoch of every trial on card 1
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the cluster it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(storage, ignore_errors=True)
