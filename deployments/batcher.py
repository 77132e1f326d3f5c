"""One model, one batch at a time: each batch takes every request that arrived while the
previous one ran (up to max_batch_size). A lone request runs at once and a busy model gets
full batches, with no wait to tune. A request whose caller gave up (its call was cancelled)
is dropped before its batch forms.

Why not `@serve.batch`: its loop forms the next batch from what arrives within
`batch_wait_timeout_s` of that batch's first request, then queues it behind the running one
(ray/serve/batching.py, `_process_batches`). While BERT runs a batch, requests arriving one by
one therefore queue up as batches of one (see the README's Performance).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

logger = logging.getLogger("ray.serve")


class ContinuousBatcher(Generic[Item, Result]):
    """`run(items) -> results` (one per item, in order) on `executor`, one batch at a time."""

    def __init__(self, run: Callable[[list[Item]], list[Result]], executor: Executor, max_batch_size: int,
                 on_batch: Callable[[int, float], None] | None = None):
        self.run, self.executor, self.max_batch_size = run, executor, max_batch_size
        self.on_batch = on_batch  # (batch size, seconds the model ran): the replica's stats and metrics
        self.queue: asyncio.Queue[tuple[Item, asyncio.Future]] = asyncio.Queue()
        self.worker: asyncio.Task | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put_nowait((item, future))
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self._batches())
        return await future

    def _fill(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        """Add what is waiting, up to max_batch_size, leaving out requests whose caller gave up."""
        batch[:] = [(item, future) for item, future in batch if not future.done()]
        while len(batch) < self.max_batch_size and not self.queue.empty():
            item, future = self.queue.get_nowait()
            if not future.done():
                batch.append((item, future))

    async def _batches(self) -> None:
        loop = asyncio.get_running_loop()
        batch: list[tuple[Item, asyncio.Future]] = []
        try:
            while True:
                batch = [await self.queue.get()]
                self._fill(batch)
                if not batch:
                    continue
                start = loop.time()
                try:
                    results = await loop.run_in_executor(self.executor, self.run, [item for item, _ in batch])
                    if len(results) != len(batch):
                        raise RuntimeError(f"the model gave {len(results)} results for {len(batch)} inputs")
                except Exception as exc:  # every caller of the batch gets the error
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        (future.set_exception if isinstance(result, Exception) else future.set_result)(result)
                try:
                    if self.on_batch is not None:
                        self.on_batch(len(batch), loop.time() - start)
                except Exception:
                    logger.exception("batch statistics not recorded")
                batch = []
        finally:  # cancelled or broken: nobody is left waiting for an answer that will not come
            for _, future in batch + [self.queue.get_nowait() for _ in range(self.queue.qsize())]:
                if not future.done():
                    future.set_exception(RuntimeError("the batcher stopped; send the request again"))
