"""/v1/signals on the real graph (tiny models): a watchlist gets the signals its entries get
one by one, each model is called once for all of them, a bad entry is named, a degraded entry
leaves its neighbours alone, and outcomes are recorded once."""

import uuid

import pytest
from ray import serve

from tests.serve.conftest import APP
from tests.support import TINY_CONTEXT, random_walk_bars

BRANCH_ANSWERS = ("decision", "score", "confidence", "threshold", "sentiment", "price", "risk", "expected_move",
                  "actionable", "not_actionable_because", "degraded", "model_versions")


def entry(seed: int, **fields) -> dict:
    return {"symbol": f"W{seed}", "news": [f"shares of company {seed} rose"],
            "bars": random_walk_bars(TINY_CONTEXT + 20, seed=seed), **fields}


def assert_same(batched, alone, where: str) -> None:
    """Equal, floats to 1e-5: a text scored in a batch of four differs from the same text alone
    in the last bits (padding changes the kernels' summation order)."""
    if isinstance(alone, float):
        assert batched == pytest.approx(alone, rel=1e-5, abs=1e-5), where
    elif isinstance(alone, dict):
        assert batched.keys() == alone.keys(), where
        for key in alone:
            assert_same(batched[key], alone[key], f"{where}.{key}")
    elif isinstance(alone, list):
        assert len(batched) == len(alone), where
        for i, (b, a) in enumerate(zip(batched, alone)):
            assert_same(b, a, f"{where}[{i}]")
    else:
        assert batched == alone, where


def batch_sizes(deployment: str) -> dict:
    stats = serve.get_deployment_handle(deployment, app_name=APP).get_stats.remote().result()
    return dict(stats["batch_sizes"])


def new_batches(before: dict, after: dict) -> dict:
    return {size: n - before.get(size, 0) for size, n in after.items() if n > before.get(size, 0)}


def test_each_entry_gets_the_signal_it_gets_alone_from_one_batch_per_model(client):
    entries = [entry(1), entry(2, news=[]), entry(3, bars=None), entry(4, news=["profit fell", "guidance cut"])]
    before = {d: batch_sizes(d) for d in ("Sentiment", "Price")}
    r = client.post("/v1/signals", json={"signals": entries, "request_id": f"wl-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [s["symbol"] for s in answer["signals"]] == ["W1", "W2", "W3", "W4"]
    assert all(s["request_id"] == answer["request_id"] for s in answer["signals"])
    assert set(answer["latency_ms"]) == {"sentiment", "price", "volatility", "strategies", "total"}
    # One price batch for the three series and one sentiment batch for the four texts (the
    # session's sentiment batches hold 8, and the four texts arrive together).
    assert new_batches(before["Price"], batch_sizes("Price")) == {3: 1}
    assert new_batches(before["Sentiment"], batch_sizes("Sentiment")) == {4: 1}
    for sent, batched in zip(entries, answer["signals"]):
        alone = client.post("/v1/signal", json=sent).json()
        for field in BRANCH_ANSWERS:
            assert_same(batched[field], alone[field], f"{sent['symbol']}.{field}")
    assert answer["signals"][1]["sentiment"] is None and answer["signals"][2]["price"] is None
    assert "sentiment not asked: the request has no news" in answer["signals"][1]["not_actionable_because"]


def test_a_degraded_entry_leaves_its_neighbours_actionable(client):
    flat_volume = entry(2)
    flat_volume["bars"] = {**flat_volume["bars"], "volume": [1.0] * len(flat_volume["bars"]["volume"])}
    answer = client.post("/v1/signals", json={"signals": [entry(1), flat_volume, entry(3)]}).json()
    first, flat, third = answer["signals"]
    assert [d["category"] for d in flat["degraded"]] == ["out_of_distribution"] and not flat["actionable"]
    assert first["degraded"] == third["degraded"] == [] and first["actionable"] and third["actionable"]


@pytest.mark.parametrize("entries,loc,message", [
    ([entry(1), entry(2, bars=random_walk_bars(10))], ["body", "signals", 1, "bars"], f"at least {TINY_CONTEXT + 1}"),
    ([entry(1), entry(2, outcomes=[{"strategy": "momentun", "outcome": "win"}])],
     ["body", "signals", 1, "outcomes", 0, "strategy"], "signals[1].outcomes[0].strategy 'momentun' is not a declared"),
    ([entry(1, outcomes=[{"strategy": "s", "outcome": "win", "id": "wl-twice"}]),
      entry(2, outcomes=[{"strategy": "s", "outcome": "loss", "id": "wl-twice"}])],
     ["body", "signals", 1, "outcomes", 0, "id"], "repeats signals[0].outcomes[0].id"),
    ([entry(i) for i in range(5)], ["body", "signals"], "at most 4 entries, got 5"),
    ([entry(1, news=["a", "b", "c"]), entry(2, news=["d", "e", "f", "g"])], ["body", "signals"],
     "at most 6 news texts over all entries, got 7"),
    ([entry(1), entry(2, news=["x" * 201])], ["body", "signals", 1, "news", 0], "text over 200 characters"),
    ([entry(1, outcomes=[{"strategy": "s", "outcome": "win"}] * 5),
      entry(2, outcomes=[{"strategy": "s", "outcome": "win"}] * 4)], ["body", "signals"], "at most 8 outcomes"),
])
def test_a_bad_entry_is_422_naming_it_and_records_nothing(client, entries, loc, message):
    marked = [{**e, "outcomes": e.get("outcomes") or [{"strategy": "must-not-count", "outcome": "win"}]}
              if i == 0 else e for i, e in enumerate(entries)]
    r = client.post("/v1/signals", json={"signals": marked})
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == loc and message in error["msg"], error
    names = {s["strategy"]: s["outcomes"] for s in client.get("/v1/strategies/weights").json()["strategies"]}
    assert "must-not-count" not in names


def test_outcomes_of_every_entry_are_recorded_once_under_the_request_id(client):
    request_id = f"wl-{uuid.uuid4().hex[:8]}"
    body = {"request_id": request_id, "signals": [
        entry(1, outcomes=[{"strategy": "idem_signal", "outcome": "win"}]),
        entry(2),
        entry(3, outcomes=[{"strategy": "idem_signal", "outcome": "loss"}, {"strategy": "idem_signal",
                                                                           "outcome": "win"}])]}

    def count(signal) -> int:
        return next(s["outcomes"] for s in signal["strategies"]["strategies"] if s["strategy"] == "idem_signal")

    first = client.post("/v1/signals", json=body).json()
    again = client.post("/v1/signals", json=body).json()
    for answer in (first, again):
        assert [s["outcomes_recorded"] for s in answer["signals"]] == [1, 0, 2]
    assert count(again["signals"][0]) == count(first["signals"][0])  # the resend counted nothing again
    other = {**body, "signals": body["signals"][:2]}
    r = client.post("/v1/signals", json=other)
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "request_id"], r.text


def test_an_outcome_id_reused_for_another_trade_is_409_naming_its_entry(client):
    trade = f"wl-trade-{uuid.uuid4().hex[:8]}"
    assert client.post("/v1/strategies/outcomes", json={"outcomes": [
        {"strategy": "reuse_id", "outcome": "win", "id": trade}]}).json()["recorded"] == 1
    r = client.post("/v1/signals", json={"signals": [
        entry(1, outcomes=[{"strategy": "reuse_id", "outcome": "win"}]),
        entry(2, outcomes=[{"strategy": "reuse_id", "outcome": "loss", "id": trade}])]})
    assert r.status_code == 409, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "signals", 1, "outcomes", 0, "id"]
