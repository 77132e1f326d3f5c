"""Typed configuration of the graph: the `args` of `serve_config.yaml` validate into GraphConfig."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from deployments.schemas import StrategyName
from models import DEFAULT_SENTIMENT_MODEL
from models.signal_merge import MergeConfig

logger = logging.getLogger("ray.serve")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Placement(Section):
    """Ray resources of one deployment's replicas. Fractions let replicas share CPUs and cards."""

    num_replicas: int = Field(1, ge=1)
    num_cpus: float = Field(0.25, gt=0, description="Serve's default of 1 CPU deadlocks a 2-core box")
    num_gpus: float = Field(0.0, ge=0, le=1)
    max_ongoing_requests: int = Field(64, ge=1)
    max_queued_requests: int = Field(-1, ge=-1, description="past this many waiting, callers get 503 at once; "
                                                            "-1: no limit")
    health_check_period_s: float = Field(2.0, gt=0, description="how soon Serve notices a dead replica and "
                                                                "replaces it (Serve's default: 10 s)")

    def actor_options(self) -> dict:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}


class LoadRetry(Section):
    """While a model server has no model, it retries the load with doubling waits between these."""

    initial_s: float = Field(1.0, gt=0)
    max_s: float = Field(30.0, gt=0)


class BatchedModel(Section):
    """A model server that batches: `batch_wait_timeout_s` is accepted and ignored, with a
    warning, so configs written before the continuous batcher still deploy."""

    @model_validator(mode="before")
    @classmethod
    def _no_batch_wait(cls, data):
        if isinstance(data, dict) and "batch_wait_timeout_s" in data:
            data = {k: v for k, v in data.items() if k != "batch_wait_timeout_s"}
            logger.warning("batch_wait_timeout_s is ignored: each batch now takes what arrived while the previous "
                           "one ran; remove it from the config")
        return data


class SentimentConfig(BatchedModel):
    model: str = Field(DEFAULT_SENTIMENT_MODEL, description="hub id or local directory")
    load_retry: LoadRetry = LoadRetry(initial_s=5.0, max_s=60.0)
    max_batch_size: int = Field(16, ge=1, description="texts per batch: each batch takes what arrived while the "
                                                     "previous one ran, up to this")
    cpu_threads: int | None = Field(None, ge=1, description="torch threads on CPU; null: all cores")
    cache_size: int = Field(4096, ge=0, description="0 disables the cache")
    cache_ttl_s: float = Field(3600.0, gt=0)
    placement: Placement = Placement(num_cpus=0.5, num_gpus=0.5)


class PriceConfig(BatchedModel):
    model_dir: str = Field("var/models/price", description="a model directory or registry; it reaches the replicas "
                                                       "as user_config, so changing it reloads in place")
    default_model: bool = Field(True, description="serve the embedded default model (models/defaults/price, see its "
                                                  "MODEL_CARD.md) while model_dir has no production version")
    load_retry: LoadRetry = LoadRetry()
    max_batch_size: int = Field(32, ge=1, description="series per batch, as for sentiment")
    cpu_threads: int | None = Field(1, ge=1, description="torch threads on CPU; null: all cores")
    placement: Placement = Placement(num_cpus=0.25, num_gpus=0.25)


class VolatilityConfig(Section):
    model_dir: str = Field("var/models/volatility", description="a volatility model directory (HAR or PatchTST) "
                                                              "or registry; user_config, as for price")
    default_model: bool = Field(True, description="serve the embedded default HAR model (models/defaults/volatility) "
                                                  "while model_dir holds no production version")
    load_retry: LoadRetry = LoadRetry()
    target_annual_volatility: float = Field(
        0.10, gt=0, le=2, description="the position scale sizes a position whose return volatility is this, "
                                      "annualised over trading time (0.10: 10 % a year)")
    max_position_scale: float = Field(1.0, gt=0, description="cap on the position scale (1: no leverage)")
    placement: Placement = Placement(num_cpus=0.25, num_gpus=0.25)


DEFAULT_STRATEGIES = ["momentum", "mean_reversion", "breakout", "investiq_buy", "investiq_sell"]


class StrategyConfig(Section):
    names: list[StrategyName] = Field(
        DEFAULT_STRATEGIES, min_length=1,
        description="the strategies outcomes may name; another name is refused (422) with these, so a typo "
                    "never becomes an arm of its own. investiq_buy/_sell are the agent loop's")
    prior_alpha: float = Field(1.0, gt=0)
    prior_beta: float = Field(1.0, gt=0)
    half_life_days: float | None = Field(7.0, gt=0, description="null: no decay")
    credible_level: float = Field(0.9, gt=0, lt=1)
    probability_best_samples: int = Field(4000, ge=100)
    seed: int = Field(0, description="seed of the P(best) Monte Carlo: the same evidence gives the same answer")

    @model_validator(mode="after")
    def _distinct(self) -> "StrategyConfig":
        if len(set(self.names)) != len(self.names):
            raise ValueError("ledger.strategies.names has a name twice")
        return self


