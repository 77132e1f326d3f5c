"""The ingress: the versioned HTTP routes (and the two signal routes over gRPC too),
orchestrating the model deployments and the Ledger.

`/v1/signal` fans out concurrently (`asyncio.gather`): sentiment alongside price and
volatility, then the ledger (outcomes are recorded only once the price model accepted the
bars, so a 422 never hides recorded outcomes; bars of a spacing or session the volatility
model was not fitted on degrade its branch instead), each call under its own budget
(branch_call). A branch that fails is named in `degraded` with its category; the merge uses
what arrived, and the signal is actionable only outside shadow mode, with every branch of the
operator's quorum answering and a threshold to decide on (models.signal_merge).
A request may make the answer more conservative (ask for shadow), never less.

The request id is minted here once when the request has none, echoed in the answer and
handed to the Ledger, which owns idempotency, the store and everything stateful.

(No `from __future__ import annotations` here: FastAPI must see the real body types
through the signatures that Serve rewrites.)
"""

import asyncio
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import grpc
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from ray import serve
from ray.serve.handle import DeploymentHandle, DeploymentResponse

from deployments import grpc_api
from deployments.branch_call import BranchResult, call_branch
from deployments.config import IngressConfig, SignalTimeouts
from deployments.errors import Conflict, InvalidInput, dotted, one_line
from deployments.http import ApiKey, Days, DrawQuery, RequestIdQuery, SymbolInPath, app, authorize, field_error
from deployments.messages import OutcomeBatch, RealisedBars, Record
from deployments.metrics import IngressMetrics
from deployments.operator_page import authorize_page, operator_page
from deployments.proto import signals_pb2 as pb
from deployments.schemas import (
    BranchReadiness, EvaluationResponse, HealthResponse, OutcomesRequest, OutcomesResponse, PriceRequest,
    PriceResponse, ReadinessResponse, RealisedRequest, RealisedResponse, RiskRequest, RiskResponse, SentimentRequest,
    SentimentResponse, SignalRequest, SignalResponse, SignalsRequest, SignalsResponse, StrategyWeightsResponse,
    SymbolInputs, SyncResponse,
)
from models.input_range import describe
from models.signal_merge import merge_signal

logger = logging.getLogger("ray.serve")
INTERNAL_ERROR = "the ingress failed (its log has the error); a resend with the same request_id is safe"


@contextmanager
def client_errors(where: str = "body"):
    """The client's mistakes that a branch found: 422 for input, 409 for a reused id; `where`
    the named field was sent (body or query)."""
    try:
        yield
    except InvalidInput as exc:
        raise RequestValidationError([{"loc": (where, *exc.loc), "msg": str(exc), "type": "value_error"}])
    except Conflict as exc:
        raise field_error(409, (where, *exc.loc), str(exc), "conflict")


def not_actionable_because(shadow: bool, results: dict[str, BranchResult], quorum: list[str]) -> list[str]:
    reasons = ["shadow mode: logged for monitoring, not for trading"] if shadow else []
    for branch in quorum:
        result = results.get(branch)
        if result is None:
            reasons.append(f"{branch} not asked: the request has no {'news' if branch == 'sentiment' else 'bars'}")
        elif not result.ok:
            reasons.append(f"{branch} degraded ({result.category})")
    return reasons


def unless_out_of_distribution(result: BranchResult) -> BranchResult:
    """A price or risk answer on a window unlike every training window keeps its value (the
    agent sees the forecast) but is degraded with the reason, so it is neither merged nor
    actionable."""
    if result.ok and result.value.out_of_distribution:
        result.category = "out_of_distribution"
        result.reason = f"inputs unlike the model's training windows: {describe(result.value.out_of_distribution)}"
    return result


def sentiment_records(request_id: str | None, texts: list[str], answer: SentimentResponse, now: float) -> list[Record]:
    version = f"{answer.model_id}@{answer.version}"
    return [Record("sentiment_predictions", {
        "request_id": request_id, "created_at": now, "model_version": version,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "label": result.label, "score": result.score})
        for text, result in zip(texts, answer.results)]


def price_record(request_id: str | None, symbol: str, bars, answer: PriceResponse, now: float) -> Record:
    p = answer.probabilities
    return Record("price_predictions", {
        "request_id": request_id, "symbol": symbol, "created_at": now,
        "as_of": bars.timestamps[-1].timestamp(), "last_close": bars.close[-1],
        "horizon": answer.horizon, "flat_band_bp": answer.flat_band_bp,
        "model_version": f"{answer.model_id}@{answer.version}",
        "p_up": p["up"], "p_flat": p["flat"], "p_down": p["down"], "score": answer.score})


