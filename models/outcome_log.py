"""Durable log of strategy outcomes in SQLite; the strategy weights are rebuilt from it.

An outcome is committed with `synchronous=FULL` before `append` returns, so anything the
API acknowledged survives a crash of the process or the machine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS strategy_outcomes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy    TEXT    NOT NULL,
    win         INTEGER NOT NULL CHECK (win IN (0, 1)),
    observed_at REAL    NOT NULL,  -- when the trade closed, epoch seconds
    received_at REAL    NOT NULL   -- when the server acknowledged it
);
CREATE INDEX IF NOT EXISTS strategy_outcomes_observed ON strategy_outcomes (observed_at);
"""


class OutcomeLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def append(self, outcomes: Iterable[tuple[str, bool, float]], received_at: float) -> int:
        rows = [(s, int(w), t, received_at) for s, w, t in outcomes]
        with self._db:  # one transaction: all or nothing
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO strategy_outcomes (strategy, win, observed_at, received_at) VALUES (?, ?, ?, ?)", rows
            )
        return len(rows)

    def replay(self) -> Iterator[tuple[str, bool, float]]:
        for strategy, win, observed_at in self._db.execute(
            "SELECT strategy, win, observed_at FROM strategy_outcomes ORDER BY id"
        ):
            yield strategy, bool(win), observed_at

    def close(self) -> None:
        self._db.close()
