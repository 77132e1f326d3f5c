"""Each route of the API as data: method, path, query, body and the pydantic type of the answer.

Both clients send these, so a route is described once; the request bodies are validated
here, before they leave, with the same models the server uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from deployments.schemas import (
    Bars, EvaluationResponse, HealthResponse, OutcomesRequest, OutcomesResponse, PriceRequest, PriceResponse, ReadinessResponse,
    RealisedRequest, RealisedResponse, SentimentRequest, SentimentResponse, SignalRequest, SignalResponse,
    StrategyOutcome, StrategyWeightsResponse, SyncResponse,
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


def _as(model: type[BaseModel], value):
    return value if isinstance(value, model) else model.model_validate(value)


def signal(request: SignalRequest | dict) -> Call[SignalResponse]:
    return Call("POST", "/v1/signal", SignalResponse, _as(SignalRequest, request))


def sentiment(texts: list[str]) -> Call[SentimentResponse]:
    return Call("POST", "/v1/sentiment", SentimentResponse, SentimentRequest(texts=texts))


def record_outcomes(outcomes: list[StrategyOutcome | dict]) -> Call[OutcomesResponse]:
    return Call("POST", "/v1/strategies/outcomes", OutcomesResponse, OutcomesRequest(outcomes=outcomes))


def sync_strategies(days: float) -> Call[SyncResponse]:
    return Call("POST", "/v1/strategies/sync", SyncResponse, params={"days": days})


def strategy_weights() -> Call[StrategyWeightsResponse]:
    return Call("GET", "/v1/strategies/weights", StrategyWeightsResponse)


def predict_price(symbol: str, bars: Bars | dict) -> Call[PriceResponse]:
    return Call("POST", "/v1/price/predict", PriceResponse, PriceRequest(symbol=symbol, bars=_as(Bars, bars)))


def record_realised(symbol: str, bars: Bars | dict) -> Call[RealisedResponse]:
    return Call("POST", "/v1/price/realised", RealisedResponse, RealisedRequest(symbol=symbol, bars=_as(Bars, bars)))


def evaluate(symbol: str, days: float = 7.0) -> Call[EvaluationResponse]:
    return Call("GET", f"/v1/evaluate/{symbol}", EvaluationResponse, params={"days": days})


def healthz() -> Call[HealthResponse]:
    return Call("GET", "/healthz", HealthResponse)


def readyz() -> Call[ReadinessResponse]:
    return Call("GET", "/readyz", ReadinessResponse)
