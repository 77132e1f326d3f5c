"""The graph's own metrics, through `ray.serve.metrics`.

Ray exports them beside its own on each node's metrics endpoint, prefixed `ray_` (so
`investiq_branch_latency_ms` is scraped as `ray_investiq_branch_latency_ms_bucket` ...),
with the deployment, replica and application as tags. `deploy/grafana/investiq.json` charts
them. Each deployment builds its set in its constructor (the metrics need the replica's Ray
worker). Tags carry categories, never free text.
"""

from __future__ import annotations

import threading
import time

from ray.serve.metrics import Counter, Gauge, Histogram

LATENCY_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64]


class ModelMetrics:
    """`investiq_model_info{model_id, version}` is 1 for the version a replica serves, 0 for
    the one it left; failed loads are counted (Serve tags both with the deployment).

    Ray 2.60 drops a gauge from its export about two report intervals (20 s) after it was last
    set, so the served version is set again every `REFRESH_S` while the replica lives."""

    REFRESH_S = 5.0

    def __init__(self):
        self.gauge = Gauge("investiq_model_info", "1 for the model version this replica serves",
                           tag_keys=("model_id", "version"))
        self.load_failures = Counter("investiq_model_load_failures_total", "model loads that failed (the replica "
                                     "keeps what it served)")
        self.current: dict | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._keep_exported, name="model-info-refresh", daemon=True).start()

    def serving(self, model_id: str, version: str) -> None:
        with self._lock:
            if self.current is not None:
                self.gauge.set(0, tags=self.current)
            self.current = {"model_id": model_id, "version": version}
            self.gauge.set(1, tags=self.current)

    def _keep_exported(self) -> None:
        while True:
            time.sleep(self.REFRESH_S)
            with self._lock:
                if self.current is not None:
                    self.gauge.set(1, tags=self.current)

    def load_failed(self) -> None:
        self.load_failures.inc()


class IngressMetrics:
    def __init__(self):
        self.branch_latency = Histogram("investiq_branch_latency_ms", "time of each branch call, seen by the ingress",
                                        boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("branch",))
        self.degraded = Counter("investiq_degraded_total", "branch calls that failed or timed out, by category",
                                tag_keys=("branch", "reason"))
        self.signals = Counter("investiq_signals_total", "signals answered",
                               tag_keys=("decision", "shadow", "actionable"))


class SentimentMetrics:
    def __init__(self):
        self.batch_size = Histogram("investiq_sentiment_batch_size", "texts per model call",
                                    boundaries=BATCH_SIZE_BOUNDARIES)
        self.cache = Counter("investiq_sentiment_cache_total", "cache lookups", tag_keys=("result",))


class PriceMetrics:
    def __init__(self):
        self.batch_size = Histogram("investiq_price_batch_size", "series per model call",
                                    boundaries=BATCH_SIZE_BOUNDARIES)
        self.predictions = Counter("investiq_price_predictions_total", "forecasts by most likely direction",
                                   tag_keys=("direction",))


class LedgerMetrics:
    def __init__(self):
        self.probability_best = Gauge("investiq_strategy_probability_best",
                                      "P(best) of each strategy: Thompson sampling's share of plays",
                                      tag_keys=("strategy",))
        self.mean = Gauge("investiq_strategy_win_rate", "posterior mean win rate of each strategy",
                          tag_keys=("strategy",))
        self.outcomes = Counter("investiq_strategy_outcomes_total", "outcomes recorded", tag_keys=("outcome",))
        self.set_aside = Counter("investiq_store_set_aside_total", "records the store refused on their own, set "
                                 "aside so the rest are written", tag_keys=("table",))
