"""Branches that are missing, slow or failing never take the signal down: they are named."""

import pytest
import ray
from ray import serve

from deployments.config import IngressConfig, PriceConfig, SentimentConfig, VolatilityConfig
from deployments.ingress import SignalIngress
from deployments.price import PriceDeployment
from deployments.sentiment import SentimentDeployment
from deployments.volatility import VolatilityDeployment
from models.signal_merge import MergeConfig
from tests.support import exported_metrics, random_walk_bars, wait_until
from tests.serve.fakes import FailingBranch, SlowBranch

SMALL = {"ray_actor_options": {"num_cpus": 0.1}}
INGRESS = IngressConfig.model_validate({"shadow": False, "timeouts": {"sentiment": 1.0, "price": 1.0, "ledger": 0.5}})
QUICK_RETRY = {"initial_s": 0.2, "max_s": 0.5}


@pytest.fixture(scope="module")
def offline(http, tmp_path_factory):
    """No sentiment checkpoint, no trained price or volatility model (nor the default), a Ledger that hangs."""
    missing = tmp_path_factory.mktemp("empty")
    sentiment = SentimentDeployment.options(**SMALL).bind(SentimentConfig(model=str(missing / "finbert")), False, None)
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(missing / "price")}).bind(
        PriceConfig(default_model=False), False, None)
    volatility = VolatilityDeployment.options(**SMALL, user_config={"model_dir": str(missing / "volatility")}).bind(
        VolatilityConfig(default_model=False), False, None)
    serve.run(SignalIngress.options(**SMALL).bind(sentiment, price, volatility, SlowBranch.bind(), INGRESS),
              name="offline", route_prefix="/offline")
    wait_until(lambda: http.get("/offline/healthz").status_code == 200, 60, "offline app up")
    wait_until(lambda: http.get("/offline/readyz").json()["branches"]["sentiment"]["state"] == "unavailable",
               60, "sentiment load failure reported")
    yield http
    serve.delete("offline")


@pytest.fixture(scope="module")
def faulty(http):
    failing = FailingBranch.bind()
    serve.run(SignalIngress.options(**SMALL).bind(failing, failing, failing, failing, INGRESS),
              name="faulty", route_prefix="/faulty")
    wait_until(lambda: http.get("/faulty/healthz").status_code == 200, 60, "faulty app up")
    yield http
    serve.delete("faulty")


NO_THRESHOLD = "no signal threshold: no usable price answer and ingress.merge.threshold is unset"
SIGNAL = {"symbol": "SPY", "news": ["shares rose"], "bars": random_walk_bars(40)}


def test_offline_branches_are_named_with_what_to_do(offline):
    r = offline.post("/offline/v1/signal", json=SIGNAL)
    assert r.status_code == 200, r.text
    signal = r.json()
    reasons = {d["branch"]: d["reason"] for d in signal["degraded"]}
    assert set(reasons) == {"sentiment", "price", "volatility", "strategies"}
    assert "could not be loaded" in reasons["sentiment"] and "local directory" in reasons["sentiment"]
    assert "investiq train" in reasons["price"]
    assert "investiq train-volatility" in reasons["volatility"]
    assert reasons["strategies"] == "timed out after 0.5 s"
    categories = {d["branch"]: d["category"] for d in signal["degraded"]}
    assert categories == {"sentiment": "model_unavailable", "price": "model_unavailable",
                          "volatility": "model_unavailable", "strategies": "timeout"}
    assert signal["risk"] is None and signal["expected_move"] is None
    assert signal["decision"] == "HOLD" and signal["score"] == 0.0
    assert signal["actionable"] is False
    assert signal["not_actionable_because"] == ["sentiment degraded (model_unavailable)",
                                                "price degraded (model_unavailable)", NO_THRESHOLD]
    assert signal["latency_ms"]["total"] < 5000


def test_degraded_branches_are_counted_in_the_metrics(offline):
    assert offline.post("/offline/v1/signal", json=SIGNAL).json()["degraded"]
    port = ray._private.worker.global_worker.node.metrics_export_port
    wait_until(lambda: exported_metrics(port, {"investiq_degraded_total"}), 90, "degraded branches counted")


