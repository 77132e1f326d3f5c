"""One Ray instance for the whole session, with two simulated GPUs (ray.init(num_gpus=2)
works on a CPU machine: replicas get GPU ids, torch still sees no CUDA and runs on CPU)."""

from pathlib import Path

import httpx
import pytest

from tests.support import PROJECT_ROOT, TEST_STRATEGIES, TINY_CONTEXT, free_port, random_walk_bars, wait_until

APP = "investiq"
# The session's Serve has a gRPC proxy, which Ray binds on every interface: without a key the
# builder refuses that unless told the exposure is deliberate (graph.check_exposure).
GRPC_EXPOSED = {"allow_unauthenticated": True}


@pytest.fixture(scope="session")
def grpc_port() -> int:
    """Where the session's Serve answers gRPC (deployments/proto/signals.proto)."""
    return free_port()


@pytest.fixture(scope="session")
def ray_cluster(grpc_port):
    import ray
    from ray import serve

    from deployments.grpc_api import SERVICER

    # Replica logs stay in .tmp/ray/session_latest/logs instead of flooding the test output.
    ray.init(num_cpus=4, num_gpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1",
                                       "TOKENIZERS_PARALLELISM": "false"}})
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port},
                grpc_options={"port": grpc_port, "grpc_servicer_functions": [SERVICER]})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="session")
def http(ray_cluster):
    with httpx.Client(base_url=ray_cluster, timeout=30) as client:
        yield client


def deploy_graph(http, config) -> None:
    """Deploy (or update in place) the session's app on `config`; returns once all branches are ready."""
    from ray import serve

    from graph import build_app

    serve.run(build_app(config), name=APP, route_prefix="/")
    wait_until(lambda: http.get("/readyz").json()["status"] == "ready", 60, "all branches ready")


@pytest.fixture(scope="session")
def graph_config(tiny_bert_dir, tiny_price_dir, tiny_har_dir, tmp_path_factory):
    from deployments.config import GraphConfig

    return GraphConfig.model_validate({
        "data_dir": str(tmp_path_factory.mktemp("data")),
        "sentiment": {"model": str(tiny_bert_dir), "max_batch_size": 8,
                      "placement": {"num_gpus": 0.5, "num_cpus": 0.25}},
        "price": {"model_dir": str(tiny_price_dir), "placement": {"num_gpus": 0.25, "num_cpus": 0.25}},
        "volatility": {"model_dir": str(tiny_har_dir), "placement": {"num_gpus": 0.25, "num_cpus": 0.25}},
        "ledger": {"record_interval_s": 0.2, "strategies": {"names": TEST_STRATEGIES}},
        "ingress": {**GRPC_EXPOSED, "shadow": False, "quorum": ["sentiment", "price", "volatility"],
                    "limits": {"max_news_items": 4, "max_news_chars": 200, "max_body_bytes": 65536,
                               "max_outcomes": 8, "max_symbols": 4, "max_watchlist_texts": 6}},
    })


@pytest.fixture(scope="session")
def client(http, graph_config):
    """The real graph on tiny models, deployed once for the session; waits until all branches are ready."""
    from ray import serve

    deploy_graph(http, graph_config)
    yield http
    serve.delete(APP)


def produce_metric_events(http, scratch: Path) -> None:
    """On the session's app, the events behind every metric of the README's table but degraded
    branches: a signal with news, bars and an outcome, a model load that fails (then the served
    model again), and a record the store refuses on its own (no columns at all)."""
    from ray import serve

    from client import InvestIQClient
    from deployments.messages import Record

    with InvestIQClient(str(http.base_url), timeout=30) as api:
        api.signal({"symbol": "SPY", "news": ["metrics"], "bars": random_walk_bars(TINY_CONTEXT + 1),
                    "outcomes": [{"strategy": "metrics", "outcome": "win"}]})
        served = api.readyz().branches["price"].source
    price = serve.get_deployment_handle("Price", APP)
    (scratch / "no-model").mkdir()  # a folder without a model (a missing one gets the embedded default)
    price.reconfigure.remote({"model_dir": str(scratch / "no-model")}).result()  # a failed load ...
    price.reconfigure.remote({"model_dir": served}).result()  # ... and back to what it serves
    serve.get_deployment_handle("Ledger", APP).log.remote([Record("signals", {})]).result()
