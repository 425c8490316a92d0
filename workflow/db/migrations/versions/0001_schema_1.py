"""Schema 1: tickets, their hash-chained events, clocks with their timers, the outbox.

The schema faultflow 0.1 created before migrations existed; a database of that time is adopted
at this revision (see ``faultflow.db.migrations``).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}


def _us(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("cause", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter", sa.String(), nullable=True),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _us("created_us"),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        _us("last_us"),
        sa.Column("last_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="uq_tickets_channel_external"),
        **NO_ROWID,
    )
    op.create_index("ix_tickets_state", "tickets", ["state"])
    op.create_table(
        "clocks",
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _us("started_us"),
        _us("limit_us"),
        _us("paused_us"),
        _us("paused_since_us", nullable=True),
        _us("stopped_us", nullable=True),
        _us("due_us", nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("breach_fired", sa.Boolean(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        _us("next_us", nullable=True),
        sa.Column("next_kind", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id", "name"),
        **NO_ROWID,
    )
    # The timer index holds only clocks with an alarm to come.
    op.create_index(
        "ix_clocks_next",
        "clocks",
        ["next_us"],
        sqlite_where=sa.text("next_us IS NOT NULL"),
        postgresql_where=sa.text("next_us IS NOT NULL"),
    )
    op.create_table(
        "events",
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=False),
        _us("at_us"),
        _us("recorded_us"),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("ticket_id", "seq"),
        **NO_ROWID,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _us("created_us"),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        _us("next_attempt_us"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["done", "next_attempt_us"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("notifier", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _us("at_us"),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deliveries_outbox_id", "deliveries", ["outbox_id"])
    # The history is append-only: the database itself refuses to change or remove an event.
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                "BEGIN SELECT RAISE(ABORT, 'faultflow: the history is append-only'); END"
            )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION faultflow_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'faultflow: the history is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION faultflow_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError("faultflow migrations go forward only: restore a backup instead")
