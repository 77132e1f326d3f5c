"""`serve run serve_config.yaml` as a user runs it: a subprocess with its own Ray (no GPUs
on this machine, so it also proves the GPU layout comes up on a cluster without GPUs).
The price model comes from a registry, and promotion and rollback reach the running app
through the Serve REST API while requests stream in; a promotion the graph cannot load is
reverted, reported, and never takes the price branch down."""

import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from models.registry import ModelRegistry
from tests.support import (
    TINY_CONTEXT,
    free_port,
    make_tiny_price_model,
    random_walk_bars,
    serve_config_with,
    serve_run,
    wait_until,
)
from training.promotion import promote_and_follow, rollback_and_follow


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    tmp = tmp_path_factory.mktemp("registry")
    registry = ModelRegistry(tmp / "registry")
    for version in ("v1", "v2"):
        registry.publish(make_tiny_price_model(tmp / version, version), version)
    registry.promote("v1")
    return registry


@pytest.fixture(scope="module")
def served(tiny_bert_dir, registry, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-run")
    port = free_port()
    with serve_run(serve_config_with(tiny_bert_dir, registry.root, tmp / "var", port), tmp) as (proc, log_path):
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: proc.poll() is None and httpx.get(f"{base}/readyz", timeout=5).status_code == 200,
                   120, "/readyz from serve run")
        yield base, log_path, tmp / "var"


def test_serve_run_answers_a_signal(served):
    base, log_path, _ = served
    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready", 60, "branches ready")
    body = {"symbol": "SPY", "news": ["shares rose on record earnings"],
            "outcomes": [{"strategy": "momentum", "outcome": "win"}], "bars": random_walk_bars(TINY_CONTEXT + 1)}
    r = httpx.post(f"{base}/v1/signal", json=body, timeout=30)
    assert r.status_code == 200, r.text
    signal_ = r.json()
    assert signal_["degraded"] == []
    assert signal_["decision"] in {"BUY", "SELL", "HOLD"}
    assert signal_["outcomes_recorded"] == 1
    # No GPUs here: device_policy auto dropped the config's GPU requests and said so.
    branches = httpx.get(f"{base}/readyz", timeout=5).json()["branches"]
    assert branches["sentiment"]["gpu_ids"] == [] and branches["sentiment"]["device"] == "cpu"
    assert "sentiment, price run on CPU" in log_path.read_text()


def dashboard_address(log_path: Path) -> str:
    match = re.search(r"View the dashboard at \S*?(http://[\d.]+:\d+)", log_path.read_text())
    assert match, "serve run did not print its dashboard address"
    return match[1]


def test_promotion_and_rollback_under_load_drop_no_request(served, registry):
    base, log_path, _ = served
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


def test_a_promotion_the_graph_cannot_load_is_refused_and_changes_nothing(served, registry, tmp_path):
    base, log_path, data_dir = served
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
