"""Risk forecasts of the volatility branch, one row per horizon, settled with the realised
variance and return.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "risk_predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(128), index=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("as_of", sa.Float, nullable=False),
        sa.Column("last_close", sa.Float, nullable=False),
        sa.Column("horizon", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(256), nullable=False),
        sa.Column("variance", sa.Float, nullable=False),
        sa.Column("har_variance", sa.Float),
        sa.Column("var_95", sa.Float, nullable=False),
        sa.Column("var_99", sa.Float, nullable=False),
        sa.Column("realised_variance", sa.Float),
        sa.Column("realised_return", sa.Float),
        sa.Column("realised_at", sa.Float),
    )
    op.create_index("risk_predictions_symbol_as_of", "risk_predictions", ["symbol", "as_of"])
