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
