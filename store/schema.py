"""Tables of the store, as the latest migration leaves them (`store/migrations` builds them).

The Ledger deployment is the only code that writes here; every other replica talks to it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

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
    Column("components", JSON, nullable=False),  # branch scores, degraded branches, why not actionable
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
    Column("score", Float),  # the served edge score (null in rows logged before it existed)
    Column("realised", String(4)),  # up / flat / down once known
    Column("realised_return", Float),  # log return over the horizon
    Column("realised_at", Float),
    Index("price_predictions_symbol_as_of", "symbol", "as_of"),
)

risk_predictions = Table(  # one row per horizon of each risk block served
    "risk_predictions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), index=True),
    Column("symbol", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("as_of", Float, nullable=False),  # the last bar the model saw, epoch seconds
    Column("last_close", Float, nullable=False),
    Column("horizon", Integer, nullable=False),  # in bars
    Column("model_version", String(256), nullable=False),
    Column("variance", Float, nullable=False),  # the served forecast of the realised variance
    Column("har_variance", Float),  # HAR's at the same bar, the benchmark (null where the model keeps none)
    Column("var_95", Float, nullable=False),  # value at risk, a positive log return
    Column("var_99", Float, nullable=False),
    Column("realised_variance", Float),  # once known: the measure the model forecasts, summed over the horizon
    Column("realised_return", Float),  # log return over the horizon, close to close
    Column("realised_at", Float),
    Index("risk_predictions_symbol_as_of", "symbol", "as_of"),
)

strategy_outcomes = Table(
    "strategy_outcomes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("strategy", String(64), nullable=False),
    Column("win", Boolean, nullable=False),
    Column("observed_at", Float, nullable=False, index=True),  # when the trade closed
    Column("received_at", Float, nullable=False),  # when the server acknowledged it
    Column("idempotency_key", String(128)),  # the outcome's `id`, or `<request_id>#<position>`
    Column("fingerprint", String(64)),  # what the sender said of it: a key reused for other content is refused
    Column("r_multiple", Float),  # the trade's result in units of its risk, when the sender gave it
    Index("strategy_outcomes_idempotency_key", "idempotency_key", unique=True),
)

strategy_syncs = Table(  # posteriors use the outcomes observed since the latest sync's `since`
    "strategy_syncs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("since", Float, nullable=False),
    Column("at", Float, nullable=False),
)

model_promotions = Table(  # a model server loaded (or failed to load) a model version
    "model_promotions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment", String(32), nullable=False),
    Column("model_id", String(256), nullable=False),
    Column("version", String(256), nullable=False),
    Column("source", String(1024), nullable=False),
    Column("at", Float, nullable=False),
    Column("outcome", String(16), nullable=False, server_default="loaded"),  # loaded / failed
    Column("error", String(2048)),
)

requests = Table(  # state-changing requests by id: a resend replays `result`, other content is refused
    "requests", metadata,
    Column("request_id", String(128), primary_key=True),
    Column("route", String(32), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("result", JSON, nullable=False),
)
