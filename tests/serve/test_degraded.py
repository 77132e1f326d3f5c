"""Branches that are missing, slow or failing never take the signal down: they are named."""

import pytest
from ray import serve

from deployments.config import IngressConfig, PriceConfig, SentimentConfig
from deployments.ingress import SignalIngress
from deployments.price import PriceDeployment
from deployments.sentiment import SentimentDeployment
from store.store import sqlite_url
from tests.support import random_walk_bars
from tests.support import wait_until
from tests.serve.fakes import FailingBranch, SlowBranch

SMALL = {"ray_actor_options": {"num_cpus": 0.1}}
TIMEOUTS = {"timeouts": {"sentiment": 1.0, "price": 1.0, "strategies": 0.5}}


@pytest.fixture(scope="module")
def offline(http, tmp_path_factory):
    """No sentiment checkpoint, no trained price model, a strategies branch that hangs."""
    missing = tmp_path_factory.mktemp("empty")
    store_url = sqlite_url(missing)
    sentiment = SentimentDeployment.options(**SMALL).bind(SentimentConfig(model=str(missing / "finbert")), False)
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(missing / "price")}).bind(
        PriceConfig(), False, store_url)
    ingress = SignalIngress.options(**SMALL).bind(sentiment, SlowBranch.bind(), price,
                                                  IngressConfig.model_validate(TIMEOUTS), store_url)
    serve.run(ingress, name="offline", route_prefix="/offline")
    wait_until(lambda: http.get("/offline/healthz").status_code == 200, 60, "offline app up")
    wait_until(lambda: http.get("/offline/readyz").json()["branches"]["sentiment"]["state"] == "unavailable",
               60, "sentiment load failure reported")
    yield http
    serve.delete("offline")


@pytest.fixture(scope="module")
def faulty(http, tmp_path_factory):
    failing = FailingBranch.bind()
    ingress = SignalIngress.options(**SMALL).bind(failing, failing, failing, IngressConfig.model_validate(TIMEOUTS),
                                                  sqlite_url(tmp_path_factory.mktemp("faulty")))
    serve.run(ingress, name="faulty", route_prefix="/faulty")
    wait_until(lambda: http.get("/faulty/healthz").status_code == 200, 60, "faulty app up")
    yield http
    serve.delete("faulty")


SIGNAL = {"symbol": "SPY", "news": ["shares rose"], "bars": random_walk_bars(40)}


def test_offline_branches_are_named_with_what_to_do(offline):
    r = offline.post("/offline/v1/signal", json=SIGNAL)
    assert r.status_code == 200, r.text
    signal = r.json()
    reasons = {d["branch"]: d["reason"] for d in signal["degraded"]}
    assert set(reasons) == {"sentiment", "price", "strategies"}
    assert "could not be loaded" in reasons["sentiment"] and "local directory" in reasons["sentiment"]
    assert "investiq train" in reasons["price"]
    assert reasons["strategies"] == "timed out after 0.5 s"
    assert signal["decision"] == "HOLD" and signal["score"] == 0.0
    assert signal["latency_ms"]["total"] < 5000


def test_readyz_reports_each_branch(offline):
    r = offline.get("/offline/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["branches"]["price"]["state"] == "unavailable"
    assert "investiq train" in body["branches"]["price"]["reason"]
    assert body["branches"]["strategies"]["state"] == "unreachable"


def test_single_routes_answer_503_with_the_reason(offline):
    r = offline.post("/offline/v1/price/predict", json={"symbol": "SPY", "bars": random_walk_bars(40)})
    assert r.status_code == 503 and "investiq train" in r.json()["detail"]
    r = offline.post("/offline/v1/sentiment", json={"texts": ["shares rose"]})
    assert r.status_code == 503 and "sentiment unavailable" in r.json()["detail"]


def test_failing_branches_still_yield_a_signal(faulty):
    r = faulty.post("/faulty/v1/signal", json={**SIGNAL, "outcomes": [{"strategy": "s", "outcome": "win"}]})
    assert r.status_code == 200, r.text
    signal = r.json()
    assert {d["branch"] for d in signal["degraded"]} == {"sentiment", "price", "strategies"}
    assert all("simulated device fault" in d["reason"] for d in signal["degraded"])
    assert signal["outcomes_recorded"] == 0  # not acknowledged: the agent must resend
    assert signal["decision"] == "HOLD"
