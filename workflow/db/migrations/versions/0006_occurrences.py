"""Occurrences: the alerts a ticket carries that are not its own (an Alertmanager group's
alerts, a storm's), one row per alert, found by (channel, external id); and an index on
(channel, created_us) for the storm rule's count of a channel's recent tickets; and one on
deliveries (notifier, at_us), for when a coalescing notifier last sent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "occurrences",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("incident", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("first_us", sa.BigInteger(), nullable=False),
        sa.Column("last_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("channel", "external_id"),
    )
    op.create_index("ix_occurrences_ticket", "occurrences", ["ticket_id"])
    op.create_index("ix_tickets_channel_created", "tickets", ["channel", "created_us"])
    op.create_index("ix_deliveries_notifier", "deliveries", ["notifier", "at_us"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_notifier", table_name="deliveries")
    op.drop_index("ix_tickets_channel_created", table_name="tickets")
    op.drop_index("ix_occurrences_ticket", table_name="occurrences")
    op.drop_table("occurrences")
