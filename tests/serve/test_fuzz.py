"""Schemathesis against the live app's OpenAPI schema: generated requests to every route,
none may answer 5xx (a short run; `python bench/fuzz_api.py` runs 1,000+ cases). The
fuzzer syncs, records and settles, so it gets a graph and a store of its own."""

import subprocess
import sys
from pathlib import Path

import pytest
from ray import serve

from deployments.config import GraphConfig
from graph import build_app
from tests.serve.conftest import GRPC_EXPOSED
from tests.support import PROJECT_ROOT, wait_until


@pytest.fixture(scope="module")
def fuzz_base(http, tiny_bert_dir, tiny_price_dir, tiny_har_dir, tmp_path_factory):
    config = GraphConfig.model_validate({
        "data_dir": str(tmp_path_factory.mktemp("fuzz")), "device_policy": "cpu",
        "sentiment": {"model": str(tiny_bert_dir)}, "price": {"model_dir": str(tiny_price_dir)},
        "volatility": {"model_dir": str(tiny_har_dir)}, "ingress": GRPC_EXPOSED})
    serve.run(build_app(config), name="fuzz", route_prefix="/fuzz")
    wait_until(lambda: http.get("/fuzz/readyz").json()["status"] == "ready", 90, "fuzz app ready")
    yield f"{str(http.base_url).rstrip('/')}/fuzz"
    serve.delete("fuzz")


def test_generated_requests_never_get_a_5xx(fuzz_base, tmp_path):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [str(schemathesis), "run", str(PROJECT_ROOT / "openapi.json"), "--url", fuzz_base,
         "--checks", "not_a_server_error", "--max-examples", "10", "--seed", "1"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert " generated, " in proc.stdout and " 0 passed" not in proc.stdout
