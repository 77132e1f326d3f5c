"""Strategy-weights deployment: the single writer of the outcome log.

An outcome is committed to SQLite before the call returns, and the in-memory posterior is
rebuilt from the log when a replica starts, so a restarted replica continues from every
acknowledged update. One replica only: two writers would each hold a partial posterior.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from ray import serve

from deployments.config import StrategyConfig
from deployments.placement_info import replica_devices
from models.outcome_log import OutcomeLog
from models.strategy_weights import StrategyWeights

DAY_S = 24 * 3600.0


@serve.deployment(name="Strategies", num_replicas=1)
class StrategyDeployment:
    def __init__(self, config: StrategyConfig, data_dir: str):
        self.config = config
        self.log = OutcomeLog(Path(data_dir) / "strategies.sqlite")
        self.model = StrategyWeights(
            prior_alpha=config.prior_alpha,
            prior_beta=config.prior_beta,
            half_life_s=config.half_life_days * DAY_S if config.half_life_days else None,
            credible_level=config.credible_level,
        )
        for strategy, win, observed_at in self.log.replay():
            self.model.update(strategy, win, observed_at)
        self.rng = np.random.default_rng(config.seed)

    async def record(self, outcomes: list[dict]) -> dict:
        """Append outcomes durably, then update the posterior; returns the new weights."""
        now = time.time()
        rows = [(o["strategy"], o["outcome"] == "win", o["timestamp"].timestamp() if o.get("timestamp") else now)
                for o in outcomes]
        self.log.append(rows, received_at=now)
        for row in rows:
            self.model.update(*row)
        return {"recorded": len(rows), "weights": await self.weights()}

    async def weights(self) -> dict:
        now = time.time()
        thompson = self.model.thompson_weights(now, self.rng)
        best = self.model.probability_best(now, self.rng, self.config.probability_best_samples)
        return {
            "as_of": datetime.fromtimestamp(now, timezone.utc),
            "credible_level": self.config.credible_level,
            "half_life_days": self.config.half_life_days,
            "strategies": [
                {**p.__dict__, "thompson_weight": thompson[p.strategy], "probability_best": best[p.strategy]}
                for p in self.model.posteriors(now)
            ],
        }

    async def status(self) -> dict:
        return {"ready": True, "state": "ready", "model_id": "beta-bernoulli",
                "version": f"{sum(e.count for e in self.model.evidence.values())} outcomes",
                **replica_devices("cpu")}
