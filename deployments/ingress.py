"""HTTP ingress: versioned FastAPI routes over the three model deployments.

`/v1/signal` fans out concurrently (`asyncio.gather`): sentiment alongside price-then-
strategies (outcomes are recorded only once the bars passed the price model), each call under
its own timeout; a branch that fails or times out is named in `degraded` with its reason and the
merge uses what arrived. Input errors become 422 naming the field; a branch with no model
becomes 503 on its own route. Every signal and prediction is logged to the store through a
batched writer, off the request's path; bars sent later settle the logged price predictions,
and `/v1/evaluate/{symbol}` scores them.

(No `from __future__ import annotations` here: FastAPI must see the real body types
through the signatures that Serve rewrites.)
"""


import asyncio
import hashlib
import hmac
import logging
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Security
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException as StarletteHTTPException

from deployments.config import IngressConfig
from deployments.errors import InvalidInput, ModelNotReady, one_line, root_cause
from deployments.metrics import IngressMetrics, degraded_reason
from deployments.schemas import (
    Bars,
    BranchReadiness,
    EvaluationResponse,
    HealthResponse,
    OutcomesRequest,
    OutcomesResponse,
    PriceRequest,
    PriceResponse,
    ReadinessResponse,
    RealisedRequest,
    RealisedResponse,
    SentimentRequest,
    SentimentResponse,
    SignalRequest,
    SignalResponse,
    StrategyWeightsResponse,
    Symbol,
    SyncResponse,
)
from models.evaluation import direction_scores, realised_direction
from models.direction import CLASSES
from models.signal_merge import merge_signal, price_score
from store.store import Store
from store.writer import BatchedWriter

DAY_S = 24 * 3600.0
REPLICA_LOST = (RayActorError, ActorUnavailableError, DeploymentUnavailableError)
logger = logging.getLogger("ray.serve")

# Routes that change state (outcomes, sync, realised results) need this header when the
# ingress has a key (`ingress.api_key_env` names the environment variable holding it).
ApiKey = Annotated[str | None, Security(APIKeyHeader(name="X-API-Key", auto_error=False))]

# Query and path parameters carry examples: without them Serve's copy of the app (pickled by
# value, which loses FastAPI's "unset" marker) would publish `"example": {}` for each.
Days = Annotated[float, Query(gt=0, le=3650, openapi_examples={"a week": {"value": 7}})]
SymbolInPath = Annotated[Symbol, PathParam(openapi_examples={"SPY": {"value": "SPY"}})]

app = FastAPI(
    title="InvestIQ signal graph",
    version="1",
    description="One trading signal from news sentiment, strategy weights and price direction.",
)


