"""Requests by id with a fingerprint of their content (a reused id with other content is
refused, a resend replays the first answer); outcome fingerprints and R multiples; failed model loads in the
promotion log; the served edge score of each price prediction; the hand-written
`schema_version` table gives way to Alembic's.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.add_column("strategy_outcomes", sa.Column("fingerprint", sa.String(64)))
    op.add_column("strategy_outcomes", sa.Column("r_multiple", sa.Float))
    op.add_column("price_predictions", sa.Column("score", sa.Float))
    with op.batch_alter_table("model_promotions") as table:
        table.add_column(sa.Column("outcome", sa.String(16), nullable=False, server_default="loaded"))
        table.add_column(sa.Column("error", sa.String(2048)))
    if sa.inspect(op.get_bind()).has_table("schema_version"):
        op.drop_table("schema_version")
