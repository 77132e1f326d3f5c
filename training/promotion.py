"""Promotion the running graph follows, or that does not happen.

`promote_and_follow` moves the registry's production pointer and, given the Ray dashboard
address of a running graph, points the deployment that serves the registry's kind of model
(Price or Volatility, `serving_branch`) at the new version (user_config, applied in place
by `reconfigure`) and waits until /readyz reports that version `CONFIRMATIONS` times in a row
(/readyz reaches one replica at a time). When the
graph cannot follow (the model does not load, the dashboard refuses or is down, the wait
runs out), the pointer and the graph's config go back to what they were and PromotionFailed
says what happened in one line: the registry and the graph never disagree for long. The
graph is checked first (reachable, token accepted, application deployed from a config), so
a graph that cannot follow at all leaves the pointer untouched.

With Ray's token auth on (the default of a plain `serve run`), the dashboard refuses callers
without the cluster's token; `dashboard_headers` finds it where Ray keeps it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import httpx

from deployments.errors import one_line
from models.registry import ModelRegistry

logger = logging.getLogger(__name__)
CONFIRMATIONS = 5
DEPLOYMENTS = {"price": "Price", "volatility": "Volatility"}  # /readyz branch -> Serve deployment


def serving_branch(registry: ModelRegistry) -> str:
    """The graph branch that serves this registry's models: volatility models forecast several
    horizons, price models one."""
    versions = registry.versions()
    return "volatility" if versions and "horizons" in registry.metadata(versions[0]) else "price"


class PromotionFailed(RuntimeError):
    """The graph did not take the new version; production is what it was before."""


class GraphRefused(RuntimeError):
    """The graph cannot be told (down, token refused, not deployed from a config); the message
    says what to do."""


def _say(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, GraphRefused) else one_line(exc)


def _check_graph(serve_address: str, app: str, version: str, production: str | None, again: str) -> None:
    """Before the pointer moves: a graph that cannot follow at all leaves it untouched."""
    try:
        serve_details(serve_address, app)
    except Exception as exc:
        raise PromotionFailed(f"the graph cannot take {version}: {_say(exc)}; production stays "
                              f"{production or 'none'}: fix that, then {again}") from None


def promote_and_follow(registry: ModelRegistry, version: str, serve_address: str | None, app: str = "investiq",
                       reason: str = "promoted by hand", wait_s: float = 120, gate: dict | None = None) -> Path:
    previous = registry.production()
    registry.path_of(version)  # an unknown version fails before anything is touched
    if serve_address:
        _check_graph(serve_address, app, version, previous, "promote again")
    path = registry.promote(version, reason=reason, gate=gate)
    if serve_address:

        def undo() -> None:
            if previous != version:
                registry.rollback(to_none=True)  # undoes exactly this promotion

        try:
            _follow_or_restore(path, version, serving_branch(registry), serve_address, app, wait_s, undo)
        except PromotionFailed as exc:
            registry.record({"action": "promotion_failed", "version": version, "reason": str(exc)})
            raise PromotionFailed(f"the graph did not take {version} ({exc}); production stays {previous or 'none'}: "
                                  "fix the model or the graph, then promote again") from exc.__cause__
    return path


def rollback_and_follow(registry: ModelRegistry, serve_address: str | None, app: str = "investiq",
                        wait_s: float = 120) -> str:
    left = registry.production()
    if serve_address:
        _check_graph(serve_address, app, registry.previous(), left, "roll back again")
    version = registry.rollback()
    if serve_address:

        def undo() -> None:
            registry.promote(left, reason="rollback reverted: the graph could not load the earlier version")

        try:
            _follow_or_restore(registry.path_of(version), version, serving_branch(registry), serve_address, app,
                               wait_s, undo)
        except PromotionFailed as exc:
            raise PromotionFailed(f"the graph did not take {version} ({exc}); production stays {left}: "
                                  "fix the graph, then roll back again") from exc.__cause__
    return version


def _follow_or_restore(model_dir: Path, version: str, branch: str, serve_address: str, app: str, wait_s: float,
                       undo_pointer: Callable[[], None]) -> None:
    """Point the graph at `model_dir` and wait until its `branch` serves `version`. When it
    does not (an error, a timeout, Ctrl-C), move the pointer back first and then put the
    deployment's config back exactly as it was, so that a replica which re-reads the pointer
    (the builder's config names the registry, not a version) finds the old production; then
    raise PromotionFailed. The config counts as changed from the moment it is sent, even if
    the wait for the app to settle runs out."""
    sent: list[dict | None] = []  # the deployment's entry the update replaced, once it was sent
    deployment = DEPLOYMENTS[branch]
    try:
        source = str(Path(model_dir).resolve())
        readyz, _ = set_deployment_config(serve_address, app, deployment, {"user_config": {"model_dir": source}},
                                          wait_s, on_send=sent.append)
        wait_for_version(readyz, branch, source, version, wait_s)
    except BaseException as exc:  # Ctrl-C or a kill mid-wait must not leave the two apart either
        undo_pointer()
        note = ""
        if sent:
            try:
                set_deployment_config(serve_address, app, deployment, sent[0], wait_s)
            except Exception as restore_error:  # the graph went down meanwhile
                note = (f"; its config could not be set back ({_say(restore_error)}), so a replica that "
                        "restarts would load the failed version")
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else _say(exc)
        raise PromotionFailed(what + note) from exc


def wait_for_version(readyz: str, branch: str, source: str, version: str, wait_s: float) -> None:
    """Until /readyz reports `version` on `branch` CONFIRMATIONS times in a row; a replica that
    failed to load `source` ends the wait at once."""
    deadline, confirmed = time.monotonic() + wait_s, 0
    state: dict = {}
    while time.monotonic() < deadline:
        try:
            state = httpx.get(readyz, timeout=10).json()["branches"][branch]
        except (httpx.HTTPError, KeyError, ValueError):
            state = {}
        if state.get("last_failed_source") == source:
            raise RuntimeError(f"a {branch} replica could not load it: {state['last_load_error'][len(source) + 2:]}")
        confirmed = confirmed + 1 if state.get("ready") and state.get("version") == version else 0
        if confirmed == CONFIRMATIONS:
            logger.info("the graph serves %s", version)
            return
        time.sleep(0.2)
    said = f"version {state.get('version')}, {state.get('state')}" if state else "no answer"
    raise TimeoutError(f"/readyz did not report {version} within {wait_s:g} s ({branch} branch: {said})")


def set_deployment_config(serve_address: str, app: str, deployment: str, entry: dict | None, wait_s: float = 120,
                          on_send: Callable[[dict | None], None] | None = None) -> tuple[str, dict | None]:
    """Set `deployment`'s entry in the running application's config (None: remove it, back to
    what the builder made), and wait until the app is RUNNING again. When only its
    user_config changes, Serve calls reconfigure() on the live replicas: no restart.
    Returns the application's /readyz address and the entry it replaced; `on_send` gets that
    entry just before the update is sent, so a caller can undo an update whose wait fails."""
    from ray.serve.schema import ServeInstanceDetails

    client, details = serve_details(serve_address, app)
    applications, before = [], None
    for name, state in details.applications.items():
        config = state.deployed_app_config.model_dump(exclude_unset=True)
        if name == app:
            others = [d for d in config.get("deployments", []) if d.get("name") != deployment]
            before = next((d for d in config.get("deployments", []) if d.get("name") == deployment), None)
            config["deployments"] = others + ([{**(before or {}), **entry, "name": deployment}] if entry else [])
        applications.append(config)
    deployed_before = details.applications[app].last_deployed_time_s
    if on_send:
        on_send(before)
    _call(serve_address, client.deploy_applications, {
        "proxy_location": details.proxy_location,
        "http_options": {"host": details.http_options.host, "port": details.http_options.port},
        "applications": applications})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = ServeInstanceDetails(**_call(serve_address, client.get_serve_details)).applications[app]
        if state.last_deployed_time_s > deployed_before and state.status == "RUNNING":
            logger.info("Serve app %s: %s deployment config now %s", app, deployment, entry)
            host = urlparse(serve_address).hostname
            return f"http://{host}:{details.http_options.port}{state.route_prefix.rstrip('/')}/readyz", before
        time.sleep(1)
    raise TimeoutError(f"Serve app {app!r} did not return to RUNNING within {wait_s:g} s after the update")


def dashboard_headers() -> dict:
    """The cluster's token as an Authorization header, from where Ray keeps it ($RAY_AUTH_TOKEN,
    the file $RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token), whatever this process's
    RAY_AUTH_MODE; empty when there is none (a dashboard with auth off ignores it anyway)."""
    from ray._raylet import AuthenticationTokenLoader

    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()  # the token may have been written since this process last looked
    return loader.get_token_for_http_header(ignore_auth_mode=True)


def serve_details(serve_address: str, app: str):
    """The Serve REST client and the instance's details, once the graph has shown it can follow
    a promotion: the dashboard answers, takes our token, runs `app`, and every application was
    deployed from a config (only those can be updated in place)."""
    from ray.dashboard.modules.serve.sdk import ServeSubmissionClient
    from ray.serve.schema import ServeInstanceDetails

    client = _call(serve_address, ServeSubmissionClient, serve_address, headers=dashboard_headers())
    details = ServeInstanceDetails(**_call(serve_address, client.get_serve_details))
    if app not in details.applications:
        raise GraphRefused(f"no Serve application {app!r} at {serve_address}; is `serve run serve_config.yaml` up?")
    for name, state in details.applications.items():
        if state.deployed_app_config is None:
            raise GraphRefused(f"application {name!r} was not deployed from a config file, so its config cannot "
                               "be updated in place; start it with `serve run serve_config.yaml`")
    return client, details


def _call(serve_address: str, request, *args, **kwargs):
    """One Serve REST call, its failures said in words an operator can act on."""
    import requests
    from ray.exceptions import AuthenticationError

    try:
        return request(*args, **kwargs)
    except AuthenticationError as exc:
        refused = "refused the token" if "Authentication failed" in exc.message else "asked for a token"
        raise GraphRefused(f"the Ray dashboard at {serve_address} {refused} (Ray token auth is on): set "
                           "RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH, to the cluster's token (`ray get-auth-token` "
                           "on the head prints it; ~/.ray/auth_token is read by default)") from None
    except (requests.ConnectionError, ConnectionError):
        raise GraphRefused(f"no Ray dashboard answers at {serve_address}: start the graph "
                              "(`serve run serve_config.yaml`) or pass its dashboard address") from None
