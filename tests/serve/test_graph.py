"""The real graph on tiny models, in the session's Ray: fan-out, merge, the risk block and its
settlement, cache, batching, placement on the planned cards, and outcomes that survive a
replica restart."""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import ray
from ray import serve

from deployments.schemas import Bars
from models.har_model import HarVolatilityModel
from models.risk_scores import qlike
from models.signal_merge import MergeConfig, merge_signal
from tests.support import TINY_CONTEXT, random_walk_bars
from tests.serve.conftest import APP
from tests.support import wait_until


def _stats(deployment: str) -> dict:
    return serve.get_deployment_handle(deployment, app_name=APP).get_stats.remote().result()


def test_signal_fans_out_and_merges(client):
    body = {
        "symbol": "SPY",
        "news": ["shares rose on record earnings", "the company missed growth"],
        "outcomes": [{"strategy": "momentum", "outcome": "win"}, {"strategy": "mean_reversion", "outcome": "loss"}],
        "bars": random_walk_bars(TINY_CONTEXT + 20),
        "request_id": "req-1",
    }
    r = client.post("/v1/signal", json=body)
    assert r.status_code == 200, r.text
    signal = r.json()
    assert signal["degraded"] == []
    assert signal["actionable"] is True and signal["not_actionable_because"] == []
    assert signal["request_id"] == "req-1" and signal["symbol"] == "SPY"
    assert signal["outcomes_recorded"] == 2
    assert {s["strategy"] for s in signal["strategies"]["strategies"]} >= {"momentum", "mean_reversion"}
    assert len(signal["sentiment"]["results"]) == 2
    assert sum(signal["price"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    edges = signal["price"]["edges"]
    assert signal["price"]["score"] == pytest.approx(edges["up"] - edges["down"])
    expected = merge_signal(signal["price"]["score"], signal["sentiment"]["score"], MergeConfig(),
                            signal["price"]["threshold"])
    assert signal["decision"] == expected.decision and signal["threshold"] == 0.02
    assert signal["score"] == pytest.approx(signal["price"]["score"])  # the model's threshold: price alone decides
    assert set(signal["model_versions"]) == {"sentiment", "price", "volatility"}
    assert signal["model_versions"]["price"] == "patchtst-tiny@v-test"
    assert signal["model_versions"]["volatility"] == "har-tiny@har-test"
    assert set(signal["latency_ms"]) == {"sentiment", "price", "volatility", "strategies", "total"}


def test_the_signal_carries_the_risk_block_of_the_served_volatility_model(client, tiny_har_dir):
    """Per horizon what the HAR model forecasts from the same bars; the position scale sizes a
    position to the configured annual volatility; the expected move is the return's spread over
    the price model's horizon."""
    bars = random_walk_bars(TINY_CONTEXT + 20, seed=3)
    signal = client.post("/v1/signal", json={"symbol": "SPY", "bars": bars}).json()
    risk = signal["risk"]
    assert risk["forecaster"] == "har" and risk["version"] == "har-test" and risk["out_of_distribution"] is None
    distributions, _ = HarVolatilityModel.load(tiny_har_dir).forecast_bars(Bars.model_validate(bars).columns())
    assert [h["horizon"] for h in risk["horizons"]] == [4, 8]
    for served, d in zip(risk["horizons"], distributions):
        assert served["variance"] == pytest.approx(d.variance) and served["har_variance"] == served["variance"]
        assert served["var_95"] == pytest.approx(d.value_at_risk(0.95))
        assert served["var_99"] > served["var_95"] > 0
        assert served["interval_90"] == pytest.approx([d.quantile(0.05), d.quantile(0.95)])
        target = risk["target_annual_volatility"] * math.sqrt(d.horizon / (252 * 78))  # 5-minute bars
        assert served["position_scale"] == pytest.approx(min(1.0, target / d.return_std))
    assert signal["expected_move"] == pytest.approx(risk["horizons"][0]["return_std"])  # the price horizon, 4 bars


def test_single_branch_routes(client):
    r = client.post("/v1/sentiment", json={"texts": ["the stock fell"]})
    assert r.status_code == 200 and r.json()["results"][0]["label"] in {"positive", "negative", "neutral"}
    r = client.post("/v1/price/predict", json={"symbol": "QQQ", "bars": random_walk_bars(TINY_CONTEXT + 1)})
    assert r.status_code == 200 and r.json()["horizon"] == 4
    r = client.post("/v1/strategies/outcomes", json={"outcomes": [{"strategy": "breakout", "outcome": "win"}]})
    assert r.status_code == 200 and r.json()["recorded"] == 1
    weights = client.get("/v1/strategies/weights").json()
    assert sum(s["probability_best"] for s in weights["strategies"]) == pytest.approx(1.0)
    assert all(s["thompson_draw"] is None for s in weights["strategies"])  # a draw only when asked
    assert client.get("/v1/strategies/weights", params={"draw": True}).json()["strategies"][0]["thompson_draw"]
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    assert "/v1/signal" in client.get("/openapi.json").json()["paths"]


def test_each_replica_lands_on_the_planned_card(client):
    branches = client.get("/readyz").json()["branches"]
    # Plan: sentiment 0.5 + price 0.25 + volatility 0.25 fill card 0; CPU-only branches get no card.
    assert branches["sentiment"]["gpu_ids"] == ["0"]
    assert branches["price"]["gpu_ids"] == ["0"]
    assert branches["volatility"]["gpu_ids"] == ["0"]
    assert branches["ledger"]["gpu_ids"] == []
    assert branches["price"]["version"] == "v-test"

    @ray.remote(num_gpus=0.5, num_cpus=0)
    def tune_trial_card():
        return ray.get_gpu_ids()

    # Card 0 is full, so a Tune trial's half card lands on card 1.
    assert ray.get(tune_trial_card.remote()) == [1]


def test_repeated_text_is_served_from_the_cache(client):
    before = _stats("Sentiment")
    text = "the company beat earnings in the quarter"
    for _ in range(3):
        assert client.post("/v1/sentiment", json={"texts": [text]}).status_code == 200
    after = _stats("Sentiment")
    assert after["cache_misses"] - before["cache_misses"] == 1
    assert after["cache_hits"] - before["cache_hits"] == 2


def test_risk_forecasts_are_settled_with_the_realised_variance_and_scored_beside_har(client):
    """/v1/risk logs one forecast per horizon; the bars after it settle them with the variance
    of the moves that followed (within-session squared returns for 5-minute bars); /v1/evaluate
    scores them with QLIKE beside HAR's and counts VaR breaches."""
    bars = random_walk_bars(TINY_CONTEXT + 40, seed=11)
    first = {k: v[:TINY_CONTEXT] for k, v in bars.items()}
    risk = client.post("/v1/risk", json={"symbol": "VOLT", "bars": first})
    assert risk.status_code == 200, risk.text
    settled = client.post("/v1/price/realised", json={"symbol": "VOLT", "bars": bars}).json()
    assert settled["risk_settled"] == 2  # one forecast per horizon
    evaluation = client.get("/v1/evaluate/VOLT").json()
    assert evaluation["volatility_unsettled"] == 0
    (scores_4, scores_8) = evaluation["volatility_by_model_version"]["har-tiny@har-test"]
    closes, t0 = np.asarray(bars["close"]), TINY_CONTEXT - 1
    for scores, forecast in zip((scores_4, scores_8), risk.json()["horizons"]):
        h = forecast["horizon"]
        realised = float(np.sum(np.diff(np.log(closes[t0:t0 + h + 1])) ** 2))  # one session: no day starts
        assert scores["horizon"] == h and scores["n"] == 1
        assert scores["qlike"] == pytest.approx(qlike(forecast["variance"], realised))
        assert scores["qlike_har"] == pytest.approx(scores["qlike"])  # HAR is the served model
        breached = np.log(closes[t0 + h] / closes[t0]) < -forecast["var_95"]
        assert scores["var_95"]["breaches"] == int(breached) and scores["var_95"]["n"] == 1


def test_concurrent_requests_are_batched(client):
    before = _stats("Sentiment")["batch_sizes"]
    texts = [f"shares of the company rose {i}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda t: client.post("/v1/sentiment", json={"texts": [t]}).status_code, texts))
    assert codes == [200] * 16
    after = _stats("Sentiment")["batch_sizes"]
    new_batches = {size: n - before.get(size, 0) for size, n in after.items() if n > before.get(size, 0)}
    assert sum(size * n for size, n in new_batches.items()) == 16
    assert max(new_batches) > 1, new_batches


def test_outcomes_survive_a_ledger_restart(client):
    r = client.post("/v1/strategies/outcomes", json={"outcomes": [
        {"strategy": "durable", "outcome": "win", "timestamp": "2026-11-01T10:00:00Z"},
        {"strategy": "durable", "outcome": "loss", "timestamp": "2026-11-01T11:00:00Z"},
        {"strategy": "durable", "outcome": "win", "timestamp": "2026-11-01T12:00:00Z"},
    ]})
    assert r.status_code == 200

    def durable(weights):
        return next(s for s in weights["strategies"] if s["strategy"] == "durable")

    before = durable(r.json()["weights"])
    replica = next(a for a in ray.util.list_named_actors(all_namespaces=True)
                   if f"{APP}#Ledger" in a["name"] and "SERVE_REPLICA" in a["name"])
    ray.kill(ray.get_actor(replica["name"], namespace=replica["namespace"]), no_restart=True)
    after = wait_until(
        lambda: client.get("/v1/strategies/weights").status_code == 200 and client.get("/v1/strategies/weights").json(),
        60, "Ledger replica back")
    again = durable(after)
    assert again["outcomes"] == before["outcomes"] == 3
    # alpha and beta decay with wall-clock time between the two reads; within seconds they agree.
    assert again["alpha"] == pytest.approx(before["alpha"], rel=1e-4)
    assert again["beta"] == pytest.approx(before["beta"], rel=1e-4)
