"""Every request and response body of the HTTP API, as pydantic models.

Validation errors become 422 responses whose `loc` and message name the field, e.g.
`["body", "bars", "close", 3]` or "bars.high[3] is below bars.low[3]".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _symbol(value):
    """`spy`, ` SPY ` and `SPY` are one symbol."""
    return value.strip().upper() if isinstance(value, str) else value


Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Volume = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Symbol = Annotated[str, BeforeValidator(_symbol), Field(
    min_length=1, max_length=16, pattern=r"^[A-Z0-9.^=\-]+$", description="stripped and upper-cased on arrival")]
StrategyName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
RequestId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty or whitespace")
    return text


NewsText = Annotated[str, AfterValidator(_not_blank)]


ZONE_NEEDED = "must carry its zone, e.g. 2026-01-05T09:30:00-05:00 or 2026-01-05T14:30:00Z (epoch seconds are UTC)"


def _zoned(ts: datetime) -> datetime:
    """A time without its zone is ambiguous: bars from a US/Eastern CSV would be read hours off."""
    if ts.tzinfo is None:
        raise ValueError(ZONE_NEEDED)
    return ts


def _all_zoned(timestamps: list[datetime]) -> list[datetime]:
    """One error for the whole column, naming the first naive time (not one per bar)."""
    naive = [i for i, ts in enumerate(timestamps) if ts.tzinfo is None]
    if naive:
        raise ValueError(f"bars.timestamps[{naive[0]}] {ZONE_NEEDED}")
    return timestamps


ZonedTime = Annotated[datetime, AfterValidator(_zoned)]


MAX_CLOCK_SKEW = timedelta(minutes=5)


def _not_future(ts: datetime) -> datetime:
    """An outcome from the future would count more than a fresh one until that time comes."""
    if ts - datetime.now(timezone.utc) > MAX_CLOCK_SKEW:
        raise ValueError(f"timestamp {ts.isoformat()} is in the future")
    return ts


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bars(Strict):
    """OHLCV bars as columns (cheap to send and validate); timestamps as ISO-8601 with their zone, or
    epoch seconds."""

    timestamps: Annotated[list[datetime], AfterValidator(_all_zoned)] = Field(min_length=2)
    open: list[Price]
    high: list[Price]
    low: list[Price]
    close: list[Price]
    volume: list[Volume]

    @model_validator(mode="after")
    def _consistent(self) -> "Bars":
        n = len(self.timestamps)
        for name in ("open", "high", "low", "close", "volume"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"bars.{name} has {len(getattr(self, name))} values, bars.timestamps has {n}")
        t = np.array([ts.timestamp() for ts in self.timestamps])
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(f"bars.timestamps must be strictly increasing: timestamps[{i}] <= timestamps[{i - 1}]")
        o, h, l, c = (np.asarray(getattr(self, k)) for k in ("open", "high", "low", "close"))
        checks = (
            (h < l, "bars.high[{i}] is below bars.low[{i}]"),
            (h < np.maximum(o, c), "bars.high[{i}] is below bars.open or bars.close at {i}"),
            (l > np.minimum(o, c), "bars.low[{i}] is above bars.open or bars.close at {i}"),
        )
        for mask, message in checks:
            if mask.any():
                raise ValueError(message.format(i=int(np.flatnonzero(mask)[0])))
        return self

    def columns(self) -> dict[str, list[float]]:
        """What the price model reads: OHLCV, and the timestamps as epoch seconds (to check their spacing)."""
        return {"timestamps": [t.timestamp() for t in self.timestamps],
                **{k: getattr(self, k) for k in ("open", "high", "low", "close", "volume")}}


class StrategyOutcome(Strict):
    strategy: StrategyName
    outcome: Literal["win", "loss"]
    timestamp: Annotated[ZonedTime, AfterValidator(_not_future)] | None = Field(
        default=None, description="when the trade closed; defaults to the time the server receives it"
    )
    id: IdempotencyKey | None = Field(
        default=None, description="idempotency key: an outcome whose id was recorded before is not counted "
                                  "again, so a retried request is safe; send one per trade")
    r_multiple: Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)] | None = Field(
        default=None, description="the trade's result in units of its initial risk (R): +3 for a win three times "
                                  "the risk, -1 for a full stop-out; gives the strategy's expected payoff")


def _distinct_ids(outcomes: list[StrategyOutcome]) -> list[StrategyOutcome]:
    seen: dict[str, int] = {}
    for i, o in enumerate(outcomes):
        if o.id is not None:
            if o.id in seen:
                raise ValueError(f"outcomes[{i}].id repeats outcomes[{seen[o.id]}].id ({o.id!r})")
            seen[o.id] = i
    return outcomes


Outcomes = Annotated[list[StrategyOutcome], AfterValidator(_distinct_ids)]


# ---- requests -------------------------------------------------------------------------

class SymbolInputs(Strict):
    """One symbol's inputs to a signal: its news, its bars, and strategy outcomes to record."""

    symbol: Symbol
    news: list[NewsText] = Field(default_factory=list)
    outcomes: Outcomes = Field(default_factory=list)
    bars: Bars | None = None


