"""One call from the ingress to a branch, under a time budget, with failures as categories.

A branch that fails or times out comes back as a `BranchResult` with a category (a type,
never guessed from a message) and a reason for the operator; the request goes on without
it. Input errors (InvalidInput: 422) and reused ids (Conflict: 409) are the client's and
propagate. A call whose replica was lost (killed, restarting) is sent again until the budget
is spent: every branch method is safe to repeat (outcomes and settlements are keyed by
request id in the Ledger).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentResponse

from deployments.errors import Conflict, InvalidInput, ModelNotReady, one_line, root_cause

REPLICA_LOST = (RayActorError, ActorUnavailableError, DeploymentUnavailableError)


@dataclass
class BranchResult:
    value: Any = None
    category: str | None = None  # timeout / busy / replica_lost / model_unavailable / error (the ingress adds
    # out_of_distribution and input_refused); None: answered
    reason: str | None = None
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.category is None


async def call_branch(send: Callable[[], DeploymentResponse], budget_s: float) -> BranchResult:
    """`send()` makes the call, e.g. `lambda: handle.predict.remote(bars)`; it is called again
    after a lost replica."""
    start = time.perf_counter()
    deadline, backoff = start + budget_s, 0.05

    def failed(category: str, reason: str) -> BranchResult:
        return BranchResult(category=category, reason=reason, latency_ms=(time.perf_counter() - start) * 1e3)

    while True:
        try:
            value = await asyncio.wait_for(send(), max(deadline - time.perf_counter(), 0.001))
            return BranchResult(value=value, latency_ms=(time.perf_counter() - start) * 1e3)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, RayTaskError):  # the branch itself raised a TimeoutError
                return failed("error", one_line(exc))
            return failed("timeout", f"timed out after {budget_s:g} s")
        except BackPressureError:
            return failed("busy", "busy: its queue is full, retry shortly")
        except REPLICA_LOST as exc:
            if time.perf_counter() + backoff >= deadline:
                return failed("replica_lost", f"replica unavailable ({type(exc).__name__})")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
        except Exception as exc:
            cause = root_cause(exc)
            if isinstance(cause, (InvalidInput, Conflict)):
                raise cause from None
            if isinstance(cause, ModelNotReady):
                return failed("model_unavailable", str(cause))
            return failed("error", one_line(exc))
