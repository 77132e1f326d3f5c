import json
import re

from client import InvestIQClient, AsyncInvestIQClient, calls
from tests.support import PROJECT_ROOT


def test_the_client_has_a_call_for_every_route_in_openapi_json():
    paths = set(json.loads((PROJECT_ROOT / "openapi.json").read_text())["paths"])
    source = (PROJECT_ROOT / "client/calls.py").read_text()
    called = {re.sub(r"\{\w+\}", "{symbol}", p) for p in re.findall(r'"(/[^"]*)"', source)}
    assert paths == called


def test_both_clients_have_a_method_for_every_call():
    names = {n for n in dir(calls) if callable(getattr(calls, n)) and getattr(calls, n).__module__ == calls.__name__
             and not n.startswith("_") and n != "Call"}
    for cls in (InvestIQClient, AsyncInvestIQClient):
        assert names <= set(dir(cls)), names - set(dir(cls))


def test_a_call_that_gets_no_answer_or_a_503_is_resent_with_the_same_request_id(monkeypatch):
    import httpx
    import pytest

    import client as client_module
    from client import APIError

    monkeypatch.setattr(client_module, "RETRY_WAIT_S", 0.0)
    seen = []
    weights = {"as_of": "2026-11-21T00:00:00Z", "credible_level": 0.9, "half_life_days": 7, "strategies": []}

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["request_id"])
        if len(seen) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(seen) == 2:
            return httpx.Response(503, json={"detail": "ledger unavailable"})
        return httpx.Response(200, json={"request_id": seen[-1], "recorded": 1, "duplicates": 0, "replayed": True,
                                         "weights": weights})

    with InvestIQClient("http://test", transport=httpx.MockTransport(server)) as api:
        answer = api.record_outcomes([{"strategy": "s", "outcome": "win"}])
    assert len(seen) == 3 and len(set(seen)) == 1 and answer.request_id == seen[0]

    def always_down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with InvestIQClient("http://test", transport=httpx.MockTransport(always_down), retries=1) as api:
        with pytest.raises(APIError) as error:
            api.record_outcomes([{"strategy": "s", "outcome": "win"}], request_id="mine")
    assert error.value.request_id == "mine" and "resend with request_id=mine" in str(error.value)