class LedgerConfig(Section):
    """The one owner of the store: outcomes, requests by id, predictions, promotions, settlement."""

    record_interval_s: float = Field(0.5, gt=0, description="prediction records are written in batches this often")
    strategies: StrategyConfig = StrategyConfig()
    placement: Placement = Placement(num_cpus=0.25)

    @model_validator(mode="after")
    def _one_replica(self) -> "LedgerConfig":
        if self.placement.num_replicas != 1:
            raise ValueError("ledger.placement.num_replicas must be 1: the Ledger migrates the store when it starts")
        return self


class SignalTimeouts(Section):
    """Each branch's budget within a signal; past it the signal goes on without that branch."""

    sentiment: float = Field(2.0, gt=0)
    price: float = Field(1.0, gt=0)
    volatility: float = Field(1.0, gt=0)
    ledger: float = Field(2.0, gt=0, description="recording outcomes and reading the strategy posteriors")


class BranchTimeouts(SignalTimeouts):
    readiness: float = Field(2.0, gt=0, description="each branch's answer to /readyz")
    single_route_budget: float = Field(
        5.0, gt=0, description="single-branch routes wait this long, retrying a lost replica, before 503")


class RequestLimits(Section):
    max_news_items: int = Field(32, ge=1)
    max_news_chars: int = Field(4000, ge=1)
    max_body_bytes: int = Field(4_000_000, ge=1024, description="a /v1/signals watchlist of 32 entries of 513 "
                                                               "bars is about 1.2 to 1.51 MB of JSON; over gRPC "
                                                               "the limit is on the proto message's size")
    max_outcomes: int = Field(100, ge=1, description="strategy outcomes per request (a watchlist's all together)")
    max_symbols: int = Field(32, ge=1, description="entries of one /v1/signals watchlist")
    max_watchlist_texts: int = Field(256, ge=1, description="news texts of one watchlist, all entries together")


QuorumBranch = Literal["sentiment", "price", "volatility"]


class IngressConfig(Section):
    shadow: bool = Field(True, description="every signal is logged but not actionable; a request may ask for "
                                           "shadow, never turn it off")
    quorum: list[QuorumBranch] = Field(
        ["sentiment", "price"], min_length=1,
        description="branches that must answer for a signal to be actionable (volatility: the risk block that "
                    "sizes the position; the shipped config asks for it)")
    api_key_env: str = Field("INVESTIQ_API_KEY", description="environment variable holding the API key that "
                                                           "routes changing state require; unset: no key")
    allow_unauthenticated: bool = Field(False, description="serve on a non-loopback address, or with Serve's gRPC "
                                                                    "proxy on (every interface), without an API key")
    timeouts: BranchTimeouts = BranchTimeouts()
    watchlist_timeouts: SignalTimeouts = Field(
        SignalTimeouts(sentiment=10.0, price=3.0, volatility=3.0),
        description="each model's budget for a whole /v1/signals watchlist (one call for all its entries)")
    limits: RequestLimits = RequestLimits()
    merge: MergeConfig = MergeConfig()
    # Serve's router turns a request away only when max_queued_requests others are waiting for
    # a replica, so up to 32 concurrent requests per proxy are never refused; running up to 48
    # keeps the replica below its limit, where the router's retry backoff would idle it (see
    # the README's Performance, *Admission*).
    placement: Placement = Placement(num_cpus=0.25, max_ongoing_requests=48, max_queued_requests=32)


class GraphConfig(Section):
    data_dir: str = Field("var", description="the SQLite store lives here; relative to where `serve run` starts")
    store_url: str | None = Field(
        None, description="null: $INVESTIQ_STORE_URL, else SQLite under data_dir; "
                          "on a multi-node cluster a PostgreSQL URL every node reaches")
    device_policy: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="auto: GPUs when the cluster has them; cpu: never; gpu: fail if there are none"
    )
    sentiment: SentimentConfig = SentimentConfig()
    price: PriceConfig = PriceConfig()
    volatility: VolatilityConfig = VolatilityConfig()
    ledger: LedgerConfig = LedgerConfig()
    ingress: IngressConfig = IngressConfig()