class SignalRequest(SymbolInputs):
    request_id: RequestId | None = Field(None, description="names this request's outcomes: a resend with the same "
                                                           "id and outcomes replays the first answer, other outcomes "
                                                           "under it are refused (409); minted when absent, echoed")
    shadow: bool | None = Field(None, description="true: log the signal but mark it not actionable; false is "
                                                   "refused (403) while the server runs in shadow mode; "
                                                   "null: the server's `ingress.shadow` setting")


class SignalsRequest(Strict):
    """A watchlist: one signal per entry, every model called once for all of them."""

    signals: list[SymbolInputs] = Field(min_length=1, description="at most `ingress.limits.max_symbols` entries")
    request_id: RequestId | None = Field(None, description="names this request's outcomes (all entries' together): "
                                                           "a resend with the same id and outcomes replays the first "
                                                           "answer; minted when absent, echoed")
    shadow: bool | None = Field(None, description="as in /v1/signal, for every entry")


class SentimentRequest(Strict):
    texts: list[NewsText] = Field(min_length=1)


class OutcomesRequest(Strict):
    outcomes: Outcomes = Field(min_length=1)
    request_id: RequestId | None = Field(None, description="a resend with the same id and outcomes replays the "
                                                           "first answer; other outcomes under it are refused (409); "
                                                           "outcomes without an `id` are keyed by it and their position")


class PriceRequest(Strict):
    symbol: Symbol
    bars: Bars


class RiskRequest(PriceRequest):
    """The bars the volatility model reads (at least its longest HAR window, or its context)."""


class RealisedRequest(Strict):
    """Bars after the fact: they settle every logged price and risk prediction of `symbol` whose
    bar and the bar `horizon` later are both among them."""

    symbol: Symbol
    bars: Bars
    request_id: RequestId | None = Field(None, description="a resend with the same id and bars replays the first answer")


# ---- responses ------------------------------------------------------------------------

class SentimentResult(BaseModel):
    label: Literal["positive", "negative", "neutral"]
    confidence: float
    probabilities: dict[str, float]
    score: float


class SentimentResponse(BaseModel):
    model_id: str
    version: str
    results: list[SentimentResult]
    score: float = Field(description="mean of the per-text scores, in [-1, 1]")


class InputShift(BaseModel):
    """A statistic of one channel of the model's input window outside what training saw."""

    channel: Literal["log_return", "log_range", "log_body", "log_volume", "time_of_day_sin", "time_of_day_cos"]
    statistic: Literal["mean", "std"] = Field(description="of the channel over the window, in training standard "
                                                          "deviations (the window is z-scored with training statistics)")
    value: float
    training_min: float = Field(description="the lowest value of the statistic over the training windows")
    training_max: float
    distance: float = Field(description="how far `value` lies outside [training_min, training_max], in training "
                                        "standard deviations")


class PriceResponse(BaseModel):
    model_id: str
    version: str
    horizon: int
    probabilities: dict[str, float] = Field(description="P(up), P(flat), P(down) over `horizon` bars")
    edges: dict[str, float] = Field(description="P(class) minus the model's reference forecast (its mean "
                                                "forecast on its validation windows)")
    score: float = Field(description="edges[up] - edges[down]: what the merge uses; 0 for a model that "
                                     "says the same whatever the bars")
    expected_return: float = Field(description="expected log return over the horizon beyond the model's "
                                               "reference forecast (no drift: 0 at the reference)")
    base_rate_return: float = Field(description="the training period's average horizon log return (its drift)")
    threshold: float | None = Field(description="|score| this model's validation windows found worth trading "
                                                "(net of costs, significantly); null: see no_threshold_because")
    no_threshold_because: str | None = Field(None, description="why the model has no threshold")
    flat_band_bp: float = Field(description="a move within ±this many basis points counts as flat: the band this "
                                            "prediction is labelled and settled with (a volatility band widens it)")
    out_of_distribution: list[InputShift] | None = Field(
        description="where the window is unlike every training window: a statistic more than 1 sd outside the "
                    "training range, or a channel that does not move (volume all 0); the forecast then means "
                    "nothing and /v1/signal marks price degraded. Empty: inside. null: the model stores no training "
                    "input ranges (trained before they were), so its inputs were not checked")


