"""Outcomes carry an idempotency key, unique, so a resent outcome is never counted twice.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("strategy_outcomes", sa.Column("idempotency_key", sa.String(128)))
    op.create_index("strategy_outcomes_idempotency_key", "strategy_outcomes", ["idempotency_key"], unique=True)
