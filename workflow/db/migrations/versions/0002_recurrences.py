"""Recurrences: the same external id may open a new ticket once its earlier one is final.

``tickets`` gains ``occurrence`` (1 for the first ticket of a channel's external id, 2 for the
ticket that recurs it, ...), ``recurs`` (the id of the ticket it recurs) and ``incident`` (what
tells one incident of the external id from another: an alert's ``startsAt``). Idempotent intake
is now one ticket per (channel, external id, occurrence).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite changes a constraint by copying the table (foreign keys are off meanwhile, see
    # Store._migrate); the copy keeps the table clustered on its primary key.
    with op.batch_alter_table(
        "tickets", recreate="auto", table_kwargs={"sqlite_with_rowid": False}
    ) as batch:
        batch.add_column(sa.Column("occurrence", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("recurs", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("incident", sa.String(), nullable=True))
        batch.drop_constraint("uq_tickets_channel_external", type_="unique")
        batch.create_unique_constraint(
            "uq_tickets_channel_external", ["channel", "external_id", "occurrence"]
        )
