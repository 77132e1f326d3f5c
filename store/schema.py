"""Tables of the store, and the migrations that build them, in order.

Each migration runs once, in one transaction, and records its number in `schema_version`:
a store opened by newer code upgrades itself; a store written by newer code is refused.
The tables below are the current definition, which migration 1 creates on a fresh store;
each later migration brings an older store up to it and skips what a fresh one already has.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON, Boolean, Column, Connection, Float, Index, Integer, MetaData, String, Table, inspect, select, text,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, primary_key=True))

signals = Table(
    "signals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False, index=True),
    Column("symbol", String(16), nullable=False),
    Column("created_at", Float, nullable=False, index=True),
    Column("decision", String(8), nullable=False),
    Column("score", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("shadow", Boolean, nullable=False),
    Column("model_versions", JSON, nullable=False),
    Column("components", JSON, nullable=False),  # branch scores and degraded branches
)

sentiment_predictions = Table(
    "sentiment_predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), index=True),
    Column("created_at", Float, nullable=False),
    Column("model_version", String(256), nullable=False),
    Column("text_sha256", String(64), nullable=False),  # the text itself is not kept
    Column("label", String(8), nullable=False),
    Column("score", Float, nullable=False),
)

price_predictions = Table(
    "price_predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), index=True),
    Column("symbol", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("as_of", Float, nullable=False),  # the last bar the model saw, epoch seconds
    Column("last_close", Float, nullable=False),
    Column("horizon", Integer, nullable=False),  # in bars
    Column("flat_band_bp", Float, nullable=False),
    Column("model_version", String(256), nullable=False),
    Column("p_up", Float, nullable=False),
    Column("p_flat", Float, nullable=False),
    Column("p_down", Float, nullable=False),
    Column("realised", String(4)),  # up / flat / down once known
    Column("realised_return", Float),  # log return over the horizon
    Column("realised_at", Float),
    Index("price_predictions_symbol_as_of", "symbol", "as_of"),
)

strategy_outcomes = Table(
    "strategy_outcomes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("strategy", String(64), nullable=False),
    Column("win", Boolean, nullable=False),
    Column("observed_at", Float, nullable=False, index=True),  # when the trade closed
    Column("received_at", Float, nullable=False),  # when the server acknowledged it
    Column("idempotency_key", String(128)),  # the outcome's `id`: a key recorded once is never counted again
    Index("strategy_outcomes_idempotency_key", "idempotency_key", unique=True),
)

strategy_syncs = Table(  # the bandit state is rebuilt from outcomes observed since the latest sync's `since`
    "strategy_syncs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("since", Float, nullable=False),
    Column("at", Float, nullable=False),
)

model_promotions = Table(  # a deployment started serving a model version
    "model_promotions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(32), nullable=False),
    Column("model_id", String(256), nullable=False),
    Column("version", String(256), nullable=False),
    Column("source", String(1024), nullable=False),
    Column("at", Float, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    metadata.create_all(conn, tables=[signals, sentiment_predictions, price_predictions, strategy_outcomes,
                                      strategy_syncs, model_promotions])


def _v2_outcome_idempotency_keys(conn: Connection) -> None:
    if "idempotency_key" not in {c["name"] for c in inspect(conn).get_columns("strategy_outcomes")}:
        conn.execute(text("ALTER TABLE strategy_outcomes ADD COLUMN idempotency_key VARCHAR(128)"))
    for index in strategy_outcomes.indexes:
        index.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_outcome_idempotency_keys]


def migrate(conn: Connection) -> int:
    """Apply the migrations this store lacks; returns the schema version it is at."""
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).scalar() or 0
    if current > len(MIGRATIONS):
        raise RuntimeError(f"the store is at schema version {current}, newer than this code knows "
                           f"({len(MIGRATIONS)}); upgrade investiq before opening it")
    for number in range(current + 1, len(MIGRATIONS) + 1):
        MIGRATIONS[number - 1](conn)
        conn.execute(schema_version.insert().values(version=number))
    return len(MIGRATIONS)
