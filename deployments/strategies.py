"""Strategy-weights deployment: the single writer of the strategy-outcome log.

An outcome is committed to the store before the call returns, and the posterior is rebuilt
from the log when a replica starts (from the latest sync's window on), so a restarted replica
continues from every acknowledged update. One replica only: two writers would each hold a
partial posterior.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import numpy as np
from ray import serve

from deployments.config import StrategyConfig
from deployments.metrics import StrategyMetrics
from deployments.placement_info import replica_devices
from models.strategy_weights import StrategyWeights
from store.store import Store

DAY_S = 24 * 3600.0


@serve.deployment(name="Strategies", num_replicas=1)
class StrategyDeployment:
    def __init__(self, config: StrategyConfig, store_url: str):
        self.config = config
        self.store = Store(store_url)
        self.metrics = StrategyMetrics()
        self.rng = np.random.default_rng(config.seed)
        self._rebuild(self.store.sync_window_start())

    def _rebuild(self, since: float | None) -> None:
        self.model = StrategyWeights(
            prior_alpha=self.config.prior_alpha,
            prior_beta=self.config.prior_beta,
            half_life_s=self.config.half_life_days * DAY_S if self.config.half_life_days else None,
            credible_level=self.config.credible_level,
        )
        self.window_start = since
        for strategy, win, observed_at in self.store.outcomes(since):
            self.model.update(strategy, win, observed_at)

    async def record(self, outcomes: list[dict]) -> dict:
        """Append outcomes durably, then update the posterior; returns the new weights.
        An outcome whose `id` was recorded before is skipped, so a retry never counts twice."""
        now = time.time()
        rows = [(o["strategy"], o["outcome"] == "win", o["timestamp"].timestamp() if o.get("timestamp") else now,
                 o.get("id")) for o in outcomes]
        new = self.store.append_outcomes(rows, received_at=now)
        for row in new:
            self.model.update(*row)
            self.metrics.outcomes.inc(tags={"outcome": "win" if row[1] else "loss"})
        return {"recorded": len(new), "duplicates": len(rows) - len(new), "weights": await self.weights()}

    async def sync(self, days: float) -> dict:
        """Rebuild the posterior from the outcomes observed in the last `days` days; the window
        is stored, so a restart rebuilds the same state."""
        now = time.time()
        since = now - days * DAY_S
        self.store.record_sync(since, at=now)
        self._rebuild(since)
        return {"since": datetime.fromtimestamp(since, timezone.utc),
                "outcomes": sum(1 for _ in self.store.outcomes(since)), "weights": await self.weights()}

    async def weights(self) -> dict:
        now = time.time()
        thompson = self.model.thompson_weights(now, self.rng)
        best = self.model.probability_best(now, self.rng, self.config.probability_best_samples)
        posteriors = self.model.posteriors(now)
        for p in posteriors:
            self.metrics.weight.set(thompson[p.strategy], tags={"strategy": p.strategy})
            self.metrics.mean.set(p.mean, tags={"strategy": p.strategy})
        return {
            "as_of": datetime.fromtimestamp(now, timezone.utc),
            "credible_level": self.config.credible_level,
            "half_life_days": self.config.half_life_days,
            "window_start": datetime.fromtimestamp(self.window_start, timezone.utc) if self.window_start else None,
            "strategies": [
                {**p.__dict__, "thompson_weight": thompson[p.strategy], "probability_best": best[p.strategy]}
                for p in posteriors
            ],
        }

    async def status(self) -> dict:
        return {"ready": True, "state": "ready", "model_id": "beta-bernoulli",
                "version": f"{sum(e.count for e in self.model.evidence.values())} outcomes",
                **replica_devices("cpu")}
