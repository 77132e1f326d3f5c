"""Ray Serve's own floor, deployed beside the graph in the same Serve instance: an HTTP
ingress with no work (`/noop`) and one that makes one handle call to a deployment with no
work (`/hop`). What a composition costs before any of this project's code runs.

    applications:
      - name: floor
        route_prefix: /floor
        import_path: floor_app:app   # with bench/ on PYTHONPATH
"""

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

api = FastAPI()


@serve.deployment(ray_actor_options={"num_cpus": 0.05})
class NoWork:
    async def __call__(self) -> dict:
        return {}


@serve.deployment(ray_actor_options={"num_cpus": 0.05})
@serve.ingress(api)
class FloorIngress:
    def __init__(self, no_work: DeploymentHandle):
        self.no_work = no_work

    @api.get("/noop")
    async def noop(self) -> dict:
        return {}

    @api.get("/hop")
    async def hop(self) -> dict:
        return await self.no_work.remote()


app = FloorIngress.bind(NoWork.bind())
