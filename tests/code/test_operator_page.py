"""The operator page drawn from what the Ledger answers, without Ray: an empty store says what to
do, a store with settled predictions gets charts with data, a branch that fails costs only its
section, and nothing the store holds reaches the page unescaped."""

import base64
import re
import time

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from deployments.branch_call import BranchResult
from deployments.operator_page import Quality, View, authorize_page, calibration, render, sent_key, settled_variances
from deployments.schemas import (
    BranchReadiness, DirectionScores, EvaluationResponse, ReadinessResponse, StrategyWeightsResponse,
    VolatilityScores,
)

NOW = time.time()
READY = ReadinessResponse(status="ready", branches={
    "price": BranchReadiness(ready=True, state="ready", model_id="default-patchtst-direction", version="qqq",
                             reason="serving the embedded default model")})
PRIOR = StrategyWeightsResponse.model_validate({"as_of": "2026-12-01T00:00:00Z", "credible_level": 0.9,
                                                "half_life_days": 7, "strategies": [
    {"strategy": "momentum", "alpha": 1, "beta": 1, "mean": 0.5, "lower": 0.05, "upper": 0.95, "outcomes": 0,
     "expected_r": None, "expected_r_lower": None, "expected_r_upper": None, "r_outcomes": 0,
     "probability_best": 1.0, "probability_best_r": None}]})


def prediction(i: int, p_up: float, realised: str | None, symbol: str = "SPY", version: str = "m@v1") -> dict:
    return {"symbol": symbol, "model_version": version, "as_of": 1000.0 + i, "p_up": p_up, "p_flat": 0.1,
            "p_down": 0.9 - p_up, "realised": realised, "score": p_up - 0.45}


def view(**parts) -> View:
    empty = BranchResult(value=[])
    base = dict(days=7, at=NOW, readiness=READY, signals=empty, predictions=empty, risks=empty,
                volatility_decisions=empty,
                strategies=BranchResult(value=PRIOR), loads=empty, decisions=empty, quality=[])
    return View(**{**base, **parts})


def marks(page: str) -> list[int]:
    return [int(m) for m in re.findall(r'data-marks="(\d+)"', page)]


def test_an_empty_store_says_what_to_do():
    page = render(view())
    assert "No signals recorded yet. Send one" in page and "investiq request" in page
    assert "No settled price predictions in this window" in page and "/v1/price/realised" in page
    assert "No settled risk forecasts in this window" in page
    assert "No strategy outcomes in the window yet" in page
    assert "the embedded defaults are served until something is" in page
    assert "serving the embedded default model" in page  # the health section names what is served


def test_signals_and_settled_predictions_are_drawn():
    signals = [{"created_at": NOW - i, "symbol": "SPY", "decision": d, "score": s, "confidence": abs(s),
                "shadow": True, "model_versions": {"price": "m@v1"},
                "components": {"degraded": ["sentiment"], "not_actionable_because": ["shadow mode: logged"]}}
               for i, (d, s) in enumerate((("HOLD", 0.01), ("BUY", 0.3), ("SELL", -0.2)))]
    rows = [prediction(i, 0.2 + 0.05 * (i % 10), "up" if i % 3 else "down") for i in range(40)]
    scores = DirectionScores(n=40, accuracy=0.5, brier=0.6, brier_base_rate=0.62, realised_counts={},
                             hit_rate_by_confidence=[{"n": 20, "min_confidence": 0.0, "max_confidence": 0.1,
                                                      "hit_rate": 0.55, "hit_rate_ci": [0.34, 0.74]}])
    evaluation = EvaluationResponse(symbol="SPY", days=7, since="2026-12-01T00:00:00Z", unsettled=2,
                                    by_model_version={"m@v1": scores})
    page = render(view(signals=BranchResult(value=signals), predictions=BranchResult(value=rows),
                       quality=[Quality("SPY", BranchResult(value=evaluation), calibration(rows), {})]))
    table = page.split('<table class="signals">')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 3 and "no: shadow mode</span>" in table  # heads; the reasons on hover
    assert all(m > 0 for m in marks(page)) and len(marks(page)) == 4  # timeline, hit rate, calibration, strategies
    assert "SPY: m@v1" in page and "Brier 0.6000 against 0.6200" in page


