"""Prediction records written off the request path, in batches.

Callers only append to an in-memory list; a background task writes what has gathered in one
transaction every `interval_s` (on its own thread, so the event loop never waits on the
disk), and `close()` writes what is left. When a batch fails, its rows are written one by
one: a row the store refuses on its own (a permanently bad row) is set aside, logged and
counted, and the rest are written; while the store itself is unreachable the rows wait for
the next attempt, up to `max_pending`, past which the oldest are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy.exc import DBAPIError, OperationalError

from store.store import Store

logger = logging.getLogger("ray.serve")


def _store_unreachable(exc: Exception) -> bool:
    """A failure of the connection or the database (unreachable, locked, a deadlock), not of
    the row: worth retrying the same rows later."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


class BatchedWriter:
    def __init__(self, store: Store, interval_s: float = 0.5, max_pending: int = 100_000,
                 on_set_aside: Callable[[str], None] | None = None):
        self.store = store
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.on_set_aside = on_set_aside or (lambda table: None)
        self.pending: list[tuple[str, dict]] = []
        self.dropped = 0
        self.set_aside: Counter = Counter()  # per table: rows the store refused on their own
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
        """Write everything added so far; returns once it is committed, set aside, or kept for later."""
        async with self._lock:
            batch, self.pending = self.pending, []
            if batch:
                kept = await asyncio.get_running_loop().run_in_executor(self._executor, self._write, batch)
                self.pending[:0] = kept

    def _write(self, batch: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        """Write `batch`; returns the rows to try again (the store was unreachable)."""
        try:
            self.store.write(batch)
            return []
        except Exception as exc:
            if _store_unreachable(exc):
                logger.error("store write of %d records failed, will retry: %s", len(batch), _first_line(exc))
                return batch
        for i, (table, row) in enumerate(batch):  # find the rows the store refuses on their own
            try:
                self.store.write([(table, row)])
            except Exception as exc:
                if _store_unreachable(exc):
                    return batch[i:]
                self.set_aside[table] += 1
                self.on_set_aside(table)
                logger.error("a %s record was refused by the store and set aside (%d so far): %s",
                             table, sum(self.set_aside.values()), _first_line(exc))
        return []

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()


def _first_line(exc: Exception) -> str:
    """The database's own message, without the SQL and parameters SQLAlchemy appends."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
