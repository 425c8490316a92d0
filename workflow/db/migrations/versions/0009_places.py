"""Where a ticket is: ``tickets.unit``, ``site``, ``line``, ``device`` (codes of the registry,
a device by its serial; NULL when not known), found at intake or set by ``faultflow locate``,
an index of the tickets of a unit (a unit's history, ``status``, the report by unit) and one of
a device's ("has this switch failed before?").

Tickets from before stay unplaced (NULL): their history names no place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PLACES = ("unit", "site", "line", "device")


def upgrade() -> None:
    # plain nullable columns at the end: SQLite adds them without copying the table
    for name in PLACES:
        op.add_column("tickets", sa.Column(name, sa.String(), nullable=True))
    op.create_index("ix_tickets_unit", "tickets", ["unit", "created_us"])
    op.create_index("ix_tickets_device", "tickets", ["device", "created_us"])


def downgrade() -> None:
    op.drop_index("ix_tickets_device", table_name="tickets")
    op.drop_index("ix_tickets_unit", table_name="tickets")
    for name in reversed(PLACES):
        op.drop_column("tickets", name)
