"""Inspection rounds (巡检): one row per plan and scheduled time (a unique key, so racing
planners make each once), with its promise (``due_us``), who started and finished it, the
answers and findings; and the hash-chained log of every change of a round (who answered what,
and when).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN = "breached_us IS NULL AND state IN ('planned', 'running')"


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("scheduled_us", sa.BigInteger(), nullable=False),
        sa.Column("due_us", sa.BigInteger(), nullable=False),
        sa.Column("planned_us", sa.BigInteger(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("checklist", sa.Text(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=True),
        sa.Column("started_by", sa.String(), nullable=True),
        sa.Column("finished_us", sa.BigInteger(), nullable=True),
        sa.Column("finished_by", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("breached_us", sa.BigInteger(), nullable=True),
        sa.Column("ticket", sa.String(), nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan", "scheduled_us", name="uq_rounds_plan_scheduled"),
    )
    op.create_index("ix_rounds_scheduled", "rounds", ["scheduled_us"])
    op.create_index(
        "ix_rounds_open_due", "rounds", ["due_us"],
        sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN),
    )  # fmt: skip
    op.create_table(
        "round_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("round", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("round_log")
    op.drop_index("ix_rounds_open_due", table_name="rounds")
    op.drop_index("ix_rounds_scheduled", table_name="rounds")
    op.drop_table("rounds")
