"""`serve run serve_config.yaml` as a user runs it: a subprocess with its own Ray (no GPUs
on this machine, so it also proves the GPU layout comes up on a cluster without GPUs)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, TINY_CONTEXT, WORK_DIR, random_walk_bars
from tests.serve.conftest import free_port, wait_until


def config_with(tiny_bert_dir, tiny_price_dir, data_dir: Path, port: int) -> dict:
    """The repo's serve_config.yaml with only models, data dir and port swapped for the test's."""
    config = yaml.safe_load((PROJECT_ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = port
    args = config["applications"][0]["args"]
    args["sentiment"]["model"] = str(tiny_bert_dir)
    args["price"]["model_dir"] = str(tiny_price_dir)
    args["data_dir"] = str(data_dir)
    return config


@pytest.fixture(scope="module")
def served(tiny_bert_dir, tiny_price_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve-run")
    port = free_port()
    config_path = tmp / "serve_config.yaml"
    config_path.write_text(yaml.safe_dump(config_with(tiny_bert_dir, tiny_price_dir, tmp / "var", port)))
    env = {**os.environ, "RAY_TMPDIR": str(WORK_DIR / "ray-serve-run"), "RAY_AUTH_MODE": "disabled",
           "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    log = (tmp / "serve.log").open("w")
    serve_bin = Path(sys.executable).with_name("serve")
    proc = subprocess.Popen([str(serve_bin), "run", str(config_path)], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is None and httpx.get(f"{base}/readyz", timeout=5).status_code == 200,
                   120, "/readyz from serve run")
        yield base, tmp / "serve.log"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_serve_run_answers_a_signal(served):
    base, log_path = served
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