def test_readyz_reports_each_branch(offline):
    r = offline.get("/offline/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "degraded"
    assert body["branches"]["price"]["state"] == "unavailable"
    assert "investiq train" in body["branches"]["price"]["reason"]
    assert body["branches"]["volatility"]["state"] == "unavailable"
    assert body["branches"]["ledger"]["state"] == "unreachable"


def test_single_routes_answer_503_with_the_reason(offline):
    r = offline.post("/offline/v1/price/predict", json={"symbol": "SPY", "bars": random_walk_bars(40)})
    assert r.status_code == 503 and "investiq train" in r.json()["detail"]
    r = offline.post("/offline/v1/sentiment", json={"texts": ["shares rose"]})
    assert r.status_code == 503 and "sentiment unavailable" in r.json()["detail"]
    r = offline.post("/offline/v1/risk", json={"symbol": "SPY", "bars": random_walk_bars(40)})
    assert r.status_code == 503 and "investiq train-volatility" in r.json()["detail"]


def test_failing_branches_still_yield_a_signal(faulty):
    r = faulty.post("/faulty/v1/signal", json={**SIGNAL, "outcomes": [{"strategy": "s", "outcome": "win"}]})
    assert r.status_code == 200, r.text
    signal = r.json()
    assert {d["branch"] for d in signal["degraded"]} == {"sentiment", "price", "volatility", "strategies"}
    assert all("simulated device fault" in d["reason"] for d in signal["degraded"])
    assert signal["outcomes_recorded"] == 0  # not acknowledged: the agent must resend
    assert signal["decision"] == "HOLD"
    # A watchlist: each branch's one call failed, so every entry names it.
    watchlist = {"signals": [SIGNAL, {**SIGNAL, "symbol": "QQQ", "outcomes": [{"strategy": "s", "outcome": "win"}]}]}
    r = faulty.post("/faulty/v1/signals", json=watchlist)
    assert r.status_code == 200, r.text
    for entry in r.json()["signals"]:
        assert {d["branch"] for d in entry["degraded"]} == {"sentiment", "price", "volatility", "strategies"}
        assert entry["outcomes_recorded"] == 0 and entry["decision"] == "HOLD"


@pytest.fixture(scope="module")
def one_sided(http, tiny_bert_dir, tiny_har_dir, tmp_path_factory):
    """Sentiment and volatility answer, price has no model: the signal rests on one headline's sentiment."""
    sentiment = SentimentDeployment.options(**SMALL).bind(SentimentConfig(model=str(tiny_bert_dir)), False, None)
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(tmp_path_factory.mktemp("none"))}).bind(
        PriceConfig(), False, None)
    volatility = VolatilityDeployment.options(**SMALL, user_config={"model_dir": str(tiny_har_dir)}).bind(
        VolatilityConfig(), False, None)
    # Acting on sentiment alone takes a threshold of the operator's: the price model's is not there.
    quorum_of_one = INGRESS.model_copy(update={"quorum": ["sentiment"], "merge": MergeConfig(threshold=0.05)})
    for name, config in (("one-sided", INGRESS), ("sentiment-quorum", quorum_of_one)):
        serve.run(SignalIngress.options(**SMALL).bind(sentiment, price, volatility, FailingBranch.bind(), config),
                  name=name, route_prefix=f"/{name}")
    wait_until(lambda: http.get("/one-sided/readyz").json()["branches"]["sentiment"]["ready"], 60, "sentiment up")
    yield http
    for name in ("one-sided", "sentiment-quorum"):
        serve.delete(name)


