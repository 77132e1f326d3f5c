"""One store for everything the graph must remember: SQLite (WAL) by default, PostgreSQL by URL.

`sqlite:///var/investiq.sqlite` suits one machine; on a multi-node cluster every replica
must reach the same store, so point `store_url` at PostgreSQL
(`postgresql+psycopg://user:pass@host/investiq`, with the `postgres` extra installed).
Strategy outcomes are committed (SQLite: `synchronous=FULL`) before a call returns, so an
acknowledged outcome survives a crash; predictions come in batches from `BatchedWriter`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url

from store import schema
from store.schema import (
    model_promotions, price_predictions, strategy_outcomes, strategy_syncs,
)

TABLES = {t.name: t for t in schema.metadata.sorted_tables}


def sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'investiq.sqlite'}"


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=FULL")  # committed means on disk
        cursor.close()

    return engine


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = _make_engine(url)
        with self.engine.begin() as conn:
            self.schema_version = schema.migrate(conn)

    # ---- strategy outcomes: durable before the call returns ------------------------------

    def append_outcomes(self, outcomes: Iterable[tuple[str, bool, float, str | None]],
                        received_at: float) -> list[tuple[str, bool, float]]:
        """(strategy, win, observed_at, idempotency key or None) in one transaction; returns
        the outcomes stored now, without those whose key was stored before. One writer only
        (the strategies replica), so reading the known keys first cannot race."""
        outcomes = list(outcomes)
        keys = [k for *_, k in outcomes if k is not None]
        with self.engine.begin() as conn:  # one transaction: all or nothing
            known = set(conn.execute(select(strategy_outcomes.c.idempotency_key).where(
                strategy_outcomes.c.idempotency_key.in_(keys))).scalars()) if keys else set()
            new = [(s, bool(w), t, k) for s, w, t, k in outcomes if k is None or k not in known]
            if new:
                conn.execute(insert(strategy_outcomes), [
                    {"strategy": s, "win": w, "observed_at": t, "received_at": received_at, "idempotency_key": k}
                    for s, w, t, k in new])
        return [(s, w, t) for s, w, t, _ in new]

    def outcomes(self, since: float | None = None) -> Iterator[tuple[str, bool, float]]:
        query = select(strategy_outcomes.c.strategy, strategy_outcomes.c.win, strategy_outcomes.c.observed_at)
        if since is not None:
            query = query.where(strategy_outcomes.c.observed_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(strategy_outcomes.c.id)).all()
        return ((s, bool(w), t) for s, w, t in rows)

    def record_sync(self, since: float, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(strategy_syncs).values(since=since, at=at))

    def sync_window_start(self) -> float | None:
        """Where the bandit's evidence starts: the latest sync's `since`, or None (all of it)."""
        with self.engine.connect() as conn:
            return conn.execute(select(strategy_syncs.c.since).order_by(strategy_syncs.c.id.desc()).limit(1)).scalar()

    # ---- predictions and promotions -------------------------------------------------------

    def write(self, records: list[tuple[str, dict]]) -> None:
        """Rows for several tables in one transaction: (table name, row)."""
        by_table: dict[str, list[dict]] = {}
        for table, row in records:
            by_table.setdefault(table, []).append(row)
        with self.engine.begin() as conn:
            for table, rows in by_table.items():
                conn.execute(insert(TABLES[table]), rows)

    def record_promotion(self, deployment: str, model_id: str, version: str, source: str, at: float) -> None:
        self.write([("model_promotions", {"deployment": deployment, "model_id": model_id, "version": version,
                                          "source": source, "at": at})])

    def promotions(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(model_promotions).order_by(model_promotions.c.id))]

    def rows(self, table: str, **equal) -> list[dict]:
        t = TABLES[table]
        query = select(t).where(*(t.c[k] == v for k, v in equal.items())).order_by(t.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # ---- realised results -----------------------------------------------------------------

    def unrealised_price_predictions(self, symbol: str, from_as_of: float, to_as_of: float) -> list[dict]:
        p = price_predictions
        query = select(p.c.id, p.c.as_of, p.c.last_close, p.c.horizon, p.c.flat_band_bp).where(
            p.c.symbol == symbol, p.c.realised.is_(None), p.c.as_of >= from_as_of, p.c.as_of <= to_as_of)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def set_realised(self, updates: list[dict], at: float) -> None:
        """updates: {"id", "realised", "realised_return"}."""
        with self.engine.begin() as conn:
            for u in updates:
                conn.execute(update(price_predictions).where(price_predictions.c.id == u["id"]).values(
                    realised=u["realised"], realised_return=u["realised_return"], realised_at=at))

    def price_predictions_since(self, symbol: str, since: float) -> list[dict]:
        p = price_predictions
        query = select(p.c.model_version, p.c.p_up, p.c.p_flat, p.c.p_down, p.c.realised).where(
            p.c.symbol == symbol, p.c.created_at >= since).order_by(p.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(TABLES[table])).scalar()

    def close(self) -> None:
        self.engine.dispose()
