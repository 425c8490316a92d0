"""Maintenance windows: ``maintenance`` (planned work on a unit, site, line, device or all of
the network, between two moments) and ``window_tickets`` (the tickets a window touched: opened
as planned during it, or whose escalation it paused).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("starts_us", sa.BigInteger(), nullable=False),
        sa.Column("ends_us", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("begun_us", sa.BigInteger(), nullable=True),
        sa.Column("ended_us", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_ends", "maintenance", ["ends_us"])
    op.create_table(
        "window_tickets",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(), nullable=False),
        sa.Column("why", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("window_id", "ticket"),
    )


def downgrade() -> None:
    op.drop_table("window_tickets")
    op.drop_index("ix_maintenance_ends", table_name="maintenance")
    op.drop_table("maintenance")
