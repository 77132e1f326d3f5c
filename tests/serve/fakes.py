"""Stand-in branches: one too slow for any timeout, one that always fails, one that answers
/readyz steadily after a fixed pause (for admission tests), and a Ledger whose answer the
ingress cannot use (a bug's stand-in)."""

import asyncio

from ray import serve

from deployments.schemas import BranchReadiness


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class SlowBranch:
    async def _hang(self, *args):
        await asyncio.sleep(30)

    score = score_groups = predict = predict_many = forecast = forecast_many = strategy_weights = _hang
    record_outcomes = status = _hang

    async def log(self, records):
        return None


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class FailingBranch:
    async def _fail(self, *args):
        raise RuntimeError("simulated device fault")

    score = score_groups = predict = predict_many = forecast = forecast_many = _fail
    strategy_weights = record_outcomes = settle = sync = evaluate = status = log = _fail


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=1000)
class SteadyBranch:
    async def status(self) -> BranchReadiness:
        await asyncio.sleep(0.2)
        return BranchReadiness(ready=True, state="ready")


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class GarbledLedger:
    async def strategy_weights(self, *args):
        return "not a StrategyWeightsResponse"

    async def log(self, records):
        return None
