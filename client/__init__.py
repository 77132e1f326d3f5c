"""A typed Python client for the InvestIQ signal graph, synchronous and asynchronous (httpx).

    from client import InvestIQClient
    with InvestIQClient("http://127.0.0.1:8000") as api:
        signal = api.signal({"symbol": "SPY", "news": ["..."], "bars": {...}})
        if signal.actionable: ...

Every method validates its request with the server's own pydantic models and returns the
parsed response model; an error answer raises `APIError` with the status, the detail and
the request id. Methods that change state take a `request_id` (one is minted when omitted).
A call that times out, loses its connection or gets a 503 is sent again, the same call with
the same request id, up to `retries` times: the server replays what it committed, so
nothing is counted twice. After that, resend with `request_id=error.request_id`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

import httpx
from pydantic import BaseModel

from client import calls
from deployments.schemas import (
    Bars, EvaluationResponse, HealthResponse, OutcomesResponse, PriceResponse, ReadinessResponse, RealisedResponse,
    RiskResponse,
    SentimentResponse, SignalRequest, SignalResponse, SignalsRequest, SignalsResponse, StrategyOutcome,
    StrategyWeightsResponse, SyncResponse,
)

T = TypeVar("T", bound=BaseModel)

__all__ = ["APIError", "AsyncInvestIQClient", "InvestIQClient"]


class APIError(Exception):
    def __init__(self, status_code: int | None, detail, request_id: str | None = None):
        super().__init__(f"HTTP {status_code}: {detail}" if status_code else str(detail))
        self.status_code, self.detail, self.request_id = status_code, detail, request_id


RETRY_WAIT_S = 0.5  # doubles at each retry


def _parse(call: calls.Call[T], response: httpx.Response) -> T:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise APIError(response.status_code, detail, call.request_id)
    return call.answer.model_validate(response.json())


def _worth_retrying(outcome: httpx.Response | httpx.TransportError) -> bool:
    return isinstance(outcome, httpx.TransportError) or outcome.status_code == 503


def _gave_up(call: calls.Call[T], outcome: httpx.Response | httpx.TransportError) -> T:
    if isinstance(outcome, httpx.TransportError):
        raise APIError(None, f"no answer ({type(outcome).__name__}); resend with request_id={call.request_id}",
                       call.request_id) from outcome
    return _parse(call, outcome)


def _headers(api_key: str | None) -> dict:
    """The key that routes changing state need when the server has one."""
    return {"X-API-Key": api_key} if api_key else {}


def _request(call: calls.Call) -> dict:
    return {"method": call.method, "url": call.path, "json": call.json(), "params": call.params}


class InvestIQClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 10.0, api_key: str | None = None,
                 retries: int = 2, **httpx_options):
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=_headers(api_key), **httpx_options)
        self.retries = retries

    def __enter__(self) -> "InvestIQClient":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, call: calls.Call[T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                outcome = self.http.request(**_request(call))
            except httpx.TransportError as exc:
                outcome = exc
            if attempt == self.retries or not _worth_retrying(outcome):
                return _gave_up(call, outcome)
            time.sleep(RETRY_WAIT_S * 2 ** attempt)

    def signal(self, request: SignalRequest | dict) -> SignalResponse:
        return self.send(calls.signal(request))

    def signals(self, request: SignalsRequest | dict) -> SignalsResponse:
        """A watchlist: one signal per entry, each model called once for all of them."""
        return self.send(calls.signals(request))

    def sentiment(self, texts: list[str]) -> SentimentResponse:
        return self.send(calls.sentiment(texts))

    def record_outcomes(self, outcomes: list[StrategyOutcome | dict], request_id: str | None = None) -> OutcomesResponse:
        return self.send(calls.record_outcomes(outcomes, request_id))

    def sync_strategies(self, days: float, request_id: str | None = None) -> SyncResponse:
        return self.send(calls.sync_strategies(days, request_id))

    def strategy_weights(self, draw: bool = False) -> StrategyWeightsResponse:
        return self.send(calls.strategy_weights(draw))

    def predict_price(self, symbol: str, bars: Bars | dict) -> PriceResponse:
        return self.send(calls.predict_price(symbol, bars))

    def forecast_risk(self, symbol: str, bars: Bars | dict) -> RiskResponse:
        return self.send(calls.forecast_risk(symbol, bars))

    def record_realised(self, symbol: str, bars: Bars | dict, request_id: str | None = None) -> RealisedResponse:
        return self.send(calls.record_realised(symbol, bars, request_id))

    def evaluate(self, symbol: str, days: float = 7.0) -> EvaluationResponse:
        return self.send(calls.evaluate(symbol, days))

    def healthz(self) -> HealthResponse:
        return self.send(calls.healthz())

    def readyz(self) -> ReadinessResponse:
        return self.send(calls.readyz())


class AsyncInvestIQClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 10.0, api_key: str | None = None,
                 retries: int = 2, **httpx_options):
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=_headers(api_key), **httpx_options)
        self.retries = retries

    async def __aenter__(self) -> "AsyncInvestIQClient":
        return self

    async def __aexit__(self, *_) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, call: calls.Call[T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                outcome = await self.http.request(**_request(call))
            except httpx.TransportError as exc:
                outcome = exc
            if attempt == self.retries or not _worth_retrying(outcome):
                return _gave_up(call, outcome)
            await asyncio.sleep(RETRY_WAIT_S * 2 ** attempt)

    async def signal(self, request: SignalRequest | dict) -> SignalResponse:
        return await self.send(calls.signal(request))

    async def signals(self, request: SignalsRequest | dict) -> SignalsResponse:
        return await self.send(calls.signals(request))

    async def sentiment(self, texts: list[str]) -> SentimentResponse:
        return await self.send(calls.sentiment(texts))

    async def record_outcomes(self, outcomes: list[StrategyOutcome | dict],
                              request_id: str | None = None) -> OutcomesResponse:
        return await self.send(calls.record_outcomes(outcomes, request_id))

    async def sync_strategies(self, days: float, request_id: str | None = None) -> SyncResponse:
        return await self.send(calls.sync_strategies(days, request_id))

    async def strategy_weights(self, draw: bool = False) -> StrategyWeightsResponse:
        return await self.send(calls.strategy_weights(draw))

    async def predict_price(self, symbol: str, bars: Bars | dict) -> PriceResponse:
        return await self.send(calls.predict_price(symbol, bars))

    async def forecast_risk(self, symbol: str, bars: Bars | dict) -> RiskResponse:
        return await self.send(calls.forecast_risk(symbol, bars))

    async def record_realised(self, symbol: str, bars: Bars | dict, request_id: str | None = None) -> RealisedResponse:
        return await self.send(calls.record_realised(symbol, bars, request_id))

    async def evaluate(self, symbol: str, days: float = 7.0) -> EvaluationResponse:
        return await self.send(calls.evaluate(symbol, days))

    async def healthz(self) -> HealthResponse:
        return await self.send(calls.healthz())

    async def readyz(self) -> ReadinessResponse:
        return await self.send(calls.readyz())
