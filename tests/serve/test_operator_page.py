"""The operator page in a real browser (headless Chromium over the DevTools protocol), against the
session's graph after it has served and settled signals: what a person would see renders, its
charts have data, the console stays clean, and a screenshot is saved. Behind a key, the page
asks for it as a browser understands (HTTP Basic) and still renders when its branches fail."""

import base64
import uuid

import pytest
from ray import serve

from deployments.config import IngressConfig
from deployments.ingress import SignalIngress
from tests.headless import Browser, chromium_binary
from tests.serve.fakes import FailingBranch
from tests.support import PROJECT_ROOT, TINY_CONTEXT, random_walk_bars, wait_until

CHROMIUM = chromium_binary()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed: `make browser` installs "
                                                         "Debian's package (CI runs it before the tests)")
SCREENSHOT = PROJECT_ROOT / ".tmp" / "browser" / "operator_page.png"
SYMBOL = "OPS-PAGE"
SIGNALS = 24
KEY = "s3cret"


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


@pytest.fixture(scope="module")
def settled(client):
    """Signals served over moving windows of one bar series, some with outcomes, then settled."""
    bars = random_walk_bars(TINY_CONTEXT + 4 * SIGNALS + 8, seed=15)
    for i in range(SIGNALS):
        end = TINY_CONTEXT + 1 + 4 * i
        body = {"symbol": SYMBOL, "news": ["shares rose on record earnings"],
                "bars": {k: v[end - TINY_CONTEXT - 1:end] for k, v in bars.items()}}
        if i % 6 == 0:
            body["outcomes"] = [{"strategy": "breakout", "outcome": "win" if i % 12 else "loss",
                                 "id": f"ops-{uuid.uuid4().hex}"}]
        assert client.post("/v1/signal", json=body).status_code == 200
    settled = client.post("/v1/price/realised", json={"symbol": SYMBOL, "bars": bars}).json()
    assert settled["settled"] == SIGNALS and settled["risk_settled"] == 2 * SIGNALS  # two horizons each
    return client


def test_the_page_shows_served_and_settled_signals(settled, browser):
    browser.open(f"{str(settled.base_url).rstrip('/')}/operator?days=1")
    assert browser.problems() == []
    seen = browser.evaluate("""(() => ({
        title: document.title,
        sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
        signalRows: [...document.querySelectorAll('table.signals tbody tr')].map(r => r.cells[1].textContent),
        cards: [...document.querySelectorAll('.card h3')].map(h => h.textContent),
        charts: [...document.querySelectorAll('svg.chart')].map(s => ({
            title: s.getAttribute('aria-label'), marks: +s.dataset.marks,
            drawn: s.querySelectorAll('.mark').length, width: s.getBoundingClientRect().width})),
    }))()""")
    assert seen["title"] == "InvestIQ operator page"
    assert [s.split(",")[0].split(":")[0] for s in seen["sections"]] == [
        "Health", "Recent signals", "Signal quality", "Volatility forecasts", "Strategy posteriors",
        "Promotions and model loads"]
    assert seen["signalRows"] == [SYMBOL] * 20  # the newest 20 signals: ours were the last sent
    assert any(card.startswith(f"{SYMBOL}: patchtst-tiny@") for card in seen["cards"])
    assert f"{SYMBOL}: har-tiny@har-test" in seen["cards"]
    assert {c["title"].split(" ")[0] for c in seen["charts"]} >= {"Score", "Hit", "Calibration:", "Horizon", "Win"}
    for chart in seen["charts"]:
        assert chart["marks"] > 0 and chart["drawn"] == chart["marks"] and chart["width"] > 0, chart
    assert seen["charts"][0]["marks"] >= SIGNALS  # the score timeline: every signal of ours
    path = browser.screenshot(SCREENSHOT)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    print(f"screenshot: {path}")


@pytest.fixture(scope="module")
def keyed(http):
    """The page behind a key, over branches that all fail."""
    failing = FailingBranch.bind()
    options = {"ray_actor_options": {"num_cpus": 0.05, "runtime_env": {"env_vars": {"INVESTIQ_API_KEY": KEY}}}}
    serve.run(SignalIngress.options(**options).bind(failing, failing, failing, failing, IngressConfig()),
              name="keyed-page", route_prefix="/keyed-page")
    wait_until(lambda: http.get("/keyed-page/healthz").status_code == 200, 60, "keyed app up")
    yield http
    serve.delete("keyed-page")


def test_behind_a_key_the_page_asks_for_it_and_survives_failing_branches(keyed, browser):
    for headers in ({}, {"X-API-Key": "wrong"}):
        r = keyed.get("/keyed-page/operator", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), r.text
        assert r.json()["detail"][0]["loc"] == ["header", "x-api-key"]
    assert keyed.get("/keyed-page/operator?days=0").status_code == 422
    assert keyed.get("/keyed-page/operator", headers={"X-API-Key": KEY}).status_code == 200
    basic = "Basic " + base64.b64encode(f"operator:{KEY}".encode()).decode()
    browser.open(f"{str(keyed.base_url).rstrip('/')}/keyed-page/operator", headers={"Authorization": basic})
    assert browser.problems() == []
    text = browser.evaluate("document.body.innerText")
    assert "Health: degraded" in text and text.count("could not be read") >= 5