class HorizonRisk(BaseModel):
    """The log return over the next `horizon` bars, as the volatility model forecasts it: the
    forecast volatility times a standardised return (HAR: the empirical one of its training
    bars; PatchTST: a unit-variance Student-t)."""

    horizon: int = Field(description="bars ahead")
    variance: float = Field(description="the variance forecast, volatility squared: what settlement scores with QLIKE")
    har_variance: float | None = Field(description="HAR's variance forecast at the same bar, the benchmark "
                                                   "/v1/evaluate scores beside it (the same as `variance` when HAR "
                                                   "is served; null where the model keeps no HAR fit)")
    volatility: float = Field(description="forecast realised volatility over the horizon: the square root of the "
                                          "variance forecast the model is scored on (intraday: moves within the "
                                          "session; daily: the Parkinson range)")
    return_std: float = Field(description="standard deviation of the log return over the horizon (close to close)")
    interval_90: list[float] = Field(description="the 5 % and 95 % quantiles of the log return over the horizon")
    var_95: float = Field(description="value at risk at 95 %: the log-return loss exceeded with probability 5 %, "
                                      "as a positive number")
    var_99: float = Field(description="value at risk at 99 %")
    position_scale: float = Field(description="volatility targeting: the fraction of capital whose return "
                                              "volatility over the horizon is the target's (target_annual_volatility "
                                              "scaled to the horizon over trading time), capped at "
                                              "max_position_scale")


class RiskResponse(BaseModel):
    model_id: str
    version: str
    forecaster: Literal["har", "patchtst"] = Field(description="har: HAR-RV, which nothing in the report beats "
                                                               "beyond chance, served by default; patchtst: the "
                                                               "PatchTST volatility model")
    target_annual_volatility: float
    horizons: list[HorizonRisk]
    out_of_distribution: list[InputShift] | None = Field(
        description="as for price: where the window is unlike every training window (PatchTST); null: not checked "
                    "(HAR keeps no training input ranges)")


class StrategyPosteriorOut(BaseModel):
    strategy: str
    alpha: float
    beta: float
    mean: float
    lower: float
    upper: float
    outcomes: int = Field(description="outcomes in the window (not decayed)")
    expected_r: float | None = Field(description="decayed mean R multiple of the outcomes that carried one: the "
                                                 "expected payoff per trade in units of risk (null: none did)")
    expected_r_lower: float | None = Field(description="its interval at credible_level (Student-t on the decayed "
                                                       "effective sample size, variance with a prior "
                                                       "of 1 R^2); null below 5 effective outcomes")
    expected_r_upper: float | None
    r_outcomes: int = Field(description="outcomes in the window that carried an R multiple")
    probability_best: float = Field(description="P(this strategy has the highest win rate): Thompson sampling's "
                                                "share of plays")
    probability_best_r: float | None = Field(description="P(this strategy has the highest expected R), among those "
                                                         "with an interval; null for the others")
    thompson_draw: float | None = Field(None, description="one draw of the win rate, only when asked (`draw=true`)")


class StrategyWeightsResponse(BaseModel):
    as_of: datetime
    credible_level: float
    half_life_days: float | None
    window_start: datetime | None = Field(None, description="outcomes before this were dropped by a sync")
    strategies: list[StrategyPosteriorOut]


class OutcomesResponse(BaseModel):
    request_id: str
    recorded: int = Field(description="outcomes counted by this request")
    duplicates: int = Field(0, description="outcomes whose id had been recorded before with the same content: "
                                           "not counted again")
    replayed: bool = Field(False, description="this request id was answered before: this is that answer")
    weights: StrategyWeightsResponse


class SyncResponse(BaseModel):
    request_id: str
    since: datetime
    replayed: bool = False
    weights: StrategyWeightsResponse


class RealisedResponse(BaseModel):
    request_id: str
    settled: int = Field(description="price predictions whose realised direction this request recorded")
    risk_settled: int = Field(0, description="risk forecasts (one per horizon) whose realised variance and return "
                                             "this request recorded")
    replayed: bool = False


class InformationCoefficient(BaseModel):
    n: int
    ic: float | None = Field(description="Pearson correlation of the served score with the realised return")
    ic_t: float | None = Field(description="its t-statistic with Newey-West errors (lags cover the horizon); "
                                           "null below 10 settled predictions per lag, where it would mislead")
    ic_p: float | None
    rank_ic: float | None = Field(description="Spearman correlation")
    rank_ic_t: float | None
    rank_ic_p: float | None


class ConfidenceBucket(BaseModel):
    n: int
    min_confidence: float
    max_confidence: float
    hit_rate: float = Field(description="share of calls whose sign the realised return had")
    hit_rate_ci: list[float] = Field(description="95 % Wilson interval, for independent calls: predictions less "
                                                 "than a horizon apart share outcome bars, so it is then too narrow")