def test_a_signal_with_a_directional_branch_down_is_not_actionable(one_sided):
    body = {"symbol": "SPY", "news": ["shares rose on record earnings"], "bars": random_walk_bars(40)}
    signal = one_sided.post("/one-sided/v1/signal", json=body).json()
    assert [d["branch"] for d in signal["degraded"] if d["branch"] != "strategies"] == ["price"]
    assert signal["actionable"] is False
    assert "price degraded (model_unavailable)" in signal["not_actionable_because"]
    assert signal["risk"]["version"] == "har-test" and signal["expected_move"] is None  # no price horizon to read
    # A signal that never asked for price is not actionable on sentiment alone either ...
    no_bars = one_sided.post("/one-sided/v1/signal", json={"symbol": "SPY", "news": body["news"]}).json()
    assert no_bars["actionable"] is False
    assert no_bars["not_actionable_because"] == ["price not asked: the request has no bars", NO_THRESHOLD]
    # ... unless the operator's quorum says sentiment alone is enough.
    allowed = one_sided.post("/sentiment-quorum/v1/signal", json=body).json()
    assert allowed["actionable"] is True and allowed["not_actionable_because"] == []
    assert allowed["threshold"] == 0.05


def test_the_sentiment_branch_heals_when_its_model_appears(http, tmp_path_factory):
    """A failed load is retried: the replica serves once the checkpoint is there, with no restart."""
    from tests.support import make_tiny_bert

    later = tmp_path_factory.mktemp("later") / "finbert"
    sentiment = SentimentDeployment.options(**SMALL).bind(
        SentimentConfig.model_validate({"model": str(later), "load_retry": QUICK_RETRY}), False, None)
    failing = FailingBranch.bind()
    serve.run(SignalIngress.options(**SMALL).bind(sentiment, failing, failing, failing, INGRESS),
              name="healing", route_prefix="/healing")
    try:
        status = wait_until(lambda: (b := http.get("/healing/readyz").json()["branches"]["sentiment"])["state"]
                            == "unavailable" and b, 60, "sentiment load failure reported")
        assert str(later) in status["last_load_error"] and "retrying" in status["reason"]
        assert http.post("/healing/v1/sentiment", json={"texts": ["shares rose"]}).status_code == 503
        make_tiny_bert(later)
        wait_until(lambda: http.get("/healing/readyz").json()["branches"]["sentiment"]["ready"], 30,
                   "sentiment served after its checkpoint appeared")
        r = http.post("/healing/v1/sentiment", json={"texts": ["shares rose"]})
        assert r.status_code == 200, r.text
    finally:
        serve.delete("healing")


@pytest.fixture(scope="module")
def mismatched(http, tiny_price_dir, tmp_path_factory):
    """A 5-minute price model beside the embedded daily volatility default, as after a user's
    first price model and before their first volatility model."""
    price = PriceDeployment.options(**SMALL, user_config={"model_dir": str(tiny_price_dir)}).bind(
        PriceConfig(), False, None)
    volatility = VolatilityDeployment.options(
        **SMALL, user_config={"model_dir": str(tmp_path_factory.mktemp("fresh") / "volatility")}).bind(
        VolatilityConfig(), False, None)
    quorum = INGRESS.model_copy(update={"quorum": ["price", "volatility"]})
    serve.run(SignalIngress.options(**SMALL).bind(FailingBranch.bind(), price, volatility, FailingBranch.bind(), quorum),
              name="mismatched", route_prefix="/mismatched")
    wait_until(lambda: all(http.get("/mismatched/readyz").json()["branches"][b]["ready"]
                           for b in ("price", "volatility")), 60, "both bar models up")
    yield http
    serve.delete("mismatched")


def test_bars_the_volatility_model_cannot_read_degrade_its_branch_not_the_signal(mismatched):
    bars = random_walk_bars(40)
    signal = mismatched.post("/mismatched/v1/signal", json={"symbol": "SPY", "bars": bars})
    assert signal.status_code == 200, signal.text
    degraded = {d["branch"]: d for d in signal.json()["degraded"]}
    assert degraded["volatility"]["category"] == "input_refused"
    assert "86400" in degraded["volatility"]["reason"] and "investiq train-volatility" in degraded["volatility"]["reason"]
    assert signal.json()["price"] is not None and signal.json()["risk"] is None
    assert "volatility degraded (input_refused)" in signal.json()["not_actionable_because"]
    # The risk route itself refuses them, naming the field.
    r = mismatched.post("/mismatched/v1/risk", json={"symbol": "SPY", "bars": bars})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bars", "timestamps"], r.text
