"""The urgency order on the ticket row: ``tickets.urgent_us`` (the earliest due time of the
ticket's running clocks; a large constant when an open ticket has none; NULL once it is final)
and a partial index of the open tickets on (urgent_us, created_us, id), so that ``list``, the
API and the board read only the rows they show, in order, and page by keyset.

Tickets from before are given their key from their clocks; "final" is taken from the contract
version each ticket runs under (its ``[states]`` finals), read from the ``contracts`` table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import tomllib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN_IDLE_US = 2**62  # records.OPEN_IDLE_US, written out: a migration does not change with the code


def upgrade() -> None:
    # a plain column at the end: SQLite adds it without copying the table
    op.add_column("tickets", sa.Column("urgent_us", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    finals: dict[str | None, set[str]] = {}
    for version, text in conn.execute(sa.text("SELECT version, text FROM contracts")):
        try:
            states = tomllib.loads(text).get("machine", {}).get("states", [])
            finals[version] = {s["name"] for s in states if s.get("final") and "name" in s}
        except (tomllib.TOMLDecodeError, TypeError, AttributeError):
            finals[version] = set()
    known = set().union(*finals.values()) if finals else {"reported", "cancelled"}
    # Every open ticket first, then the final ones (by the finals of its own version).
    conn.execute(
        sa.text(
            "UPDATE tickets SET urgent_us = COALESCE((SELECT MIN(c.due_us) FROM clocks c "
            "WHERE c.ticket_id = tickets.id AND c.status = 'running' "
            "AND c.due_us IS NOT NULL), :idle)"
        ),
        {"idle": OPEN_IDLE_US},
    )
    for version, states in finals.items():
        if states:
            conn.execute(
                sa.text(
                    "UPDATE tickets SET urgent_us = NULL WHERE contract = :v AND state IN :s"
                ).bindparams(sa.bindparam("s", expanding=True)),
                {"v": version, "s": sorted(states)},
            )
    conn.execute(
        sa.text(
            "UPDATE tickets SET urgent_us = NULL WHERE contract IS NULL AND state IN :s"
        ).bindparams(sa.bindparam("s", expanding=True)),
        {"s": sorted(known)},
    )
    op.create_index(
        "ix_tickets_urgent",
        "tickets",
        ["urgent_us", "created_us", "id"],
        sqlite_where=sa.text("urgent_us IS NOT NULL"),
        postgresql_where=sa.text("urgent_us IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_urgent", table_name="tickets")
    op.drop_column("tickets", "urgent_us")
