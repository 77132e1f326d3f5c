"""HTTP ingress: versioned FastAPI routes over the three model deployments.

`/v1/signal` fans out concurrently (`asyncio.gather`): sentiment alongside price-then-
strategies (outcomes are recorded only once the bars passed the price model), each call under
its own timeout; a branch that fails or times out is named in `degraded` with its reason and the
merge uses what arrived. Input errors become 422 naming the field; a branch with no model
becomes 503 on its own route.

(No `from __future__ import annotations` here: FastAPI must see the real body types
through the signatures that Serve rewrites.)
"""


import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.config import IngressConfig
from deployments.errors import InvalidInput, ModelNotReady, one_line, root_cause
from deployments.schemas import (
    BranchReadiness,
    OutcomesRequest,
    OutcomesResponse,
    PriceRequest,
    PriceResponse,
    ReadinessResponse,
    SentimentRequest,
    SentimentResponse,
    SignalRequest,
    SignalResponse,
    StrategyWeightsResponse,
)
from models.signal_merge import merge_signal, price_score

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
                 config: IngressConfig):
        self.branches = {"sentiment": sentiment, "strategies": strategies, "price": price}
        self.config = config
        app.state.max_body_bytes = config.limits.max_body_bytes

    # ---- helpers ------------------------------------------------------------------------

    def _check_news(self, texts: list[str], field: str) -> None:
        limits = self.config.limits
        if len(texts) > limits.max_news_items:
            raise _invalid(("body", field), f"at most {limits.max_news_items} texts, got {len(texts)}")
        for i, text in enumerate(texts):
            if len(text) > limits.max_news_chars:
                raise _invalid(("body", field, i), f"text over {limits.max_news_chars} characters ({len(text)})")

    async def _call(self, branch: str, method: str, *args) -> BranchResult:
        """One branch call under its timeout; failures come back as a reason, never raise
        (except input errors, which are the client's and become 422)."""
        timeout = getattr(self.config.timeouts, branch)
        start = time.perf_counter()
        try:
            call = getattr(self.branches[branch], method).remote(*args)
            value = await asyncio.wait_for(call, timeout)
            return BranchResult(value=value, latency_ms=(time.perf_counter() - start) * 1e3)
        except asyncio.TimeoutError:
            error = f"timed out after {timeout:g} s"
        except Exception as exc:
            cause = root_cause(exc)
            if isinstance(cause, InvalidInput):
                raise _invalid(("body", *cause.loc), str(cause))
            error = str(cause) if isinstance(cause, ModelNotReady) else one_line(exc)
        return BranchResult(error=error, latency_ms=(time.perf_counter() - start) * 1e3)

    async def _single(self, branch: str, method: str, *args) -> Any:
        """A single-branch route: the branch's answer, or 503 with its reason."""
        result = await self._call(branch, method, *args)
        if result.error:
            raise HTTPException(status_code=503, detail=f"{branch} unavailable: {result.error}")
        return result.value

    # ---- routes -------------------------------------------------------------------------

    @app.post("/v1/signal", response_model=SignalResponse)
    async def signal(self, request: SignalRequest) -> SignalResponse:
        start = time.perf_counter()
        self._check_news(request.news, "news")
        results: dict[str, BranchResult] = {}

        async def price_then_strategies() -> None:
            # Price first: bars it rejects (422) must not leave outcomes recorded behind an
            # error the agent will answer by resending them. Price is far faster than
            # sentiment, so the chain adds nothing to the request's time.
            if request.bars is not None:
                results["price"] = await self._call("price", "predict", request.bars.columns())
            results["strategies"] = await (
                self._call("strategies", "record", [o.model_dump() for o in request.outcomes])
                if request.outcomes else self._call("strategies", "weights"))

        async def score_news() -> None:
            if request.news:
                results["sentiment"] = await self._call("sentiment", "score", request.news)

        await asyncio.gather(price_then_strategies(), score_news())

        def ok(name: str):
            r = results.get(name)
            return r.value if r is not None and r.error is None else None

        sentiment, price, strategies = ok("sentiment"), ok("price"), ok("strategies")
        outcomes_recorded = 0
        if strategies is not None and request.outcomes:
            outcomes_recorded, strategies = strategies["recorded"], strategies["weights"]
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
        return SignalResponse(
            request_id=request.request_id or uuid.uuid4().hex,
            symbol=request.symbol,
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

    @app.post("/v1/sentiment", response_model=SentimentResponse)
    async def sentiment(self, request: SentimentRequest) -> dict:
        self._check_news(request.texts, "texts")
        return await self._single("sentiment", "score", request.texts)

    @app.post("/v1/strategies/outcomes", response_model=OutcomesResponse)
    async def record_outcomes(self, request: OutcomesRequest) -> dict:
        return await self._single("strategies", "record", [o.model_dump() for o in request.outcomes])

    @app.get("/v1/strategies/weights", response_model=StrategyWeightsResponse)
    async def strategy_weights(self) -> dict:
        return await self._single("strategies", "weights")

    @app.post("/v1/price/predict", response_model=PriceResponse)
    async def predict_price(self, request: PriceRequest) -> dict:
        return await self._single("price", "predict", request.bars.columns())

    @app.get("/healthz")
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