def risk_records(request_id: str | None, symbol: str, bars, answer: RiskResponse, now: float) -> list[Record]:
    """One row per horizon, settled later with the realised variance of the bars after it."""
    return [Record("risk_predictions", {
        "request_id": request_id, "symbol": symbol, "created_at": now, "as_of": bars.timestamps[-1].timestamp(),
        "last_close": bars.close[-1], "horizon": h.horizon, "model_version": f"{answer.model_id}@{answer.version}",
        "variance": h.variance, "har_variance": h.har_variance, "var_95": h.var_95, "var_99": h.var_99})
        for h in answer.horizons]


def per_entry(result: BranchResult, n: int) -> list[BranchResult]:
    """A batched call's result split into one result per entry: its own answer, or the call's
    failure for every entry."""
    if not result.ok:
        return [BranchResult(category=result.category, reason=result.reason, latency_ms=result.latency_ms)
                for _ in range(n)]
    return [BranchResult(value=value, latency_ms=result.latency_ms) for value in result.value]


def risk_or_refused(result: BranchResult, entry: tuple) -> BranchResult:
    """An entry's risk block. Bars of a spacing or session the volatility model was not fitted
    on (say the daily default beside your 5-minute price model) are no mistake of the client's:
    they degrade the branch with the reason instead of refusing the signal. Any other refusal
    (too few bars) is the client's to fix: 422 naming the entry's field, as on /v1/risk."""
    refusal = result.value
    if not isinstance(refusal, InvalidInput):
        return result
    if refusal.loc != ("bars", "timestamps"):
        raise InvalidInput(str(refusal), (*entry, *refusal.loc))
    return BranchResult(category="input_refused", latency_ms=result.latency_ms,
                        reason=f"the volatility model cannot read these bars ({refusal}); "
                               "fit one for them: investiq train-volatility")


def check_ids_across(entries: list[SymbolInputs]) -> None:
    """An outcome id sent twice in one watchlist (each entry checks its own list)."""
    seen: dict[str, tuple[int, int]] = {}
    for j, entry in enumerate(entries):
        for k, outcome in enumerate(entry.outcomes):
            if outcome.id is not None:
                if outcome.id in seen:
                    first = seen[outcome.id]
                    raise field_error(422, ("body", "signals", j, "outcomes", k, "id"),
                                      f"repeats signals[{first[0]}].outcomes[{first[1]}].id ({outcome.id!r})",
                                      "value_error")
                seen[outcome.id] = (j, k)


def expected_move(price: PriceResponse | None, risk: RiskResponse | None) -> float | None:
    """The return's standard deviation over the price model's horizon, where the risk block has it."""
    if price is None or risk is None:
        return None
    return next((h.return_std for h in risk.horizons if h.horizon == price.horizon), None)