def risk_row(i: int, variance: float, realised: float | None, horizon: int = 12) -> dict:
    return {"symbol": "SPY", "model_version": "har@v1", "as_of": 1000.0 + i, "horizon": horizon,
            "variance": variance, "realised_variance": realised}


def test_settled_risk_forecasts_are_scored_beside_har_and_drawn_against_what_was_realised():
    rows = [risk_row(i, 1e-4 * (1 + i % 4), 1e-4 * (1 + i % 3)) for i in range(30)] + [risk_row(31, 1e-4, None)]
    breaches = {"n": 30, "breaches": 2, "rate": 2 / 30, "kupiec_p": 0.7}
    scores = VolatilityScores(horizon=12, n=30, qlike=0.41, qlike_har=0.41, n_har=30, var_95=breaches,
                              var_99={**breaches, "breaches": 0, "rate": 0.0})
    evaluation = EvaluationResponse(symbol="SPY", days=7, since="2026-12-01T00:00:00Z", unsettled=0,
                                    by_model_version={}, volatility_unsettled=1,
                                    volatility_by_model_version={"har@v1": [scores]})
    variances = settled_variances(rows[::-1])  # the Ledger answers newest first
    assert len(variances[("har@v1", 12)]) == 30  # the unsettled one is not drawn
    page = render(view(risks=BranchResult(value=rows), quality=[
        Quality("SPY", BranchResult(value=evaluation), {}, variances)]))
    section = page.split('<section id="volatility">')[1].split("</section>")[0]
    assert "SPY: har@v1" in section and "2 of 30, 6.7% (Kupiec p 0.70)" in section and "0.410" in section
    assert marks(section) == [30]  # forecast against realised: every settled forecast


def test_calibration_counts_each_bar_once_with_its_latest_forecast():
    newest_first = [prediction(0, 0.9, "up"), prediction(0, 0.1, "up"), prediction(1, 0.1, None)]
    (bins,) = [calibration(newest_first)["m@v1"]["up"]]
    assert bins == [{"forecast": 0.9, "observed": 1.0, "n": 1}]


def test_a_failed_branch_costs_only_its_section_and_the_store_is_escaped():
    down = BranchResult(category="timeout", reason="timed out after 5 s")
    signals = [{"created_at": NOW, "symbol": "<b>X", "decision": "HOLD", "score": 0.0, "confidence": 0.0,
                "shadow": True, "model_versions": {}, "components": {"not_actionable_because": ["<script>x</script>"]}}]
    page = render(view(strategies=down, loads=down, risks=down, signals=BranchResult(value=signals)))
    assert page.count("could not be read: timed out after 5 s") == 3
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;X" in page


def request(headers: dict) -> Request:
    return Request({"type": "http", "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


@pytest.mark.parametrize("headers,key", [
    ({"X-API-Key": "k1"}, "k1"),
    ({"Authorization": "Basic " + base64.b64encode(b"anyone:k2").decode()}, "k2"),
    ({"Authorization": "Basic not-base64!"}, None),
    ({"Authorization": "Bearer k3"}, None),
    ({}, None),
])
def test_the_key_comes_from_the_header_or_basic_auth(headers, key):
    assert sent_key(request(headers)) == key


def test_without_the_key_a_browser_is_asked_for_it():
    authorize_page(request({}), None)  # no key configured: open
    with pytest.raises(HTTPException) as refused:
        authorize_page(request({"X-API-Key": "wrong"}), "s3cret")
    assert refused.value.status_code == 401 and refused.value.headers["WWW-Authenticate"].startswith("Basic")
    authorize_page(request({"Authorization": "Basic " + base64.b64encode(b"op:s3cret").decode()}), "s3cret")


def test_the_decisions_of_both_registries_are_listed_newest_first():
    price = [{"time": "2026-12-01T10:00:00Z", "action": "promote", "version": "p1", "previous": None,
              "reason": "investiq promote"}]
    volatility = [{"time": "2026-12-02T10:00:00Z", "action": "reject", "version": "v2",
                   "reasons": ["h12: test QLIKE 0.5000 above HAR's 0.4500"], "gate": {}}]
    page = render(view(decisions=BranchResult(value=price), volatility_decisions=BranchResult(value=volatility)))
    table = page.split('<table class="decisions">')[1].split("</table>")[0]
    rows = table.split("<tbody>")[1].split("</tr>")[:-1]
    assert "volatility" in rows[0] and "above HAR&#x27;s 0.4500" in rows[0] and "price" in rows[1]