class DirectionScores(BaseModel):
    n: int
    accuracy: float | None
    brier: float | None = Field(description="multi-class Brier score, 0 best, 2 worst")
    brier_base_rate: float | None = Field(description="Brier score of the window's own class frequencies")
    realised_counts: dict[str, int]
    information_coefficient: InformationCoefficient | None = Field(
        None, description="of the served score against the realised return (predictions logged with a score)")
    hit_rate_by_confidence: list[ConfidenceBucket] = Field(default_factory=list, description="by |score|, quartiles")


class VarBreaches(BaseModel):
    n: int
    breaches: int = Field(description="settled forecasts whose realised return fell below -VaR")
    rate: float
    kupiec_p: float | None = Field(description="Kupiec's test that the breach rate is 1 - coverage, for independent "
                                               "forecasts: forecasts less than a horizon apart share bars, so it is "
                                               "then too small")


class VolatilityScores(BaseModel):
    horizon: int
    n: int = Field(description="settled forecasts, one per bar (the latest where a bar was forecast twice)")
    qlike: float = Field(description="mean QLIKE of the served variance forecast against the realised variance")
    qlike_har: float | None = Field(description="mean QLIKE of HAR's forecast made at the same bars, over the "
                                                "n_har settled forecasts that carry it (null: none does)")
    n_har: int = Field(description="settled forecasts with HAR's beside them (a PatchTST forecast from fewer bars "
                                   "than HAR's longest window has none)")
    var_95: VarBreaches
    var_99: VarBreaches


class EvaluationResponse(BaseModel):
    symbol: str
    days: float
    since: datetime
    unsettled: int = Field(description="price predictions in the window whose outcome is not known yet")
    by_model_version: dict[str, DirectionScores]
    volatility_unsettled: int = Field(0, description="risk forecasts in the window whose outcome is not known yet")
    volatility_by_model_version: dict[str, list[VolatilityScores]] = Field(
        default_factory=dict, description="settled risk forecasts per volatility model version, one entry per horizon")


class DegradedBranch(BaseModel):
    branch: Literal["sentiment", "price", "volatility", "strategies"]
    category: Literal["timeout", "busy", "replica_lost", "model_unavailable", "out_of_distribution", "input_refused",
                      "error"] = Field(
        description="out_of_distribution: the branch answered (its answer is shown) on inputs unlike its training "
                    "data, so the merge leaves it out; input_refused: the volatility model cannot read bars the "
                    "price model took (another spacing or session), so there is no risk block")
    reason: str


class SignalResponse(BaseModel):
    request_id: str
    symbol: str
    shadow: bool = Field(description="a shadow signal is logged for monitoring; never act on it")
    actionable: bool = Field(description="false: the agent must not trade on `decision` (see not_actionable_because)")
    not_actionable_because: list[str] = Field(description="shadow mode, a branch of the quorum that did not "
                                                          "answer, or no threshold to decide on")
    decision: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(description="|score|; the decision is BUY/SELL only at or above `threshold`")
    score: float = Field(description="combined score in [-1, 1]")
    threshold: float | None = Field(description="the threshold applied: ingress.merge.threshold, else the price "
                                                "model's validated one; null: none, so HOLD")
    sentiment: SentimentResponse | None
    price: PriceResponse | None
    risk: RiskResponse | None = Field(description="the volatility branch: per horizon, forecast volatility, a "
                                                  "predictive interval of the return, VaR and a position scale")
    expected_move: float | None = Field(
        description="standard deviation of the log return over the price model's horizon, from the risk block "
                    "(null when the volatility model does not forecast that horizon)")
    strategies: StrategyWeightsResponse | None
    outcomes_recorded: int = Field(description="outcomes acknowledged (committed now or before under the same "
                                               "keys); 0 with outcomes sent means resend them with the same "
                                               "request_id: what was committed is never counted twice")
    degraded: list[DegradedBranch]
    model_versions: dict[str, str]
    latency_ms: dict[str, float]


class SignalsResponse(BaseModel):
    request_id: str
    signals: list[SignalResponse] = Field(description="one per entry, in the request's order; each names its own "
                                                      "degraded branches")
    latency_ms: dict[str, float] = Field(description="each model's one call for the whole watchlist, and the total")


class HealthResponse(BaseModel):
    status: Literal["ok"]


class BranchReadiness(BaseModel):
    ready: bool
    state: str
    reason: str | None = None
    model_id: str | None = None
    version: str | None = None
    device: str | None = None
    gpu_ids: list[str] = Field(default_factory=list)
    gpu_memory_mb: dict[str, float] | None = Field(None, description="allocated and peak, on CUDA replicas")
    source: str | None = Field(None, description="where the served model came from")
    last_load_error: str | None = Field(None, description="the latest load that failed, until another source loads")
    last_failed_source: str | None = Field(None, description="the source of that failed load")


class ReadinessResponse(BaseModel):
    status: Literal["ready", "degraded"]
    branches: dict[str, BranchReadiness]
