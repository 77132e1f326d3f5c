"""Stand-in branches for degradation tests: one too slow for any timeout, one that always fails."""

import asyncio

from ray import serve


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class SlowBranch:
    async def weights(self):
        await asyncio.sleep(30)

    async def status(self):
        await asyncio.sleep(30)


@serve.deployment(ray_actor_options={"num_cpus": 0.1})
class FailingBranch:
    async def _fail(self, *args):
        raise RuntimeError("simulated device fault")

    score = predict = weights = record = status = _fail
