"""The agent loop on the session's graph: shadow signals, outcomes and sync, predictions
settled by later bars and evaluated, the typed client on every route (each with the store on
SQLite and on PostgreSQL), the OpenAPI file, and the custom metrics in Ray's Prometheus export."""

import asyncio
import json

import httpx
import pytest
import ray

from client import APIError, AsyncInvestIQClient, InvestIQClient
from client.agent_loop import bars_body, market_bars, run_agent_loop
from tests.conftest import STORE_DIALECTS
from tests.serve.conftest import deploy_graph, produce_metric_events
from tests.support import (
    PROJECT_ROOT,
    TINY_CONTEXT,
    exported_metrics,
    random_walk_bars,
    random_walk_frame,
    readme_metrics,
    wait_until,
)

STEPS = 12


@pytest.fixture(scope="module", params=STORE_DIALECTS)
def api(request, client, graph_config):
    """The typed client on the session's graph, whose Ledger uses each dialect in turn (on
    PostgreSQL a fresh database, swapped in place and back)."""
    on_postgresql = request.param == "postgresql"
    if on_postgresql:
        store_url = request.getfixturevalue("postgres").new_database()
        deploy_graph(client, graph_config.model_copy(update={"store_url": store_url}))
    with InvestIQClient(str(client.base_url), timeout=30) as api:
        yield api
    if on_postgresql:
        deploy_graph(client, graph_config)


def test_shadow_signals_are_marked_and_keep_their_decision(api):
    body = {"symbol": "SPY", "news": ["shares rose"], "bars": random_walk_bars(TINY_CONTEXT + 1)}
    shadow = api.signal({**body, "shadow": True})
    assert shadow.shadow is True and shadow.actionable is False
    assert shadow.decision in {"BUY", "SELL", "HOLD"} and shadow.price is not None
    live = api.signal(body)  # the session graph's ingress.shadow is false
    assert live.shadow is False and live.actionable is True
    assert live.threshold == live.price.threshold == 0.02  # the served model's own, chosen on its validation


def test_scripted_agent_loop_signal_outcome_settle_evaluate(api):
    frame = random_walk_frame(TINY_CONTEXT + 1 + STEPS + 64, seed=3)
    report = run_agent_loop(api, frame, "LOOP", TINY_CONTEXT + 1, STEPS, news=["the company beat estimates"],
                            session="all")  # the tiny model's
    assert sum(report["decisions"].values()) == STEPS
    assert report["predictions_settled"] == STEPS
    evaluation = report["evaluation"]
    assert evaluation["unsettled"] == 0
    (scores,) = evaluation["by_model_version"].values()
    assert scores["n"] == STEPS and sum(scores["realised_counts"].values()) == STEPS
    assert 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["brier"] <= 2.0
    assert scores["information_coefficient"]["n"] == STEPS  # of the served edge score
    assert sum(b["n"] for b in scores["hit_rate_by_confidence"]) <= STEPS
    # Settling is idempotent: the same bars settle nothing new.
    assert api.record_realised("LOOP", bars_body(market_bars(frame, "all"))).settled == 0


def test_client_round_trips_every_route(api, client):
    bars = random_walk_bars(TINY_CONTEXT + 1, seed=5)
    assert api.healthz().status == "ok" and api.readyz().status == "ready"
    assert len(api.sentiment(["shares fell"]).results) == 1
    assert api.predict_price("RT", bars).horizon == 4
    assert api.record_outcomes([{"strategy": "client_rt", "outcome": "win"}]).recorded == 1
    assert any(s.strategy == "client_rt" for s in api.strategy_weights().strategies)
    assert api.record_realised("RT", bars).settled == 0
    assert api.evaluate("RT", days=1).unsettled == 1
    assert api.signal({"symbol": "RT", "news": ["a headline"]}).price is None
    with pytest.raises(APIError) as bad:
        api.evaluate("not a symbol!")
    assert bad.value.status_code == 422

    async def async_round_trip():
        async with AsyncInvestIQClient(str(client.base_url), timeout=30) as aapi:
            signal = await aapi.signal({"symbol": "RT", "bars": bars})
            weights = await aapi.strategy_weights()
            return signal, weights

    signal, weights = asyncio.run(async_round_trip())
    assert signal.price is not None and weights.strategies


def test_sync_rebuilds_the_weights_from_a_window(api):
    api.record_outcomes([{"strategy": "sync_old", "outcome": "win", "timestamp": "2026-01-01T00:00:00Z"}])
    assert any(s.strategy == "sync_old" for s in api.strategy_weights().strategies)
    synced = api.sync_strategies(days=1)
    assert synced.weights.window_start is not None
    assert not any(s.strategy == "sync_old" for s in synced.weights.strategies)
    everything = api.sync_strategies(days=3650)  # back to all the evidence, for the other tests
    assert any(s.strategy == "sync_old" for s in everything.weights.strategies)


def test_bad_query_parameters_name_the_field(client):
    r = client.post("/v1/strategies/sync", params={"days": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "days"]
    r = client.get("/v1/evaluate/SPY", params={"days": "soon"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "days"]


def test_openapi_json_matches_the_live_schema(client):
    committed = json.loads((PROJECT_ROOT / "openapi.json").read_text())
    assert client.get("/openapi.json").json() == committed, "run `investiq openapi` and commit openapi.json"


DEGRADED = "investiq_degraded_total"  # a branch must fail for it: tests/serve/test_degraded.py checks it


def test_every_metric_in_the_readme_reaches_the_prometheus_export(client, tmp_path):
    produce_metric_events(client, tmp_path)
    port = ray._private.worker.global_worker.node.metrics_export_port
    expected = readme_metrics() - {DEGRADED}
    missing: set = set()

    def all_exported() -> bool:
        missing.clear()
        missing.update(expected - exported_metrics(port, expected))
        return not missing

    try:
        wait_until(all_exported, 90, "every metric of the README's table exported")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing: {sorted(missing)}") from None
