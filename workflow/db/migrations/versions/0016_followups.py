"""Follow-up calls (回访): ``followups``, one row per reported ticket — due by when, then done
(the customer's rating and comment, by whom, how) or missed, and the review a low rating
opened; with the ticket's unit, channel and engineer as they were when it closed.

Tickets reported before have no follow-up.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("ticket", sa.String(), nullable=False),
        sa.Column("due_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("by", sa.String(), nullable=True),
        sa.Column("via", sa.String(), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=True),
        sa.Column("review", sa.String(), nullable=True),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ticket"),
    )
    op.create_index("ix_followups_due", "followups", ["state", "due_us"])
    op.create_index("ix_followups_at", "followups", ["at_us"])


def downgrade() -> None:
    op.drop_index("ix_followups_at", table_name="followups")
    op.drop_index("ix_followups_due", table_name="followups")
    op.drop_table("followups")
