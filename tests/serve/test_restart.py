"""State across a restart of the Serve app: queued prediction records reach the store on a
clean shutdown, and the bandit weights and the evaluation come back unchanged."""

import pytest
from ray import serve

from client import InvestIQClient
from deployments.config import GraphConfig
from graph import build_app
from tests.serve.conftest import GRPC_EXPOSED
from tests.support import TINY_CONTEXT, random_walk_bars, wait_until
from store.store import Store
from store.store import sqlite_url

APP, PREFIX = "restart", "/restart"


@pytest.fixture(scope="module")
def deploy(http, tiny_bert_dir, tiny_price_dir, tiny_har_dir, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("restart-data")
    config = GraphConfig.model_validate({
        "data_dir": str(data_dir), "device_policy": "cpu",
        "sentiment": {"model": str(tiny_bert_dir)}, "price": {"model_dir": str(tiny_price_dir)},
        "volatility": {"model_dir": str(tiny_har_dir)}, "ledger": {"record_interval_s": 3600},  # only a shutdown writes the records
        "ingress": GRPC_EXPOSED,
    })

    def start() -> InvestIQClient:
        serve.run(build_app(config), name=APP, route_prefix=PREFIX)
        wait_until(lambda: http.get(f"{PREFIX}/readyz").json()["status"] == "ready", 90, "restart app ready")
        return InvestIQClient(f"{http.base_url}{PREFIX}", timeout=30)

    yield start, data_dir
    serve.delete(APP)


def test_records_and_state_survive_a_restart(deploy):
    start, data_dir = deploy
    bars = random_walk_bars(TINY_CONTEXT + 1 + 8, seed=11)
    window = {k: v[:TINY_CONTEXT + 1] for k, v in bars.items()}
    api = start()
    store = Store(sqlite_url(data_dir))  # the Ledger has migrated it by now
    for i in range(3):
        api.signal({"symbol": "RST", "news": [f"headline {i}"], "bars": window, "request_id": f"rst-{i}",
                    "outcomes": [{"strategy": "momentum", "outcome": "win" if i % 2 else "loss"}]})
    assert store.count("signals") == 0  # still queued in the Ledger
    serve.delete(APP)  # a clean shutdown
    assert [r["request_id"] for r in store.rows("signals")] == ["rst-0", "rst-1", "rst-2"]
    assert len(store.rows("price_predictions", symbol="RST")) == 3
    assert len(store.rows("sentiment_predictions")) == 3

    def state(api):
        posteriors = [s.model_dump(exclude={"probability_best"})
                      for s in api.strategy_weights().strategies]
        return posteriors, api.evaluate("RST", days=1).by_model_version

    api = start()
    assert api.record_realised("RST", bars).settled == 3
    before = state(api)
    assert before[1]["patchtst-tiny@v-test"].n == 1  # three forecasts of the same bar count once
    serve.delete(APP)
    posteriors, evaluation = state(start())
    assert evaluation == before[1]
    # Equal up to the evidence's decay over the seconds the restart took (7-day half-life).
    assert posteriors == [{k: pytest.approx(v, rel=1e-3) if isinstance(v, float) else v for k, v in p.items()}
                          for p in before[0]]
