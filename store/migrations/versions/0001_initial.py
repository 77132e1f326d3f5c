"""The first store: signals, predictions, strategy outcomes and syncs, promotions.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), nullable=False, index=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("shadow", sa.Boolean, nullable=False),
        sa.Column("model_versions", sa.JSON, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
    )
    op.create_table(
        "sentiment_predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), index=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(256), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.create_table(
        "price_predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), index=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("as_of", sa.Float, nullable=False),
        sa.Column("last_close", sa.Float, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("flat_band_bp", sa.Float, nullable=False),
        sa.Column("model_version", sa.String(256), nullable=False),
        sa.Column("p_up", sa.Float, nullable=False),
        sa.Column("p_flat", sa.Float, nullable=False),
        sa.Column("p_down", sa.Float, nullable=False),
        sa.Column("realised", sa.String(4)),
        sa.Column("realised_return", sa.Float),
        sa.Column("realised_at", sa.Float),
    )
    op.create_index("price_predictions_symbol_as_of", "price_predictions", ["symbol", "as_of"])
    op.create_table(
        "strategy_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("win", sa.Boolean, nullable=False),
        sa.Column("observed_at", sa.Float, nullable=False, index=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_table(
        "strategy_syncs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deployment", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(256), nullable=False),
        sa.Column("version", sa.String(256), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
