"""One outage, many reports: ``tickets.parent`` (the group of reports a ticket was merged
into — the parent's id on a report, its own on the parent) with its index, and ``links``:
tickets said to be duplicates of, related to, or caused by others.

Tickets from before are alone (NULL) and linked to nothing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain nullable column at the end: SQLite adds it without copying the table
    op.add_column("tickets", sa.Column("parent", sa.String(), nullable=True))
    op.create_index("ix_tickets_parent", "tickets", ["parent"])
    op.create_table(
        "links",
        sa.Column("ticket", sa.String(), nullable=False),
        sa.Column("other", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("ticket", "other"),
    )
    op.create_index("ix_links_other", "links", ["other"])


def downgrade() -> None:
    op.drop_index("ix_links_other", table_name="links")
    op.drop_table("links")
    op.drop_index("ix_tickets_parent", table_name="tickets")
    op.drop_column("tickets", "parent")
