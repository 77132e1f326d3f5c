"""A fresh install serves the embedded default price and volatility models, says so, and
switches to the user's own model the moment one is promoted (no redeploy, no --serve-address)."""

import sqlite3

import numpy as np
import pytest
from ray import serve

from deployments.config import IngressConfig, LedgerConfig, PriceConfig, VolatilityConfig
from deployments.ingress import SignalIngress
from deployments.ledger import Ledger
from deployments.price import PriceDeployment
from deployments.volatility import VolatilityDeployment
from models.registry import ModelRegistry
from store.store import sqlite_url
from tests.serve.fakes import FailingBranch
from tests.support import TINY_CONTEXT, make_tiny_har_model, make_tiny_price_model, random_walk_bars, wait_until

SMALL = {"ray_actor_options": {"num_cpus": 0.05}}
DAY_S = 86_400


def daily_bars(n: int, seed: int = 0) -> dict:
    """Daily bars like QQQ's (drift, volatility, volume), which the default model reads in distribution."""
    rng = np.random.default_rng(seed)
    close = 300 * np.exp(np.cumsum(rng.normal(0.0005, 0.013, n)))
    open_ = np.concatenate([[300], close[:-1]]) * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(rng.uniform(0.002, 0.012, n))
    low = np.minimum(open_, close) * np.exp(-rng.uniform(0.002, 0.012, n))
    columns = {"open": open_, "high": high, "low": low, "close": close, "volume": 4e7 * np.exp(rng.normal(0, 0.3, n))}
    return {"timestamps": [1_600_000_000 + DAY_S * i for i in range(n)], **{k: v.tolist() for k, v in columns.items()}}


@pytest.fixture(scope="module")
def fresh(http, tmp_path_factory):
    """The price and volatility branches as a fresh install runs them (registry paths with
    nothing there yet); sentiment fails."""
    data = tmp_path_factory.mktemp("fresh")
    quick = {"load_retry": {"initial_s": 0.5, "max_s": 1.0}}
    ledger = Ledger.options(**SMALL).bind(LedgerConfig(), sqlite_url(data))
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(data / "registry")}).bind(
        PriceConfig.model_validate(quick), False, ledger)
    volatility = VolatilityDeployment.options(**SMALL, user_config={"model_dir": str(data / "volatility")}).bind(
        VolatilityConfig.model_validate(quick), False, ledger)
    serve.run(SignalIngress.options(**SMALL).bind(FailingBranch.bind(), price, volatility, ledger,
                                                  IngressConfig(quorum=["price", "volatility"])),
              name="fresh", route_prefix="/fresh")
    wait_until(lambda: all(http.get("/fresh/readyz").json()["branches"][b]["ready"] for b in ("price", "volatility")),
               60, "the defaults served")
    yield http, ModelRegistry(data / "registry"), data / "investiq.sqlite", ModelRegistry(data / "volatility")
    serve.delete("fresh")


def test_the_default_answers_and_is_named_until_a_model_is_promoted(fresh):
    http, registry, store, _ = fresh
    price = http.get("/fresh/readyz").json()["branches"]["price"]
    assert price["model_id"] == "default-patchtst-direction" and "embedded default model" in price["reason"]
    assert "MODEL_CARD.md" in price["reason"] and "investiq train" in price["reason"]
    signal = http.post("/fresh/v1/signal", json={"symbol": "QQQ", "news": ["shares rose"], "bars": daily_bars(200)})
    signal = signal.json()
    assert signal["model_versions"]["price"].startswith("default-patchtst-direction@qqq-daily-")
    assert [d["branch"] for d in signal["degraded"]] == ["sentiment"]  # a stand-in that fails here
    assert signal["shadow"] is True and signal["actionable"] is False  # the usual rules apply to the default
    # The default reads daily bars: 5-minute ones are refused naming the field, as for any model.
    r = http.post("/fresh/v1/price/predict", json={"symbol": "QQQ", "bars": random_walk_bars(200)})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bars", "timestamps"], r.text

    registry.publish(make_tiny_price_model(registry.root.parent / "mine", "mine"), "mine")
    registry.promote("mine")  # as `investiq train --promote` without --serve-address does
    wait_until(lambda: http.get("/fresh/readyz").json()["branches"]["price"]["version"] == "mine", 10,
               "the promoted model served")
    price = http.get("/fresh/readyz").json()["branches"]["price"]
    assert price["reason"] is None and price["source"] == str(registry.root)
    answer = http.post("/fresh/v1/price/predict", json={"symbol": "QQQ", "bars": random_walk_bars(TINY_CONTEXT + 1)})
    assert answer.json()["version"] == "mine"

    def loads():
        with sqlite3.connect(store) as db:
            return db.execute("SELECT outcome, model_id, version FROM model_promotions WHERE deployment = 'price' "
                              "ORDER BY id").fetchall()

    rows = wait_until(lambda: len(loads()) >= 2 and loads(), 10, "both loads in the promotion log")
    assert [(outcome, model_id) for outcome, model_id, _ in rows] == [
        ("loaded", "default-patchtst-direction"), ("loaded", "patchtst-tiny")]


def test_the_default_risk_block_answers_until_a_volatility_model_is_promoted(fresh):
    http, _, _, registry = fresh
    volatility = http.get("/fresh/readyz").json()["branches"]["volatility"]
    assert volatility["model_id"] == "default-har-volatility" and "embedded default model" in volatility["reason"]
    assert "investiq train-volatility" in volatility["reason"]
    risk = http.post("/fresh/v1/risk", json={"symbol": "QQQ", "bars": daily_bars(200)}).json()
    assert risk["version"].startswith("qqq-daily-") and [h["horizon"] for h in risk["horizons"]] == [1, 5]
    assert all(0 < h["var_95"] < h["var_99"] for h in risk["horizons"])

    registry.publish(make_tiny_har_model(registry.root.parent / "my-har", "my-har"), "my-har")
    registry.promote("my-har")
    wait_until(lambda: http.get("/fresh/readyz").json()["branches"]["volatility"]["version"] == "my-har", 10,
               "the promoted volatility model served")
    assert http.get("/fresh/readyz").json()["branches"]["volatility"]["reason"] is None
    answer = http.post("/fresh/v1/risk", json={"symbol": "QQQ", "bars": random_walk_bars(TINY_CONTEXT + 1)})
    assert answer.json()["version"] == "my-har"
