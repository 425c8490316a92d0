"""The database schema, as SQLModel tables.

Times are stored as integer microseconds since the Unix epoch (UTC), in columns ending ``_us``:
exact, indexable and subtractable alike in SQLite and PostgreSQL, so that reports can do their
arithmetic in SQL. Views convert them to aware datetimes in the contract's time zone.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Table, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1


def _us(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(BigInteger, nullable=nullable, index=index)


class TicketRow(SQLModel, table=True):
    """One fault ticket: its current state and classification, and the head of its history."""

    __tablename__ = "tickets"
    __table_args__ = (
        # Idempotent intake: one ticket per external id per channel, even under a race.
        UniqueConstraint("channel", "external_id", name="uq_tickets_channel_external"),
        Index("ix_tickets_state", "state"),
        # Clustered on the primary key: one B-tree less to write per trigger.
        {"sqlite_with_rowid": False},
    )

    id: str = Field(primary_key=True, max_length=16)
    state: str
    tier: str
    kind: str
    cause: str | None = None
    channel: str
    external_id: str | None = None
    owner: str
    title: str
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    reporter: str | None = None
    contact: str | None = None
    on_hold: bool = False
    hold_reason: str | None = None
    version: int
    created_us: int = Field(sa_column=_us())
    last_seq: int
    last_us: int = Field(sa_column=_us())
    last_hash: str


class EventRow(SQLModel, table=True):
    """One entry of a ticket's append-only, hash-chained history."""

    __tablename__ = "events"
    __table_args__ = ({"sqlite_with_rowid": False},)

    ticket_id: str = Field(sa_column=Column(ForeignKey("tickets.id"), primary_key=True))
    seq: int = Field(primary_key=True)
    trigger: str
    from_state: str | None = None
    to_state: str
    at_us: int = Field(sa_column=_us())
    recorded_us: int = Field(sa_column=_us())
    actor: str
    note: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    hash: str


class ClockRow(SQLModel, table=True):
    """One clock of one ticket: its facts, its reading when last written, and its next alarm.

    ``next_us`` is the timer: the moment the next warning or breach is due, indexed, so that a
    sweep finds what is due without scanning open tickets.
    """

    __tablename__ = "clocks"
    __table_args__ = (
        # The timer index holds only clocks with an alarm to come: stopped clocks leave it.
        Index(
            "ix_clocks_next",
            "next_us",
            sqlite_where=text("next_us IS NOT NULL"),
            # PostgreSQL gets the same partial index from store.py's DDL: naming
            # postgresql_where here would import that dialect on every start.
        ),
        {"sqlite_with_rowid": False},
    )

    ticket_id: str = Field(sa_column=Column(ForeignKey("tickets.id"), primary_key=True))
    name: str = Field(primary_key=True)
    started_us: int = Field(sa_column=_us())
    limit_us: int = Field(sa_column=_us())
    paused_us: int = Field(sa_column=_us())
    paused_since_us: int | None = Field(default=None, sa_column=_us(nullable=True))
    stopped_us: int | None = Field(default=None, sa_column=_us(nullable=True))
    due_us: int | None = Field(default=None, sa_column=_us(nullable=True))
    status: str
    warned: bool = False
    breach_fired: bool = False
    breached: bool = False
    next_us: int | None = Field(default=None, sa_column=_us(nullable=True))
    next_kind: str | None = None


class OutboxRow(SQLModel, table=True):
    """A notification to deliver, written in the same transaction as the event it tells of."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "done", "next_attempt_us"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(sa_column=Column(ForeignKey("tickets.id"), nullable=False))
    seq: int
    kind: str
    created_us: int = Field(sa_column=_us())
    payload: str = Field(sa_column=Column(Text, nullable=False))
    done: bool = False
    next_attempt_us: int = Field(sa_column=_us())


class DeliveryRow(SQLModel, table=True):
    """Every attempt to deliver one notification to one notifier."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(sa_column=Column(ForeignKey("outbox.id"), nullable=False, index=True))
    notifier: str
    attempt: int
    at_us: int = Field(sa_column=_us())
    ok: bool
    error: str | None = Field(default=None, sa_column=Column(Text))


class MetaRow(SQLModel, table=True):
    """Facts about the database itself (the schema version)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


# The Core tables, typed, for statements (SQLModel does not declare ``__table__``).
TICKETS = _table(TicketRow)
EVENTS = _table(EventRow)
CLOCKS = _table(ClockRow)
OUTBOX = _table(OutboxRow)
DELIVERIES = _table(DeliveryRow)
META = _table(MetaRow)
