"""Stand-in branches for degradation tests: one too slow for its timeout, one that fails."""

import asyncio

from ray import serve


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class SlowBranch:
    async def weights(self):
        await asyncio.sleep(30)

    async def status(self):
        return {"ready": True, "state": "ready"}


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class FailingBranch:
    async def predict(self, bars):
        raise RuntimeError("simulated GPU fault")

    async def status(self):
        raise RuntimeError("simulated GPU fault")