@serve.deployment(name="Ingress")
@serve.ingress(app)
class SignalIngress:
    def __init__(self, sentiment: DeploymentHandle, price: DeploymentHandle, volatility: DeploymentHandle,
                 ledger: DeploymentHandle, config: IngressConfig):
        self.sentiment, self.price, self.volatility, self.ledger = sentiment, price, volatility, ledger
        self.config = config
        self.metrics = IngressMetrics()
        self.api_key = os.environ.get(config.api_key_env) or None
        if self.api_key is None:
            logger.info("no API key in $%s: routes that change state are open to any caller", config.api_key_env)
        app.state.max_body_bytes = config.limits.max_body_bytes
        self._logging: set[asyncio.Task] = set()

    async def __del__(self):
        """Serve calls this on a clean shutdown: records on their way reach the Ledger first."""
        await self._logged()

    # ---- helpers ------------------------------------------------------------------------

    def _check_news(self, texts: list[str], *field) -> None:
        limits = self.config.limits
        if len(texts) > limits.max_news_items:
            raise field_error(422, ("body", *field), f"at most {limits.max_news_items} texts, got {len(texts)}",
                              "too_long")
        for i, text in enumerate(texts):
            if len(text) > limits.max_news_chars:
                raise field_error(422, ("body", *field, i), f"text over {limits.max_news_chars} characters "
                                                            f"({len(text)})", "too_long")

    def _check_outcomes(self, outcomes: list, field: str) -> None:
        limit = self.config.limits.max_outcomes
        if len(outcomes) > limit:
            raise field_error(422, ("body", field), f"at most {limit} outcomes per request, got {len(outcomes)}",
                              "too_long")

    def _shadow(self, asked: bool | None) -> bool:
        if asked is False and self.config.shadow:
            raise field_error(403, ("body", "shadow"), "the server runs in shadow mode; a request may ask for "
                                                       "shadow, not turn it off", "shadow_enforced")
        return self.config.shadow if asked is None else asked

    async def _single(self, branch: str, send: Callable[[], DeploymentResponse], request_id: str | None = None,
                      where: str = "body") -> Any:
        """A single-branch route: the branch's answer, or 503 with its reason."""
        with client_errors(where):
            result = await call_branch(send, self.config.timeouts.single_route_budget)
        if not result.ok:
            resend = f"; resend with request_id {request_id}: what was committed is not counted twice" \
                if request_id else ""
            raise HTTPException(status_code=503, detail=f"{branch} unavailable: {result.reason}{resend}")
        return result.value

    def _log(self, records: list[Record]) -> None:
        """Hand the records to the Ledger off the request's path (within the Ledger's budget)."""
        if not records:
            return

        async def send() -> None:
            try:
                await asyncio.wait_for(self.ledger.log.remote(records), self.config.timeouts.single_route_budget)
            except Exception as exc:
                logger.error("%d prediction records not logged, the Ledger did not take them: %s", len(records),
                             one_line(exc))

        task = asyncio.get_running_loop().create_task(send())
        self._logging.add(task)
        task.add_done_callback(self._logging.discard)

    async def _logged(self) -> None:
        """This replica's records so far have reached the Ledger (or their sends gave up)."""
        if self._logging:
            await asyncio.wait(list(self._logging))

    # ---- routes -------------------------------------------------------------------------

    @app.post("/v1/signal", response_model=SignalResponse,
              responses={403: {"description": "shadow: false while the server runs in shadow mode"},
                         409: {"description": "request_id reused for other outcomes"}})
    async def signal(self, request: SignalRequest, api_key: ApiKey = None) -> SignalResponse:
        if request.outcomes:
            authorize(api_key, self.api_key)
        shadow = self._shadow(request.shadow)
        self._check_news(request.news, "news")
        self._check_outcomes(request.outcomes, "outcomes")
        signals = await self._signals([request], request.request_id, shadow, self.config.timeouts,
                                      lambda j, loc: loc)
        return signals[0]

    @app.post("/v1/signals", response_model=SignalsResponse,
              responses={403: {"description": "shadow: false while the server runs in shadow mode"},
                         409: {"description": "request_id reused for other outcomes"}})
    async def signals(self, request: SignalsRequest, api_key: ApiKey = None) -> SignalsResponse:
        """A watchlist: each model is called once for every entry (one sentiment batch for all
        texts, one price batch and one risk call for all series), the outcomes of all entries are
        recorded together, and each entry gets its own signal with its own degraded branches.
        Input errors name the entry (`signals[i]...`) and refuse the whole watchlist, as
        /v1/signal refuses a request."""
        start = time.perf_counter()
        if any(entry.outcomes for entry in request.signals):
            authorize(api_key, self.api_key)
        shadow = self._shadow(request.shadow)
        limits = self.config.limits
        if len(request.signals) > limits.max_symbols:
            raise field_error(422, ("body", "signals"), f"at most {limits.max_symbols} entries, "
                                                        f"got {len(request.signals)}", "too_long")
        texts = sum(len(entry.news) for entry in request.signals)
        if texts > limits.max_watchlist_texts:
            raise field_error(422, ("body", "signals"), f"at most {limits.max_watchlist_texts} news texts over all "
                                                        f"entries, got {texts}", "too_long")
        for j, entry in enumerate(request.signals):
            self._check_news(entry.news, "signals", j, "news")
        self._check_outcomes([o for entry in request.signals for o in entry.outcomes], "signals")
        check_ids_across(request.signals)
        answers = await self._signals(request.signals, request.request_id, shadow, self.config.watchlist_timeouts,
                                      lambda j, loc: ("signals", j, *loc))
        latency = {}  # every entry's call to a branch was the same call
        for answer in answers:
            for name, ms in answer.latency_ms.items():
                latency.setdefault(name, ms)
        latency["total"] = round((time.perf_counter() - start) * 1e3, 3)
        return SignalsResponse(request_id=answers[0].request_id, signals=answers, latency_ms=latency)

    async def _signals(self, entries: list[SymbolInputs], request_id: str | None, shadow: bool,
                       timeouts: SignalTimeouts, locate: Callable[[int, tuple], tuple]) -> list[SignalResponse]:
        """The signals of one request's entries (/v1/signal sends one): every branch is called
        once for all of them, concurrently (sentiment beside price and volatility, then the
        ledger, so outcomes are recorded only once the price model accepted every entry's
        bars). `locate(j, loc)` names entry j's field in the request, for its 422s and 409s.
        The caller has checked the key, shadow and the request's limits."""
        start = time.perf_counter()
        request_id = request_id or uuid.uuid4().hex
        outcomes = [(j, k, o) for j, entry in enumerate(entries) for k, o in enumerate(entry.outcomes)]
        results: list[dict[str, BranchResult]] = [{} for _ in entries]
        with_bars = [j for j, entry in enumerate(entries) if entry.bars is not None]
        with_news = [j for j, entry in enumerate(entries) if entry.news]
        replayed = False  # a resend of a request whose outcomes were recorded

        async def bars_then_strategies() -> None:
            nonlocal replayed
            if with_bars:
                series = [entries[j].bars.columns() for j in with_bars]
                price, risk = await asyncio.gather(
                    call_branch(lambda: self.price.predict_many.remote(series), timeouts.price),
                    call_branch(lambda: self.volatility.forecast_many.remote(series), timeouts.volatility))
                for j, p, r in zip(with_bars, per_entry(price, len(series)), per_entry(risk, len(series))):
                    if isinstance(p.value, InvalidInput):
                        raise InvalidInput(str(p.value), locate(j, p.value.loc))
                    results[j]["price"] = unless_out_of_distribution(p)
                    results[j]["volatility"] = unless_out_of_distribution(risk_or_refused(r, locate(j, ())))
            batch = OutcomeBatch(request_id, [o for _, _, o in outcomes])
            try:
                strategies = await call_branch(
                    (lambda: self.ledger.record_outcomes.remote(batch)) if outcomes
                    else self.ledger.strategy_weights.remote, timeouts.ledger)
            except (InvalidInput, Conflict) as exc:  # it names outcomes[i] of the batch: name the entry's
                if exc.loc[:1] == ("outcomes",) and len(exc.loc) > 1:
                    i = exc.loc[1]
                    j, k, _ = outcomes[i]
                    message = str(exc).replace(f"outcomes[{i}]", dotted(locate(j, ("outcomes", k))))
                    raise type(exc)(message, locate(j, ("outcomes", k, *exc.loc[2:]))) from None
                raise
            if strategies.ok and outcomes:  # the Ledger acknowledged every outcome, committed now or before
                replayed = strategies.value.replayed
                strategies = BranchResult(value=strategies.value.weights, latency_ms=strategies.latency_ms)
            for entry_results in results:
                entry_results["strategies"] = strategies

        async def score_news() -> None:
            if with_news:
                groups = [entries[j].news for j in with_news]
                answer = await call_branch(lambda: self.sentiment.score_groups.remote(groups), timeouts.sentiment)
                for j, result in zip(with_news, per_entry(answer, len(groups))):
                    results[j]["sentiment"] = result

        tasks = [asyncio.ensure_future(bars_then_strategies()), asyncio.ensure_future(score_news())]
        with client_errors():
            try:
                await asyncio.gather(*tasks)
            except BaseException:  # a 422 from the bars: the news need no scoring
                for task in tasks:
                    task.cancel()
                raise
        for branch in ("sentiment", "price", "volatility", "strategies"):  # each branch was called once
            if first := next((r[branch] for r in results if branch in r), None):
                self.metrics.branch_latency.observe(first.latency_ms, tags={"branch": branch})
        total_ms = round((time.perf_counter() - start) * 1e3, 3)
        answers, records = [], []
        for entry, entry_results in zip(entries, results):
            answer, entry_records = self._signal_of(request_id, entry, shadow, entry_results, total_ms)
            answers.append(answer)
            records += entry_records
        if not replayed:  # a resend of a request whose outcomes were recorded was logged the first time
            self._log(records)
        return answers

    def _signal_of(self, request_id: str, entry: SymbolInputs, shadow: bool, results: dict[str, BranchResult],
                   total_ms: float) -> tuple[SignalResponse, list[Record]]:
        """One entry's signal from its branches' results (a failed branch has no value; an
        out-of-distribution answer is shown but not merged), and the records to log."""
        sentiment, price, risk, strategies = (results[b].value if b in results else None
                                              for b in ("sentiment", "price", "volatility", "strategies"))
        merged_price = price if price is not None and results["price"].ok else None
        outcomes_recorded = len(entry.outcomes) if results["strategies"].ok else 0
        merged = merge_signal(merged_price.score if merged_price else None, sentiment.score if sentiment else None,
                              self.config.merge, merged_price.threshold if merged_price else None,
                              merged_price.no_threshold_because if merged_price else None)
        reasons = not_actionable_because(shadow, results, self.config.quorum)
        if merged.untradable_because:
            reasons.append(merged.untradable_because)
        versions = {name: f"{answer.model_id}@{answer.version}"
                    for name, answer in (("sentiment", sentiment), ("price", price), ("volatility", risk))
                    if answer is not None}
        latency = {name: round(r.latency_ms, 3) for name, r in results.items()}
        latency["total"] = total_ms
        for name, r in results.items():
            if not r.ok:
                self.metrics.degraded.inc(tags={"branch": name, "reason": r.category})
        self.metrics.signals.inc(tags={"decision": merged.decision, "shadow": str(shadow).lower(),
                                       "actionable": str(not reasons).lower()})
        response = SignalResponse(
            request_id=request_id, symbol=entry.symbol, shadow=shadow, actionable=not reasons,
            not_actionable_because=reasons, decision=merged.decision, confidence=merged.confidence,
            score=merged.score, threshold=merged.threshold, sentiment=sentiment, price=price, risk=risk,
            expected_move=expected_move(price, risk), strategies=strategies,
            outcomes_recorded=outcomes_recorded,
            degraded=[{"branch": name, "category": r.category, "reason": r.reason}
                      for name, r in results.items() if not r.ok],
            model_versions=versions, latency_ms=latency)
        now = time.time()
        records = [Record("signals", {
            "request_id": request_id, "symbol": entry.symbol, "created_at": now, "decision": merged.decision,
            "score": merged.score, "confidence": merged.confidence, "shadow": shadow, "model_versions": versions,
            "components": {"sentiment": sentiment.score if sentiment else None,
                           "price": price.probabilities if price else None,
                           "degraded": [d.branch for d in response.degraded], "not_actionable_because": reasons}})]
        if sentiment:
            records += sentiment_records(request_id, entry.news, sentiment, now)
        if price:
            records.append(price_record(request_id, entry.symbol, entry.bars, price, now))
        if risk:
            records += risk_records(request_id, entry.symbol, entry.bars, risk, now)
        return response, records

    @app.post("/v1/sentiment", response_model=SentimentResponse)
    async def score_texts(self, request: SentimentRequest) -> SentimentResponse:
        self._check_news(request.texts, "texts")
        answer = await self._single("sentiment", lambda: self.sentiment.score.remote(request.texts))
        self._log(sentiment_records(None, request.texts, answer, time.time()))
        return answer

    @app.post("/v1/strategies/outcomes", response_model=OutcomesResponse,
              responses={409: {"description": "request_id or an outcome id reused for other content"}})
    async def record_outcomes(self, request: OutcomesRequest, api_key: ApiKey = None) -> OutcomesResponse:
        authorize(api_key, self.api_key)
        self._check_outcomes(request.outcomes, "outcomes")
        batch = OutcomeBatch(request.request_id or uuid.uuid4().hex, request.outcomes)
        return await self._single("ledger", lambda: self.ledger.record_outcomes.remote(batch), batch.request_id)

    @app.post("/v1/strategies/sync", response_model=SyncResponse,
              responses={409: {"description": "request_id reused with another window"}})
    async def sync_strategies(self, days: Days, request_id: RequestIdQuery = None,
                              api_key: ApiKey = None) -> SyncResponse:
        """From now on the strategy posteriors use only the outcomes of the last `days` days."""
        authorize(api_key, self.api_key)
        request_id = request_id or uuid.uuid4().hex
        return await self._single("ledger", lambda: self.ledger.sync.remote(request_id, days), request_id, "query")

    @app.get("/v1/strategies/weights", response_model=StrategyWeightsResponse)
    async def strategy_weights(self, draw: DrawQuery = False) -> StrategyWeightsResponse:
        return await self._single("ledger", lambda: self.ledger.strategy_weights.remote(draw))

    @app.post("/v1/price/predict", response_model=PriceResponse)
    async def predict_price(self, request: PriceRequest) -> PriceResponse:
        bars = request.bars.columns()
        answer = await self._single("price", lambda: self.price.predict.remote(bars))
        self._log([price_record(None, request.symbol, request.bars, answer, time.time())])
        return answer

    @app.post("/v1/risk", response_model=RiskResponse)
    async def forecast_risk(self, request: RiskRequest) -> RiskResponse:
        """Per horizon: forecast volatility, a 90 % interval of the return, VaR 95/99 % and a
        volatility-targeted position scale."""
        bars = request.bars.columns()
        answer = await self._single("volatility", lambda: self.volatility.forecast.remote(bars))
        self._log(risk_records(None, request.symbol, request.bars, answer, time.time()))
        return answer

    @app.post("/v1/price/realised", response_model=RealisedResponse,
              responses={409: {"description": "request_id reused for other bars"}})
    async def record_realised(self, request: RealisedRequest, api_key: ApiKey = None) -> RealisedResponse:
        authorize(api_key, self.api_key)
        await self._logged()  # this replica's latest predictions can be settled too
        bars = RealisedBars(request.request_id or uuid.uuid4().hex, request.symbol, request.bars.columns())
        return await self._single("ledger", lambda: self.ledger.settle.remote(bars), bars.request_id)

    @app.get("/v1/evaluate/{symbol}", response_model=EvaluationResponse)
    async def evaluate(self, symbol: SymbolInPath, days: Days = 7.0) -> EvaluationResponse:
        """Accuracy and Brier score of the settled price predictions of the last `days` days, and
        QLIKE and VaR breaches of the settled risk forecasts beside HAR's, by model version."""
        await self._logged()
        return await self._single("ledger", lambda: self.ledger.evaluate.remote(symbol, days))

    @app.get("/operator", response_class=HTMLResponse, include_in_schema=False)
    async def operator(self, request: Request, days: Days = 7.0) -> HTMLResponse:
        """The operator page (deployments/operator_page.py): read-only, behind the API key when one is set."""
        authorize_page(request, self.api_key)
        await self._logged()
        return HTMLResponse(await operator_page(self.ledger, self.price, self.volatility, await self.readyz(), days,
                                                self.config.timeouts.single_route_budget))

    # ---- gRPC (deployments/proto/signals.proto): the two signal routes ------------------

    async def Signal(self, raw: bytes, grpc_context) -> pb.SignalResponse:
        return await self._over_grpc(raw, grpc_context, grpc_api.SIGNAL, self.signal)

    async def Signals(self, raw: bytes, grpc_context) -> pb.SignalsResponse:
        return await self._over_grpc(raw, grpc_context, grpc_api.SIGNALS, self.signals)

    async def _over_grpc(self, raw: bytes, context, method: grpc_api.Method, route: Callable[..., Any]):
        """The HTTP route's answer in proto. The message arrives as bytes (grpc_api.add_signal_service)
        and is read here under the body limit; the route's refusals become the matching gRPC
        status, and any other failure INTERNAL without the error's text, as HTTP's 500."""
        try:
            request = grpc_api.read_request(raw, method, self.config.limits.max_body_bytes)
            return grpc_api.to_proto(await route(request, grpc_api.api_key(context)), method.response)
        except Exception as exc:
            code_and_details = grpc_api.refusal(exc)
            if code_and_details is None:
                logger.exception("a gRPC %s request failed", method.request.DESCRIPTOR.name)
                code_and_details = (grpc.StatusCode.INTERNAL, INTERNAL_ERROR)
            context.set_code(code_and_details[0])
            context.set_details(code_and_details[1])
            return method.response()

    @app.get("/healthz", response_model=HealthResponse)
    async def healthz(self) -> dict:
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadinessResponse)
    async def readyz(self) -> ReadinessResponse:
        branches = {"sentiment": self.sentiment, "price": self.price, "volatility": self.volatility,
                    "ledger": self.ledger}
        results = await asyncio.gather(*(call_branch(handle.status.remote, self.config.timeouts.readiness)
                                         for handle in branches.values()))
        readiness = {name: r.value if r.ok else BranchReadiness(ready=False, state="unreachable", reason=r.reason)
                     for name, r in zip(branches, results)}
        status = "ready" if all(b.ready for b in readiness.values()) else "degraded"
        return ReadinessResponse(status=status, branches=readiness)
