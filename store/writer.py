"""Prediction records written off the request path, in batches.

A request only appends to an in-memory list; a background task writes what has gathered in
one transaction every `interval_s` (on its own thread, so the event loop never waits on the
disk). `close()` writes what is left, so a clean shutdown loses nothing. A failed write keeps
its rows for the next attempt, up to `max_pending` rows, past which the oldest are dropped
and counted (the store being down must not grow a replica's memory without bound).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from store.store import Store

logger = logging.getLogger("ray.serve")


class BatchedWriter:
    def __init__(self, store: Store, interval_s: float = 0.5, max_pending: int = 100_000):
        self.store = store
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.pending: list[tuple[str, dict]] = []
        self.dropped = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def add(self, table: str, row: dict) -> None:
        self.pending.append((table, row))
        if len(self.pending) > self.max_pending:
            excess = len(self.pending) - self.max_pending
            del self.pending[:excess]
            before, self.dropped = self.dropped, self.dropped + excess
            if before == 0 or before // 1000 != self.dropped // 1000:  # once, then every 1000
                logger.error("store unreachable: %d unwritten records dropped so far; check store_url", self.dropped)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> None:
        """Write everything added so far; returns once it is committed (or failed and kept)."""
        async with self._lock:
            batch, self.pending = self.pending, []
            if not batch:
                return
            try:
                await asyncio.get_running_loop().run_in_executor(self._executor, self.store.write, batch)
            except Exception as exc:
                logger.error("store write of %d records failed, will retry: %s", len(batch), exc)
                self.pending[:0] = batch

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()
