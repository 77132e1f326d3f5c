"""Promotion the running graph follows, or that does not happen.

`promote_and_follow` moves the registry's production pointer and, given the Ray dashboard
address of a running graph, points its Price deployment at the new version (user_config,
applied in place by `reconfigure`) and waits until /readyz reports that version. When the
graph cannot follow (the model does not load, the dashboard refuses or is down, the wait
runs out), the pointer and the graph's config go back to what they were and PromotionFailed
says what happened in one line: the registry and the graph never disagree for long.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

from deployments.errors import one_line
from models.registry import ModelRegistry

logger = logging.getLogger(__name__)


class PromotionFailed(RuntimeError):
    """The graph did not take the new version; production is what it was before."""


def promote_and_follow(registry: ModelRegistry, version: str, serve_address: str | None, app: str = "investiq",
                       reason: str = "promoted by hand", wait_s: float = 120) -> Path:
    previous = registry.production()
    path = registry.promote(version, reason=reason)
    if serve_address:
        try:
            follow(path, version, serve_address, app, wait_s)
        except Exception as exc:
            registry.rollback()  # undoes exactly this promotion
            _revert_graph(registry, previous, serve_address, app)
            registry.record({"action": "promotion_failed", "version": version, "reason": one_line(exc)})
            raise PromotionFailed(f"the graph did not take {version} ({one_line(exc)}); production stays "
                                  f"{previous}: fix the model or the graph, then promote again") from exc
    return path


def rollback_and_follow(registry: ModelRegistry, serve_address: str | None, app: str = "investiq",
                        wait_s: float = 120) -> str:
    left = registry.production()
    version = registry.rollback()
    if serve_address:
        try:
            follow(registry.path_of(version), version, serve_address, app, wait_s)
        except Exception as exc:
            registry.promote(left, reason="rollback reverted: the graph could not load the earlier version")
            _revert_graph(registry, left, serve_address, app)
            raise PromotionFailed(f"the graph did not take {version} ({one_line(exc)}); production stays {left}: "
                                  "fix the graph, then roll back again") from exc
    return version


def _revert_graph(registry: ModelRegistry, version: str | None, serve_address: str, app: str) -> None:
    if version is None:
        return
    try:
        point_serve_at(registry.path_of(version), serve_address, app)
    except Exception as exc:  # the graph was never reached, or is down: it still serves what it had
        logger.warning("could not point the graph back at %s: %s", version, one_line(exc))


def follow(model_dir: Path, version: str, serve_address: str, app: str, wait_s: float) -> None:
    """Point the graph at `model_dir` and wait until its price branch serves `version`."""
    readyz = point_serve_at(model_dir, serve_address, app, wait_s)
    deadline = time.monotonic() + wait_s
    price: dict = {}
    while time.monotonic() < deadline:
        try:
            price = httpx.get(readyz, timeout=10).json()["branches"]["price"]
        except (httpx.HTTPError, KeyError, ValueError):
            price = {}
        if price.get("ready") and price.get("version") == version:
            logger.info("the graph serves %s", version)
            return
        error = price.get("last_load_error") or ""
        if error.startswith(str(model_dir)):
            raise RuntimeError(f"the price replica could not load it: {error[len(str(model_dir)) + 2:]}")
        time.sleep(0.5)
    raise TimeoutError(f"/readyz did not report {version} within {wait_s:g} s (price branch: {price or 'no answer'})")


def point_serve_at(model_dir: str | Path, serve_address: str, app: str = "investiq", wait_s: float = 120) -> str:
    """Set the Price deployment's user_config in the running application's config. Only the
    user_config changes, so Serve calls reconfigure() on the live replicas: no restart.
    Returns the application's /readyz address."""
    from ray.dashboard.modules.serve.sdk import ServeSubmissionClient
    from ray.serve.schema import ServeInstanceDetails

    client = ServeSubmissionClient(serve_address)
    details = ServeInstanceDetails(**client.get_serve_details())
    if app not in details.applications:
        raise RuntimeError(f"no Serve application {app!r} at {serve_address}; is `serve run serve_config.yaml` up?")
    applications = []
    for name, state in details.applications.items():
        if state.deployed_app_config is None:
            raise RuntimeError(f"application {name!r} was not deployed from a config file, so its config cannot "
                               "be updated in place; start it with `serve run serve_config.yaml`")
        config = state.deployed_app_config.model_dump(exclude_unset=True)
        if name == app:
            deployments = [d for d in config.get("deployments", []) if d.get("name") != "Price"]
            price = next((d for d in config.get("deployments", []) if d.get("name") == "Price"), {"name": "Price"})
            config["deployments"] = deployments + [{**price, "user_config": {"model_dir": str(Path(model_dir).resolve())}}]
        applications.append(config)
    deployed_before = details.applications[app].last_deployed_time_s
    client.deploy_applications({"proxy_location": details.proxy_location,
                                "http_options": {"host": details.http_options.host, "port": details.http_options.port},
                                "applications": applications})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = ServeInstanceDetails(**client.get_serve_details()).applications[app]
        if state.last_deployed_time_s > deployed_before and state.status == "RUNNING":
            logger.info("Serve app %s now points the Price deployment at %s", app, model_dir)
            host = urlparse(serve_address).hostname
            return f"http://{host}:{details.http_options.port}{state.route_prefix.rstrip('/')}/readyz"
        time.sleep(1)
    raise TimeoutError(f"Serve app {app!r} did not return to RUNNING within {wait_s:g} s after the update")
