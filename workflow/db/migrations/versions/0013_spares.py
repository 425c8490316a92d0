"""Spare parts in stock (备品备件, P10): one row per spare by serial — its model, where it is,
whether it is in stock, taken for a ticket, in repair or retired — and the hash-chained log of
every movement.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spares",
        sa.Column("serial", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("ticket", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("serial"),
    )
    op.create_index("ix_spares_model", "spares", ["model", "state"])
    op.create_table(
        "spare_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("spare_log")
    op.drop_index("ix_spares_model", table_name="spares")
    op.drop_table("spares")
