"""People: duty overrides (a swap, sick leave) and escalation chains in progress.

``overrides``: one person in a role for an interval, with who recorded it and why (removed
ones are kept, marked). ``escalations``: one chain per ticket — the step and round it is at and
when the next step is due (``next_us``, indexed like the clocks' timers); acknowledged or
finished chains keep their row with ``next_us`` empty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("start_us", sa.BigInteger(), nullable=False),
        sa.Column("end_us", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("removed_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_overrides_role", "overrides", ["role", "start_us"])
    op.create_table(
        "escalations",
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("next_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index(
        "ix_escalations_next",
        "escalations",
        ["next_us"],
        sqlite_where=sa.text("next_us IS NOT NULL"),
        postgresql_where=sa.text("next_us IS NOT NULL"),
    )
