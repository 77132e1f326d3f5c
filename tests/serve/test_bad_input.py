"""Every class of bad input gets a 4xx naming the field, never a 5xx or a hang."""

import json
import math

import pytest

from tests.support import TINY_CONTEXT, random_walk_bars

BARS = random_walk_bars(TINY_CONTEXT + 5)


def bars_with(**changes):
    bars = json.loads(json.dumps(BARS))
    for key, (index, value) in changes.items():
        bars[key][index] = value
    return bars


WIN = {"strategy": "s", "outcome": "win"}


def signal(**fields):
    return {"symbol": "SPY", "news": ["shares rose"], "bars": BARS, **fields}


CASES = {
    "blank news text": ("/v1/signal", signal(news=["  \t "]), "news"),
    "empty news text": ("/v1/sentiment", {"texts": [""]}, "texts"),
    "too many texts": ("/v1/signal", signal(news=["shares rose"] * 5), "news"),
    "text too long": ("/v1/sentiment", {"texts": ["a" * 201]}, "texts"),
    "timestamps not increasing": ("/v1/signal", signal(bars=bars_with(timestamps=(3, BARS["timestamps"][1]))),
                                  "timestamps"),
    "NaN price": ("/v1/price/predict", {"symbol": "SPY", "bars": bars_with(close=(2, math.nan))}, "close"),
    "infinite price": ("/v1/signal", signal(bars=bars_with(open=(2, math.inf))), "open"),
    "zero price": ("/v1/signal", signal(bars=bars_with(low=(2, 0.0))), "low"),
    "negative price": ("/v1/signal", signal(bars=bars_with(high=(2, -5.0))), "high"),
    "high below low": ("/v1/signal", signal(bars=bars_with(high=(4, 1.0), low=(4, 2.0))), "bars.high[4]"),
    "columns of different lengths": ("/v1/signal", signal(bars={**BARS, "volume": BARS["volume"][:-1]}), "volume"),
    "too few bars for the model": ("/v1/price/predict", {"symbol": "SPY", "bars": random_walk_bars(10)},
                                   f"at least {TINY_CONTEXT + 1}"),
    "too few bars in a signal": ("/v1/signal", signal(bars=random_walk_bars(10)), f"at least {TINY_CONTEXT + 1}"),
    "bars of another interval": ("/v1/price/predict", {"symbol": "SPY", "bars": {
        **BARS, "timestamps": [BARS["timestamps"][0] + 60 * i for i in range(len(BARS["timestamps"]))]}},
        "bars.timestamps: gap of 60 s"),
    "outcome not win/loss": ("/v1/strategies/outcomes", {"outcomes": [{"strategy": "s", "outcome": "draw"}]},
                             "outcome"),
    "outcome from the future": ("/v1/strategies/outcomes",
                                {"outcomes": [{"strategy": "s", "outcome": "win", "timestamp": "2099-01-01T00:00:00Z"}]},
                                "timestamp"),
    "missing symbol": ("/v1/signal", {"news": ["shares rose"]}, "symbol"),
    "unknown field": ("/v1/signal", signal(sentiment_weight=2), "sentiment_weight"),
    "malformed symbol": ("/v1/price/predict", {"symbol": "SPY; DROP", "bars": BARS}, "symbol"),
    "a price that is not a number": ("/v1/price/predict", {"symbol": "SPY", "bars": bars_with(close=(1, "high"))},
                                     "close"),
    "no outcomes": ("/v1/strategies/outcomes", {"outcomes": []}, "outcomes"),
    "the same outcome id twice": ("/v1/strategies/outcomes",
                                  {"outcomes": [{"strategy": "s", "outcome": "win", "id": "t1"},
                                                {"strategy": "s", "outcome": "loss", "id": "t1"}]}, "outcomes[1].id"),
    "malformed request id": ("/v1/signal", signal(request_id="two words"), "request_id"),
    "a time without its zone": ("/v1/signal", signal(bars={**BARS, "timestamps": [
        f"2025-06-16T10:{i:02d}:00" for i in range(len(BARS["timestamps"]))]}),
        "bars.timestamps[0] must carry its zone"),
    "an outcome time without its zone": ("/v1/strategies/outcomes", {"outcomes": [
        {"strategy": "s", "outcome": "win", "timestamp": "2025-06-16T10:00:00"}]}, "must carry its zone"),
    "more outcomes than the limit": ("/v1/strategies/outcomes", {"outcomes": [WIN] * 9}, "at most 8 outcomes"),
    "more outcomes than the limit in a signal": ("/v1/signal", signal(outcomes=[WIN] * 9), "at most 8 outcomes"),
    "too few bars for the volatility model": ("/v1/risk", {"symbol": "SPY", "bars": random_walk_bars(5)},
                                              "bars has 5 bars; this volatility model needs at least 8"),
    "risk bars of another interval": ("/v1/risk", {"symbol": "SPY", "bars": {
        **BARS, "timestamps": [BARS["timestamps"][0] + 60 * i for i in range(len(BARS["timestamps"]))]}},
        "bars.timestamps: gap of 60 s"),
    "NaN price for the risk block": ("/v1/risk", {"symbol": "SPY", "bars": bars_with(high=(2, math.nan))}, "high"),
    "malformed symbol for the risk block": ("/v1/risk", {"symbol": "", "bars": BARS}, "symbol"),
    "realised bars out of order": ("/v1/price/realised",
                                   {"symbol": "SPY", "bars": bars_with(timestamps=(3, BARS["timestamps"][1]))},
                                   "timestamps"),
}