class BodySizeLimit:
    """ASGI middleware: 413 for a body over `app.state.max_body_bytes`, declared or streamed."""

    def __init__(self, asgi_app):
        self.app = asgi_app

    async def __call__(self, scope, receive, send):
        # scope["app"] is the app this replica serves (Serve ships a copy of the module's `app`).
        limit = getattr(scope["app"].state, "max_body_bytes", None) if "app" in scope else None
        if scope["type"] != "http" or not limit:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            response = JSONResponse({"detail": _too_large(limit)}, status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a chunked body without Content-Length
                raise HTTPException(status_code=413, detail=_too_large(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> list[dict]:
    return [{"loc": ["body"], "msg": f"request body over {limit} bytes", "type": "body_too_large"}]


app.add_middleware(BodySizeLimit)


@app.exception_handler(RequestValidationError)
async def validation_error(_, exc: RequestValidationError) -> JSONResponse:
    """422 with where and what, without echoing the input (NaN cannot be encoded, and news
    texts do not belong in error bodies or logs)."""
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


@app.exception_handler(StarletteHTTPException)
async def http_error(request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI answers a body it cannot decode (e.g. not UTF-8) with a bare 400 string;
    give it the same shape as every other input error, naming the body."""
    if exc.status_code == 400 and isinstance(exc.detail, str):
        detail = [{"loc": ["body"], "msg": f"{exc.detail}: send UTF-8 JSON", "type": "body_decode"}]
        return JSONResponse({"detail": detail}, status_code=400)
    return await http_exception_handler(request, exc)


def _invalid(loc: tuple, msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": "value_error"}])


@dataclass
class BranchResult:
    value: Any = None
    error: str | None = None
    latency_ms: float = 0.0


@serve.deployment(name="Ingress")
@serve.ingress(app)
class SignalIngress:
    def __init__(self, sentiment: DeploymentHandle, strategies: DeploymentHandle, price: DeploymentHandle,
                 config: IngressConfig, store_url: str):
        self.branches = {"sentiment": sentiment, "strategies": strategies, "price": price}
        self.config = config
        self.store = Store(store_url)
        self.writer = BatchedWriter(self.store, config.record_interval_s)
        self.metrics = IngressMetrics()
        self.api_key = os.environ.get(config.api_key_env) or None
        if self.api_key is None:
            logger.info("no API key in $%s: routes that change state are open to any caller", config.api_key_env)
        app.state.max_body_bytes = config.limits.max_body_bytes

    async def __del__(self):
        """Serve calls this on a clean shutdown: queued records reach the store first."""
        await self.writer.close()

    # ---- helpers ------------------------------------------------------------------------

    def _check_news(self, texts: list[str], field: str) -> None:
        limits = self.config.limits
        if len(texts) > limits.max_news_items:
            raise _invalid(("body", field), f"at most {limits.max_news_items} texts, got {len(texts)}")
        for i, text in enumerate(texts):
            if len(text) > limits.max_news_chars:
                raise _invalid(("body", field, i), f"text over {limits.max_news_chars} characters ({len(text)})")

    async def _call(self, branch: str, method: str, *args, budget_s: float | None = None) -> BranchResult:
        """One branch call; failures come back as a reason, never raise (except input errors,
        which are the client's and become 422). A call that lost its replica (killed,
        restarting) is sent again until the budget is spent: every branch method is safe to
        repeat (outcomes carry idempotency keys). The budget is the branch's timeout, or
        `budget_s` on a single-branch route, where waiting beats failing."""
        budget = budget_s or getattr(self.config.timeouts, branch)
        start = time.perf_counter()
        deadline, backoff = start + budget, 0.05
        while True:
            try:
                call = getattr(self.branches[branch], method).remote(*args)
                value = await asyncio.wait_for(call, max(deadline - time.perf_counter(), 0.001))
                return BranchResult(value=value, latency_ms=(time.perf_counter() - start) * 1e3)
            except asyncio.TimeoutError:
                error = f"timed out after {budget:g} s"
            except BackPressureError:
                error = "busy: its queue is full, retry shortly"
            except REPLICA_LOST as exc:
                error = f"replica unavailable ({type(exc).__name__})"
                if time.perf_counter() + backoff < deadline:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
                    continue
            except Exception as exc:
                cause = root_cause(exc)
                if isinstance(cause, InvalidInput):
                    raise _invalid(("body", *cause.loc), str(cause))
                error = str(cause) if isinstance(cause, ModelNotReady) else one_line(exc)
            return BranchResult(error=error, latency_ms=(time.perf_counter() - start) * 1e3)

    async def _single(self, branch: str, method: str, *args) -> Any:
        """A single-branch route: the branch's answer, or 503 with its reason."""
        result = await self._call(branch, method, *args, budget_s=self.config.timeouts.single_route_budget)
        if result.error:
            raise HTTPException(status_code=503, detail=f"{branch} unavailable: {result.error}")
        return result.value

    def _authorize(self, key: str | None) -> None:
        if self.api_key is not None and not hmac.compare_digest((key or "").encode(), self.api_key.encode()):
            raise HTTPException(status_code=401, detail=[{
                "loc": ["header", "x-api-key"], "type": "unauthorized",
                "msg": "missing or wrong API key: routes that change state need it in the X-API-Key header"}])

    @staticmethod
    def _keyed(outcomes: list, request_id: str | None) -> list[dict]:
        """Outcomes as the strategies branch takes them, each with an idempotency key: its own
        `id`, else the request's id and its position, else a fresh one (so at least this
        ingress's retries never count it twice)."""
        prefix = request_id or uuid.uuid4().hex
        return [{**o.model_dump(), "id": o.id or f"{prefix}#{i}"} for i, o in enumerate(outcomes)]

    def _log_sentiment(self, request_id: str | None, texts: list[str], answer: dict, now: float) -> None:
        version = f"{answer['model_id']}@{answer['version']}"
        for text, result in zip(texts, answer["results"]):
            self.writer.add("sentiment_predictions", {
                "request_id": request_id, "created_at": now, "model_version": version,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "label": result["label"], "score": result["score"]})

    def _log_price(self, request_id: str | None, symbol: str, bars: Bars, answer: dict, now: float) -> None:
        p = answer["probabilities"]
        self.writer.add("price_predictions", {
            "request_id": request_id, "symbol": symbol, "created_at": now,
            "as_of": bars.timestamps[-1].timestamp(), "last_close": bars.close[-1],
            "horizon": answer["horizon"], "flat_band_bp": answer["flat_band_bp"],
            "model_version": f"{answer['model_id']}@{answer['version']}",
            "p_up": p["up"], "p_flat": p["flat"], "p_down": p["down"]})

    def _settle(self, symbol: str, bars: Bars) -> int:
        """Record the realised direction of every logged prediction these bars decide."""
        timestamps = np.array([t.timestamp() for t in bars.timestamps])
        closes = np.asarray(bars.close)
        updates = []
        for row in self.store.unrealised_price_predictions(symbol, timestamps[0], timestamps[-1]):
            got = realised_direction(row["as_of"], row["last_close"], row["horizon"], row["flat_band_bp"],
                                     timestamps, closes)
            if got is not None:
                updates.append({"id": row["id"], "realised": got[0], "realised_return": got[1]})
        self.store.set_realised(updates, time.time())
        return len(updates)

    # ---- routes -------------------------------------------------------------------------

    @app.post("/v1/signal", response_model=SignalResponse)
    async def signal(self, request: SignalRequest, api_key: ApiKey = None) -> SignalResponse:
        start = time.perf_counter()
        if request.outcomes:
            self._authorize(api_key)
        self._check_news(request.news, "news")
        results: dict[str, BranchResult] = {}

        async def price_then_strategies() -> None:
            # Price first: bars it rejects (422) must not leave outcomes recorded behind an
            # error the agent will answer by resending them. Price is far faster than
            # sentiment, so the chain adds nothing to the request's time.
            if request.bars is not None:
                results["price"] = await self._call("price", "predict", request.bars.columns())
            results["strategies"] = await (
                self._call("strategies", "record", self._keyed(request.outcomes, request.request_id))
                if request.outcomes else self._call("strategies", "weights"))

        async def score_news() -> None:
            if request.news:
                results["sentiment"] = await self._call("sentiment", "score", request.news)

        await asyncio.gather(price_then_strategies(), score_news())

        def ok(name: str):
            r = results.get(name)
            return r.value if r is not None and r.error is None else None

        sentiment, price, strategies = ok("sentiment"), ok("price"), ok("strategies")
        shadow = self.config.shadow if request.shadow is None else request.shadow
        outcomes_recorded = 0
        if strategies is not None and request.outcomes:
            # Acknowledged: counted now, or counted before under the same keys.
            outcomes_recorded = strategies["recorded"] + strategies["duplicates"]
            strategies = strategies["weights"]
        merged = merge_signal(
            price_score(price["probabilities"]) if price else None,
            sentiment["score"] if sentiment else None,
            self.config.merge,
        )
        versions = {}
        if sentiment:
            versions["sentiment"] = f"{sentiment['model_id']}@{sentiment['version']}"
        if price:
            versions["price"] = f"{price['model_id']}@{price['version']}"
        latency = {name: round(r.latency_ms, 3) for name, r in results.items()}
        latency["total"] = round((time.perf_counter() - start) * 1e3, 3)
        for name, r in results.items():
            self.metrics.branch_latency.observe(r.latency_ms, tags={"branch": name})
            if r.error:
                self.metrics.degraded.inc(tags={"branch": name, "reason": degraded_reason(r.error)})
        self.metrics.signals.inc(tags={"decision": merged.decision, "shadow": str(shadow).lower()})
        response = SignalResponse(
            request_id=request.request_id or uuid.uuid4().hex,
            symbol=request.symbol,
            shadow=shadow,
            actionable=not shadow,
            decision=merged.decision,
            confidence=merged.confidence,
            score=merged.score,
            sentiment=sentiment,
            price=price,
            strategies=strategies,
            outcomes_recorded=outcomes_recorded,
            degraded=[{"branch": name, "reason": r.error} for name, r in results.items() if r.error],
            model_versions=versions,
            latency_ms=latency,
        )
        now = time.time()
        self.writer.add("signals", {
            "request_id": response.request_id, "symbol": request.symbol, "created_at": now,
            "decision": merged.decision, "score": merged.score, "confidence": merged.confidence, "shadow": shadow,
            "model_versions": versions,
            "components": {"sentiment": sentiment["score"] if sentiment else None,
                           "price": price["probabilities"] if price else None,
                           "degraded": [d.branch for d in response.degraded]}})
        if sentiment:
            self._log_sentiment(response.request_id, request.news, sentiment, now)
        if price:
            self._log_price(response.request_id, request.symbol, request.bars, price, now)
        return response

    @app.post("/v1/sentiment", response_model=SentimentResponse)
    async def sentiment(self, request: SentimentRequest) -> dict:
        self._check_news(request.texts, "texts")
        answer = await self._single("sentiment", "score", request.texts)
        self._log_sentiment(None, request.texts, answer, time.time())
        return answer

    @app.post("/v1/strategies/outcomes", response_model=OutcomesResponse)
    async def record_outcomes(self, request: OutcomesRequest, api_key: ApiKey = None) -> dict:
        self._authorize(api_key)
        return await self._single("strategies", "record", self._keyed(request.outcomes, request.request_id))

    @app.post("/v1/strategies/sync", response_model=SyncResponse)
    async def sync_strategies(self, days: Days, api_key: ApiKey = None) -> dict:
        """Rebuild the strategy weights from the outcomes of the last `days` days."""
        self._authorize(api_key)
        return await self._single("strategies", "sync", days)

    @app.get("/v1/strategies/weights", response_model=StrategyWeightsResponse)
    async def strategy_weights(self) -> dict:
        return await self._single("strategies", "weights")

    @app.post("/v1/price/predict", response_model=PriceResponse)
    async def predict_price(self, request: PriceRequest) -> dict:
        answer = await self._single("price", "predict", request.bars.columns())
        self._log_price(None, request.symbol, request.bars, answer, time.time())
        return answer

    @app.post("/v1/price/realised", response_model=RealisedResponse)
    async def record_realised(self, request: RealisedRequest, api_key: ApiKey = None) -> RealisedResponse:
        self._authorize(api_key)
        await self.writer.flush()  # this replica's latest predictions can be settled too
        return RealisedResponse(settled=await asyncio.to_thread(self._settle, request.symbol, request.bars))

    @app.get("/v1/evaluate/{symbol}", response_model=EvaluationResponse)
    async def evaluate(self, symbol: SymbolInPath, days: Days = 7.0) -> EvaluationResponse:
        """Accuracy and Brier score of the settled price predictions of the last `days` days,
        by model version."""
        await self.writer.flush()
        since = time.time() - days * DAY_S
        rows = await asyncio.to_thread(self.store.price_predictions_since, symbol, since)
        settled = defaultdict(list)
        for row in rows:
            if row["realised"] is not None:
                settled[row["model_version"]].append(row)
        return EvaluationResponse(
            symbol=symbol, days=days, since=datetime.fromtimestamp(since, timezone.utc),
            unsettled=sum(r["realised"] is None for r in rows),
            by_model_version={
                version: direction_scores(np.array([[r[f"p_{c}"] for c in CLASSES] for r in group]),
                                          [r["realised"] for r in group])
                for version, group in settled.items()})

    @app.get("/healthz", response_model=HealthResponse)
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadinessResponse)
    async def readyz(self) -> ReadinessResponse:
        names = list(self.branches)
        results = await asyncio.gather(*(self._call(n, "status") for n in names))
        branches = {
            name: BranchReadiness(**r.value) if r.error is None
            else BranchReadiness(ready=False, state="unreachable", reason=r.error)
            for name, r in zip(names, results)
        }
        status = "ready" if all(b.ready for b in branches.values()) else "degraded"
        return ReadinessResponse(status=status, branches=branches)
