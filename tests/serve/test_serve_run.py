"""`serve run serve_config.yaml` as a user runs it: a subprocess with its own Ray (no GPUs
on this machine, so it also proves the GPU layout comes up on a cluster without GPUs), with
Ray's token auth on, as a plain `serve run` starts it. The price model comes from a registry,
and promotion and rollback reach the running app through the Serve REST API while requests
stream in; a promotion the graph cannot load, or whose token the dashboard refuses, is
reverted or never starts, and the registry and the graph agree after each; a sweep's
promotion reaches the graph; the metrics are where the README says to look."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from models.registry import ModelRegistry
from tests.support import (
    TINY_CONTEXT,
    free_port,
    make_tiny_har_model,
    make_tiny_price_model,
    random_walk_bars,
    random_walk_frame,
    serve_config_with,
    serve_run,
    serve_run_env,
    wait_until,
)
from training import retrain
from training.cli import main
from training.promotion import PromotionFailed, promote_and_follow, rollback_and_follow


def registry_of(tmp: Path, make_model, versions: tuple[str, ...]) -> ModelRegistry:
    """A registry holding a tiny model per version, the first one production."""
    registry = ModelRegistry(tmp / "registry")
    for version in versions:
        registry.publish(make_model(tmp / version, version), version)
    registry.promote(versions[0])
    return registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    return registry_of(tmp_path_factory.mktemp("registry"), make_tiny_price_model, ("v1", "v2"))


@pytest.fixture(scope="module")
def volatility_registry(tmp_path_factory) -> ModelRegistry:
    return registry_of(tmp_path_factory.mktemp("volatility"), make_tiny_har_model, ("har-1", "har-2"))


@pytest.fixture(scope="module")
def served(tiny_bert_dir, registry, volatility_registry, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-run")
    port, env = free_port(), serve_run_env(tmp, auth=True)
    # This process (and the commands it starts) finds the cluster's token as a user's shell would.
    os.environ["RAY_AUTH_TOKEN_PATH"] = env["RAY_AUTH_TOKEN_PATH"]
    config = serve_config_with(tiny_bert_dir, registry.root, tmp / "var", port, volatility_registry.root)
    try:
        with serve_run(config, tmp, env) as (proc, log):
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: proc.poll() is None and httpx.get(f"{base}/readyz", timeout=5).status_code == 200,
                       120, "/readyz from serve run")
            yield base, log, tmp / "var", env["RAY_TMPDIR"]
    finally:
        del os.environ["RAY_AUTH_TOKEN_PATH"]


def served_version(base: str) -> str:
    return httpx.get(f"{base}/readyz", timeout=5).json()["branches"]["price"]["version"]


def assert_registry_and_graph_agree(registry: ModelRegistry, base: str, capsys) -> str:
    """`investiq models` stars the version /readyz reports."""
    capsys.readouterr()
    main(["models", "--registry", str(registry.root)])
    (starred,) = [line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("* ")]
    assert starred == served_version(base) == registry.production()
    return starred


def test_serve_run_answers_a_signal(served):
    base, log_path, _, _ = served
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready", 60, "branches ready")
    body = {"symbol": "SPY", "news": ["shares rose on record earnings"],
            "outcomes": [{"strategy": "momentum", "outcome": "win"}], "bars": random_walk_bars(TINY_CONTEXT + 1)}
    r = httpx.post(f"{base}/v1/signal", json=body, timeout=30)
    assert r.status_code == 200, r.text
    signal_ = r.json()
    assert signal_["degraded"] == []
    assert signal_["decision"] in {"BUY", "SELL", "HOLD"}
    assert signal_["outcomes_recorded"] == 1
    # The risk block, from the volatility registry's production version.
    assert signal_["model_versions"]["volatility"] == "har-tiny@har-1"
    assert [h["horizon"] for h in signal_["risk"]["horizons"]] == [4, 8]
    assert all(h["var_99"] > h["var_95"] > 0 and 0 < h["position_scale"] <= 1 for h in signal_["risk"]["horizons"])
    # The shipped config is in shadow mode, and its quorum asks for the risk block too.
    assert signal_["actionable"] is False and signal_["not_actionable_because"][0].startswith("shadow mode")
    # No GPUs here: device_policy auto dropped the config's GPU requests and said so.
    branches = httpx.get(f"{base}/readyz", timeout=5).json()["branches"]
    assert branches["sentiment"]["gpu_ids"] == [] and branches["sentiment"]["device"] == "cpu"
    assert "sentiment, price, volatility run on CPU" in log_path.read_text()


def test_a_volatility_promotion_reaches_the_volatility_branch_in_place(served, volatility_registry, capsys):
    """The volatility registry's promotion goes to the Volatility deployment (not Price), applied
    by reconfigure: the replica is not restarted."""
    base, log_path, _, _ = served
    address = dashboard_address(log_path)
    main(["promote", "--registry", str(volatility_registry.root), "--version", "har-2", "--serve-address", address])
    assert "and the graph serves it" in capsys.readouterr().out
    body = {"symbol": "SPY", "bars": random_walk_bars(TINY_CONTEXT + 1)}
    assert httpx.post(f"{base}/v1/risk", json=body, timeout=30).json()["version"] == "har-2"
    assert httpx.get(f"{base}/readyz", timeout=5).json()["branches"]["price"]["version"] == "v1"  # untouched
    assert rollback_and_follow(volatility_registry, address) == "har-1"
    assert httpx.post(f"{base}/v1/risk", json=body, timeout=30).json()["version"] == "har-1"
    assert log_path.read_text().count("Adding 1 replica to Deployment(name='Volatility'") == 1


def dashboard_address(log_path: Path) -> str:
    match = re.search(r"View the dashboard at \S*?(http://[\d.]+:\d+)", log_path.read_text())
    assert match, "serve run did not print its dashboard address"
    return match[1]


def test_promotion_and_rollback_under_load_drop_no_request(served, registry):
    base, log_path, _, _ = served
    body = {"symbol": "SPY", "bars": random_walk_bars(TINY_CONTEXT + 1)}
    seen, failures, stop = [], [], threading.Event()

    def stream():
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/v1/price/predict", json=body)
                if r.status_code == 200:
                    seen.append(r.json()["version"])
                else:
                    failures.append((r.status_code, r.text))
                time.sleep(0.01)

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        wait_until(lambda: seen and seen[-1] == "v1", 30, "v1 served")
        address = dashboard_address(log_path)
        promote_and_follow(registry, "v2", address)  # returns once /readyz reports v2
        assert httpx.get(f"{base}/readyz", timeout=5).json()["branches"]["price"]["version"] == "v2"
        wait_until(lambda: seen[-1] == "v2", 10, "v2 served after promotion")
        assert rollback_and_follow(registry, address) == "v1"
        wait_until(lambda: seen[-1] == "v1", 10, "v1 served after rollback")
    finally:
        stop.set()
        worker.join(30)
    assert failures == []
    assert len(seen) > 20
    # versions change in order, each once: v1 ... v2 ... v1
    changes = [v for i, v in enumerate(seen) if i == 0 or v != seen[i - 1]]
    assert changes == ["v1", "v2", "v1"]
    # The replica was reconfigured in place, not restarted.
    assert log_path.read_text().count("Adding 1 replica to Deployment(name='Price'") == 1


def test_a_promotion_without_the_token_never_moves_the_pointer(served, registry, tmp_path, monkeypatch, capsys):
    base, log_path, _, _ = served
    before = assert_registry_and_graph_agree(registry, base, capsys)
    address = dashboard_address(log_path)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token either
    with pytest.raises(PromotionFailed, match="asked for a token"):
        promote_and_follow(registry, "v2", address)
    assert_registry_and_graph_agree(registry, base, capsys)
    # A wrong token, through the command: one line that says what to do, and nothing moved.
    proc = subprocess.run([sys.executable, "-m", "training.cli", "promote", "--registry", str(registry.root),
                           "--version", "v2", "--serve-address", address], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "RAY_AUTH_TOKEN": "not-the-token"})
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(f"investiq promote: the graph cannot take v2: the Ray dashboard at {address} "
                              "refused the token") and "RAY_AUTH_TOKEN" in message, proc.stderr
    assert f"production stays {before}" in message
    assert assert_registry_and_graph_agree(registry, base, capsys) == before


def test_a_sweep_promotion_reaches_the_running_graph(served, registry, ray_cluster, tmp_path, monkeypatch, capsys):
    base, log_path, _, _ = served
    random_walk_frame(600, seed=7).to_csv(tmp_path / "bars.csv")
    # A tiny model on a random walk rarely beats the base rate, which the gate requires; the
    # gate has its own tests, this one is about what follows a pass.
    monkeypatch.setattr(retrain, "gate", lambda *args: (True, ["passed"], {}))
    main(["tune", "--bars", str(tmp_path / "bars.csv"), "--num-samples", "1", "--max-epochs", "1",
          "--storage-path", str(tmp_path / "tune"), "--tracking-uri", "none", "--gpus-per-trial", "0",
          "--cpus-per-trial", "0.5", "--context-length", "32", "--horizon", "4", "--flat-band-bp", "5",
          "--ffn-dim", "16", "--sample-step", "2", "--registry", str(registry.root), "--promote",
          "--version", "swept", "--serve-address", dashboard_address(log_path)])
    assert assert_registry_and_graph_agree(registry, base, capsys) == "swept"


def test_metrics_are_where_the_readme_says_under_serve_run(served):
    """A plain `serve run` picks the metrics port at random; Ray writes it to
    prom_metrics_service_discovery.json in its temporary folder, where Prometheus reads it."""
    _, _, _, ray_tmp = served
    (group,) = json.loads((Path(ray_tmp) / "ray" / "prom_metrics_service_discovery.json").read_text())

    def scraped() -> str:
        return "".join(urllib.request.urlopen(f"http://{target}/metrics", timeout=5).read().decode()
                       for target in group["targets"])

    wait_until(lambda: re.search(r'^ray_investiq_model_info\{[^}]*deployment="Price"', scraped(), re.M), 60,
               "the served price version in the metrics")


def test_a_promotion_the_graph_cannot_load_is_refused_and_changes_nothing(served, registry, tmp_path, capsys):
    base, log_path, data_dir, _ = served
    broken = make_tiny_price_model(tmp_path / "broken", "v3")
    (broken / "model.safetensors").write_bytes(b"these are not weights")
    registry.publish(broken, "v3")
    before = registry.production()
    proc = subprocess.run([sys.executable, "-m", "training.cli", "promote", "--registry", str(registry.root),
                           "--version", "v3", "--serve-address", dashboard_address(log_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()[-1]  # above it: the command's progress log
    assert message.startswith("investiq promote: the graph did not take v3"), proc.stderr
    assert "could not load it" in message and f"production stays {before}" in message
    assert registry.production() == before  # the pointer went back ...
    price = httpx.get(f"{base}/readyz", timeout=5).json()["branches"]["price"]
    assert price["ready"] and price["version"] == before  # ... and the graph never stopped serving it
    assert "versions/v3" in price["last_load_error"]
    r = httpx.post(f"{base}/v1/price/predict", json={"symbol": "SPY", "bars": random_walk_bars(TINY_CONTEXT + 1)})
    assert r.status_code == 200 and r.json()["version"] == before
    with sqlite3.connect(data_dir / "investiq.sqlite") as db:
        failed = db.execute("SELECT version, source, error FROM model_promotions WHERE outcome = 'failed'").fetchall()
    assert any("versions/v3" in source and error for _, source, error in failed), failed
    assert_registry_and_graph_agree(registry, base, capsys)
