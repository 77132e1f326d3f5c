"""The life cycle every model server shares: load, health, reconfigure.

A `ModelSlot` holds the model one replica serves and is the only way a model gets there:
- one load at a time, on its own thread, so inference keeps running on the model in place;
- a load that fails never raises and never unloads: the replica keeps serving what it had,
  and the failure shows in `status()` (hence /readyz) until another source loads, in a
  metric and in the promotion log; asking again for the source being served changes nothing;
- while the replica has no model, the load is retried with doubling waits, so a hub that
  comes back or a model directory that appears is picked up without a restart;
- a source may stand in for a model that does not exist yet (the price registry's embedded
  default): while it is served, the slot looks every `retry.initial_s` for the real one and
  loads it the moment it appears;
- every load that succeeds, and every new reason a load fails, is one row of the promotion
  log (sent to the Ledger), never one per poll.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

from ray.serve.handle import DeploymentHandle

from deployments.config import LoadRetry
from deployments.errors import ModelNotReady, one_line
from deployments.messages import ModelLoadEvent
from deployments.metrics import ModelMetrics
from deployments.placement_info import replica_devices
from deployments.schemas import BranchReadiness
from models.registry import registry_of, resolve_model_dir

logger = logging.getLogger("ray.serve")
M = TypeVar("M")


class ModelSlot(Generic[M]):
    def __init__(self, deployment: str, load: Callable[[str], M], identity: Callable[[M], tuple[str, str, str]],
                 ledger: DeploymentHandle | None, retry: LoadRetry, missing_hint: Callable[[str], str],
                 stand_in: Callable[[str], str | None] = lambda source: None):
        """`load(source)` builds a model (on the load thread); `identity(model)` is its
        (model_id, version, device); `missing_hint(source)` tells the operator what to do
        while there is no model; `stand_in(source)` (cheap, on the load thread) is None when
        `load(source)` gives the source's own model, else a note saying what stands in for it."""
        self.deployment = deployment
        self._load, self._identity, self._hint, self._stand_in = load, identity, missing_hint, stand_in
        self.ledger, self.retry = ledger, retry
        self.metrics = ModelMetrics()
        self.model: M | None = None
        self.source: str | None = None  # where the served model came from
        self.standing_in: str | None = None  # the stand-in note while the served model stands in for another
        self.wanted: str | None = None  # the latest source asked for
        self.state, self.reason = "loading", "waiting for the first load"
        self.last_error: str | None = None
        self.last_failed_source: str | None = None
        self.load_attempts = 0
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{deployment}-load")
        self._retrying: asyncio.Task | None = None
        self._logged_failure: tuple[str, str] | None = None
        self._background: set[asyncio.Task] = set()

    def current(self) -> M:
        """The model to serve this request with (one model for the whole request)."""
        model = self.model
        if model is None:
            raise ModelNotReady(self.reason)
        return model

    async def reconfigure(self, user_config: dict) -> None:
        """Serve's user_config: `model_dir`, a model directory or a registry whose production
        version is loaded. Never raises (Serve would replace the replica): a bad config is a
        failed load."""
        model_dir = user_config.get("model_dir") if isinstance(user_config, dict) else None
        await self.load(str(model_dir) if model_dir else f"(no model_dir in user_config {user_config!r})")

    async def load(self, source: str | None) -> bool:
        """Load `source` and serve it; False if it failed (the replica keeps what it served)."""
        self.wanted = source
        async with self._lock:  # one load at a time; a newer request supersedes a waiting one
            if source != self.wanted:
                return False
            if self.model is not None and source == self.source:
                return True  # e.g. a reverted promotion: what it serves already, and the failure stays shown
            return await self._attempt(source)

    async def _attempt(self, source: str) -> bool:
        self.load_attempts += 1
        try:
            note, model = await asyncio.get_running_loop().run_in_executor(self._executor, self._load_noted, source)
        except Exception as exc:
            self._failed(source, exc)
            return False
        self.model, self.source, self._logged_failure = model, source, None
        self.last_error = self.last_failed_source = None
        self.state, self.reason, self.standing_in = "ready", note, note
        if note is not None:
            self._retry_until_loaded()  # now: until the source's own model appears
        model_id, version, device = self._identity(model)
        self.metrics.serving(model_id, version)
        logger.info("%s model %s version %s loaded from %s on %s", self.deployment, model_id, version, source, device)
        self._send(ModelLoadEvent(self.deployment, source, time.time(), model_id, version))
        return True

    def _failed(self, source: str, exc: Exception) -> None:
        error = one_line(exc)
        self.last_error, self.last_failed_source = f"{source}: {error}", source
        self.metrics.load_failed()
        if self.model is None:
            self.state = "unavailable"
            self.reason = f"{self._hint(source)} (last error: {error}; retrying)"
            self._retry_until_loaded()
        else:
            _, version, _ = self._identity(self.model)
            self.reason = f"loading {source} failed ({error}); still serving {version} from {self.source}"
        reason = re.sub(r"0x[0-9a-f]+", "0x…", error)  # the same failure, whatever the object's address
        if self._logged_failure != (source, reason):  # each new reason once, not once per retry
            self._logged_failure = (source, reason)
            logger.error("%s model load failed: %s", self.deployment, self.reason, exc_info=exc)
            self._send(ModelLoadEvent(self.deployment, source, time.time(), error=error))

    def _retry_until_loaded(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry_loop())

    def _load_noted(self, source: str) -> tuple[str | None, M]:
        """The stand-in note first: a real model that appears meanwhile is loaded under the
        note, and the next look replaces it with itself (the other order could miss it)."""
        return self._stand_in(source), self._load(source)

    async def _retry_loop(self) -> None:
        """Without a model: the load again, after doubling waits. With a stand-in: a look every
        `initial_s` for the source's own model, loaded when it appears (doubling waits while
        that load fails, the stand-in still served)."""
        wait = self.retry.initial_s
        while self.model is None or self.standing_in is not None:
            await asyncio.sleep(wait)
            async with self._lock:
                if self.wanted is None:
                    continue
                if self.model is None:
                    wait = self.retry.initial_s if await self._attempt(self.wanted) else min(wait * 2, self.retry.max_s)
                elif not await self._still_standing_in(self.wanted) and not await self._attempt(self.wanted):
                    wait = min(wait * 2, self.retry.max_s)

    async def _still_standing_in(self, source: str) -> bool:
        """Whether `source` still has no model of its own; an error reading it says no, so the
        load runs and reports what is wrong."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._stand_in, source) is not None
        except Exception:
            return False

    def _send(self, event: ModelLoadEvent) -> None:
        """Into the promotion log, off the load's path; a Ledger that is down only costs a log line."""
        if self.ledger is None:
            return

        async def send() -> None:
            try:
                await self.ledger.record_model_event.remote(event)
            except Exception as exc:
                logger.warning("could not log the %s model event to the Ledger: %s", self.deployment, one_line(exc))

        task = asyncio.get_running_loop().create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def registry_decisions(self) -> list[dict]:
        """The promotion decisions of the registry this replica serves from (newest last): the
        replica reads it where the graph mounts the registry, which the ingress may not."""
        registry = registry_of(self.wanted) if self.wanted else None
        return registry.decisions() if registry is not None else []

    def status(self) -> BranchReadiness:
        model = self.model
        model_id, version, device = self._identity(model) if model is not None else (None, None, None)
        return BranchReadiness(ready=model is not None, state=self.state, reason=self.reason, model_id=model_id,
                               version=version, source=self.source, last_load_error=self.last_error,
                               last_failed_source=self.last_failed_source, **replica_devices(device))


def default_note(source: str, default: Path | None, train_command: str) -> str | None:
    """What /readyz says while an embedded default stands in for `source`'s own model (a
    ModelSlot's `stand_in`); None otherwise. `train_command` has a {model_dir} to fill."""
    if default is None or resolve_model_dir(source, default) != default:
        return None
    return (f"serving the embedded default model ({default}/MODEL_CARD.md says how it was made and how good it is) "
            f"until {source} has a production version; train yours with: {train_command.format(model_dir=source)}")