@pytest.mark.parametrize("route,body,field", CASES.values(), ids=CASES.keys())
def test_bad_input_is_422_naming_the_field(client, route, body, field):
    r = client.post(route, content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert field in r.text


def test_body_over_the_limit_is_413(client):
    r = client.post("/v1/sentiment", json={"texts": ["x" * 70_000]})
    assert r.status_code == 413 and "body" in r.text


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"texts": ["'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"]}'

    r = client.post("/v1/sentiment", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_not_json_is_422(client):
    r = client.post("/v1/signal", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_invalid_utf8_is_400_naming_the_body(client):
    r = client.post("/v1/sentiment", content=b'{"texts": ["caf\xe9 \xff"]}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["body"] and "UTF-8" in r.text


def test_wrong_content_type_is_422(client):
    r = client.post("/v1/sentiment", content=b"texts=shares rose", headers={"content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"


def test_rejected_bars_leave_no_outcome_recorded(client):
    body = signal(bars=random_walk_bars(10), outcomes=[{"strategy": "must-not-count", "outcome": "win"}])
    r = client.post("/v1/signal", json=body)
    assert r.status_code == 422 and f"at least {TINY_CONTEXT + 1}" in r.text
    names = {s["strategy"] for s in client.get("/v1/strategies/weights").json()["strategies"]}
    assert "must-not-count" not in names


@pytest.mark.parametrize("route", ["/v1/strategies/outcomes", "/v1/signal"])
def test_an_undeclared_strategy_is_422_with_the_declared_ones_and_records_nothing(client, route):
    body = {"outcomes": [{"strategy": "momentum", "outcome": "win"}, {"strategy": "momentun", "outcome": "win"}]}
    r = client.post(route, json=signal(**body) if route == "/v1/signal" else body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "outcomes", 1, "strategy"]
    assert "'momentun' is not a declared strategy" in error["msg"] and "momentum, mean_reversion" in error["msg"]
    names = {s["strategy"] for s in client.get("/v1/strategies/weights").json()["strategies"]}
    assert "momentun" not in names


def test_symbols_are_one_whatever_their_case(client):
    for symbol in ("nrm", " NRM ", "Nrm"):
        r = client.post("/v1/price/predict", json={"symbol": symbol, "bars": BARS})
        assert r.status_code == 200, r.text
    assert client.post("/v1/signal", json=signal(symbol="nrm")).json()["symbol"] == "NRM"
    assert client.get("/v1/evaluate/nrm", params={"days": 1}).json()["unsettled"] == 4


@pytest.mark.parametrize("volume", [0.0, 1.0])
def test_constant_volume_gives_a_degraded_price_answer_that_is_not_actionable(client, volume):
    """The issue's bug: volume all 0 or all 1 got SELL at 0.9999, actionable. The forecast is
    still shown, but it is flagged, left out of the merge, and the signal is not actionable."""
    bars = {**BARS, "volume": [volume] * len(BARS["volume"])}
    answer = client.post("/v1/signal", json=signal(bars=bars)).json()
    assert answer["price"] is not None
    assert {s["channel"] for s in answer["price"]["out_of_distribution"]} == {"log_volume"}
    (degraded,) = answer["degraded"]
    assert degraded["branch"] == "price" and degraded["category"] == "out_of_distribution"
    assert "log_volume" in degraded["reason"] and "does not move" in degraded["reason"]
    assert answer["actionable"] is False
    assert "price degraded (out_of_distribution)" in answer["not_actionable_because"]
    # Without a usable price answer there is no validated threshold: HOLD, and it says so.
    assert (answer["decision"], answer["score"], answer["threshold"]) == ("HOLD", 0.0, None)
    assert any("no usable price answer" in r for r in answer["not_actionable_because"])
    # The same bars with their volume: in distribution, merged and actionable.
    normal = client.post("/v1/signal", json=signal()).json()
    assert normal["price"]["out_of_distribution"] == [] and normal["degraded"] == [] and normal["actionable"]


def test_volume_a_thousand_times_larger_is_flagged_on_the_price_route(client):
    bars = {**BARS, "volume": [v * 1000 for v in BARS["volume"]]}
    answer = client.post("/v1/price/predict", json={"symbol": "SPY", "bars": bars}).json()
    (shift,) = answer["out_of_distribution"]
    assert (shift["channel"], shift["statistic"]) == ("log_volume", "mean") and shift["distance"] > 1
