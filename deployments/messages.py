"""Typed messages between deployments that are not HTTP bodies (those live in schemas.py,
and deployments return them too: SentimentResponse, PriceResponse, BranchReadiness ...)."""

from __future__ import annotations

from dataclasses import dataclass

from deployments.schemas import StrategyOutcome


@dataclass(frozen=True)
class OutcomeBatch:
    """Outcomes of one request, under the request id the ingress minted or was sent."""

    request_id: str
    outcomes: list[StrategyOutcome]


@dataclass(frozen=True)
class RealisedBars:
    """Bars after the fact: closes settle directions, and the bars' moves the realised variance."""

    request_id: str
    symbol: str
    bars: dict[str, list[float]]  # the API's columns (schemas.Bars.columns): epoch-second timestamps, OHLCV


@dataclass(frozen=True)
class ModelLoadEvent:
    """A model server loaded a model, or failed to: one row of the promotion log."""

    deployment: str
    source: str
    at: float
    model_id: str | None = None
    version: str | None = None
    error: str | None = None  # None: loaded


@dataclass(frozen=True)
class Record:
    """A prediction or signal row for the Ledger's batched writer."""

    table: str
    row: dict
