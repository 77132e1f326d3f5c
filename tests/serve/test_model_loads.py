"""Model loads inside a running app: requests and polls never start a load, a model that
appears is picked up by the retry loop, and the promotion log gets one row per load and one
per new failure, never one per poll."""

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from ray import serve

from deployments.config import IngressConfig, LedgerConfig, PriceConfig
from deployments.ingress import SignalIngress
from deployments.ledger import Ledger
from deployments.price import PriceDeployment
from store.store import sqlite_url
from tests.serve.fakes import FailingBranch
from tests.support import TINY_CONTEXT, make_tiny_price_model, random_walk_bars, wait_until

SMALL = {"ray_actor_options": {"num_cpus": 0.05}}
QUICK_RETRY = {"load_retry": {"initial_s": 0.5, "max_s": 1.0}, "default_model": False}


def deploy_loads(data, model_dir) -> None:
    """The app serving the model at `model_dir`; run again, it reloads the price model in place."""
    ledger = Ledger.options(**SMALL).bind(LedgerConfig(), sqlite_url(data))
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(model_dir)}).bind(
        PriceConfig.model_validate(QUICK_RETRY), False, ledger)
    serve.run(SignalIngress.options(**SMALL).bind(FailingBranch.bind(), price, FailingBranch.bind(), ledger,
                                                    IngressConfig()),
              name="loads", route_prefix="/loads")


@pytest.fixture(scope="module")
def loads(http, tmp_path_factory):
    data = tmp_path_factory.mktemp("loads")
    later = data / "price"  # no model there yet
    deploy_loads(data, later)
    wait_until(lambda: http.get("/loads/readyz").json()["branches"]["price"]["state"] == "unavailable", 60,
               "price reported without a model")
    yield http, later, data / "investiq.sqlite"
    serve.delete("loads")


def test_polls_start_no_load_and_a_model_that_appears_is_served(loads):
    http, later, store = loads
    bars = {"symbol": "SPY", "bars": random_walk_bars(TINY_CONTEXT + 1)}

    def poll(i: int) -> int:
        r = http.post("/loads/v1/price/predict", json=bars) if i % 2 else http.get("/loads/readyz")
        return r.status_code

    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(poll, range(200)))
    polled_s = time.monotonic() - start
    assert set(codes) <= {200, 503}
    handle = serve.get_deployment_handle("Price", app_name="loads")
    attempts = handle.get_stats.remote().result()["load_attempts"]
    # Only the retry loop loads (every 0.5-1 s), however many requests came meanwhile.
    assert attempts <= 3 + polled_s / 0.5, (attempts, polled_s)

    make_tiny_price_model(later, "appeared")
    wait_until(lambda: http.get("/loads/readyz").json()["branches"]["price"]["version"] == "appeared", 30,
               "the model that appeared is served")
    assert http.post("/loads/v1/price/predict", json=bars).json()["version"] == "appeared"

    def log_rows():
        with sqlite3.connect(store) as db:
            return db.execute("SELECT outcome, version FROM model_promotions WHERE deployment = 'price' "
                              "ORDER BY id").fetchall()

    rows = wait_until(lambda: len(log_rows()) >= 2 and log_rows(), 10, "the promotion log written")
    # One row for the reason the loads failed (however often they were retried), one for the load.
    assert rows == [("failed", ""), ("loaded", "appeared")], rows


def test_bars_outside_the_session_the_model_was_trained_on_are_refused(loads):
    http, later, store = loads
    deploy_loads(store.parent, make_tiny_price_model(store.parent / "regular", "regular", session="regular"))
    wait_until(lambda: http.get("/loads/readyz").json()["branches"]["price"]["version"] == "regular", 60,
               "the regular-session model served")
    bars = random_walk_bars(TINY_CONTEXT + 1)
    monday_0930_edt = 1_750_080_600  # 2025-06-16 13:30 UTC
    for start, status in ((monday_0930_edt, 200), (monday_0930_edt + 6.5 * 3600, 422)):  # then 16:00, after hours
        timestamps = [start + 300 * i for i in range(len(bars["close"]))]
        r = http.post("/loads/v1/price/predict", json={"symbol": "SPY", "bars": {**bars, "timestamps": timestamps}})
        assert r.status_code == status, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "bars", "timestamps"]
    assert error["msg"].startswith("bars.timestamps[0] (Mon 2025-06-16 16:00 EDT) is outside the session")
