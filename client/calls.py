"""Each route of the API as data: method, path, query, body and the pydantic type of the answer.

Both clients send these, so a route is described once; the request bodies are validated
here, before they leave, with the same models the server uses. Every call that changes
state carries a request id, minted here when the caller gives none: sending the same Call
again is then safe (the server replays its first answer and never counts anything twice).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from deployments.schemas import (
    Bars, EvaluationResponse, HealthResponse, OutcomesRequest, OutcomesResponse, PriceRequest, PriceResponse, ReadinessResponse,
    RealisedRequest, RealisedResponse, RiskRequest, RiskResponse, SentimentRequest, SentimentResponse, SignalRequest, SignalResponse,
    SignalsRequest, SignalsResponse, StrategyOutcome, StrategyWeightsResponse, SyncResponse,
)

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    answer: type[T]
    body: BaseModel | None = None
    params: dict = field(default_factory=dict)

    def json(self) -> dict | None:
        return None if self.body is None else self.body.model_dump(mode="json", exclude_none=True)

    @property
    def request_id(self) -> str | None:
        """The id a resend of this call must carry: in the body, or in the query."""
        return getattr(self.body, "request_id", None) or self.params.get("request_id")


def _as(model: type[BaseModel], value):
    return value if isinstance(value, model) else model.model_validate(value)


def _new_request_id() -> str:
    return uuid.uuid4().hex


def signal(request: SignalRequest | dict) -> Call[SignalResponse]:
    request = _as(SignalRequest, request)
    if request.outcomes and request.request_id is None:
        request = request.model_copy(update={"request_id": _new_request_id()})
    return Call("POST", "/v1/signal", SignalResponse, request)


def signals(request: SignalsRequest | dict) -> Call[SignalsResponse]:
    request = _as(SignalsRequest, request)
    if any(entry.outcomes for entry in request.signals) and request.request_id is None:
        request = request.model_copy(update={"request_id": _new_request_id()})
    return Call("POST", "/v1/signals", SignalsResponse, request)


def sentiment(texts: list[str]) -> Call[SentimentResponse]:
    return Call("POST", "/v1/sentiment", SentimentResponse, SentimentRequest(texts=texts))


def record_outcomes(outcomes: list[StrategyOutcome | dict], request_id: str | None = None) -> Call[OutcomesResponse]:
    body = OutcomesRequest(outcomes=outcomes, request_id=request_id or _new_request_id())
    return Call("POST", "/v1/strategies/outcomes", OutcomesResponse, body)


def sync_strategies(days: float, request_id: str | None = None) -> Call[SyncResponse]:
    return Call("POST", "/v1/strategies/sync", SyncResponse,
                params={"days": days, "request_id": request_id or _new_request_id()})


def strategy_weights(draw: bool = False) -> Call[StrategyWeightsResponse]:
    return Call("GET", "/v1/strategies/weights", StrategyWeightsResponse, params={"draw": draw} if draw else {})


def predict_price(symbol: str, bars: Bars | dict) -> Call[PriceResponse]:
    return Call("POST", "/v1/price/predict", PriceResponse, PriceRequest(symbol=symbol, bars=_as(Bars, bars)))


def forecast_risk(symbol: str, bars: Bars | dict) -> Call[RiskResponse]:
    return Call("POST", "/v1/risk", RiskResponse, RiskRequest(symbol=symbol, bars=_as(Bars, bars)))


def record_realised(symbol: str, bars: Bars | dict, request_id: str | None = None) -> Call[RealisedResponse]:
    body = RealisedRequest(symbol=symbol, bars=_as(Bars, bars), request_id=request_id or _new_request_id())
    return Call("POST", "/v1/price/realised", RealisedResponse, body)


def evaluate(symbol: str, days: float = 7.0) -> Call[EvaluationResponse]:
    return Call("GET", f"/v1/evaluate/{symbol}", EvaluationResponse, params={"days": days})


def healthz() -> Call[HealthResponse]:
    return Call("GET", "/healthz", HealthResponse)


def readyz() -> Call[ReadinessResponse]:
    return Call("GET", "/readyz", ReadinessResponse)
