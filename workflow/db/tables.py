"""The database schema, as SQLModel tables derived from the records of ``records.py``.

Times are stored as integer microseconds since the Unix epoch (UTC), in columns ending ``_us``:
exact, indexable and subtractable alike in SQLite and PostgreSQL, so that reports can do their
arithmetic in SQL. Views convert them to aware datetimes in the contract's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast, get_args, get_type_hints

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelMetaclass

from .records import (
    ClockRecord,
    ContractRecord,
    DeviceRecord,
    EscalationRecord,
    EventRecord,
    FollowupRecord,
    KBEntryRecord,
    KBLogRecord,
    LineRecord,
    LinkRecord,
    OccurrenceRecord,
    OutboxRecord,
    OverrideRecord,
    RegistryLogRecord,
    RoundLogRecord,
    RoundRecord,
    SiteRecord,
    SpareLogRecord,
    SpareRecord,
    TermsRecord,
    TicketRecord,
    TokenRecord,
    UnitRecord,
    VendorRecord,
    WindowLogRecord,
    WindowRecord,
    WindowTicketRecord,
)


def _us(*, nullable: bool = False) -> Any:
    return Column(BigInteger, nullable=nullable)


def _table(
    record: type[Any],
    name: str,
    *,
    columns: Mapping[str, Any] | None = None,
    first: Mapping[str, tuple[Any, Any]] | None = None,
    args: tuple[Any, ...] = (),
    row: str | None = None,
) -> type[SQLModel]:
    """The SQLModel table of a record (``records.py``): one column per field, in field order.

    The record says which fields there are and their types; here only what a column needs
    beyond its type: keys, text columns, indexes. ``*_us`` fields are 64-bit integers. ``first``
    adds columns that are not part of the record (an autoincrement id).
    """
    hints = get_type_hints(record)
    namespace: dict[str, Any] = {"__tablename__": name, "__module__": __name__}
    if args:
        namespace["__table_args__"] = args
    annotations: dict[str, Any] = {}
    for field, (kind, column) in (first or {}).items():
        annotations[field], namespace[field] = kind, column
    for field in record._fields:
        annotations[field] = hints[field]
        if columns and field in columns:
            namespace[field] = columns[field]
        elif field.endswith("_us"):
            optional = type(None) in get_args(hints[field])
            namespace[field] = Field(default=None, sa_column=_us(nullable=optional))
    namespace["__annotations__"] = annotations
    row_name = row or record.__name__.replace("Record", "Row")  # ``row``: one record, two tables
    model = SQLModelMetaclass(row_name, (SQLModel,), namespace, table=True)
    return cast(type[SQLModel], model)


def _text(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _owned(primary_key: bool = True) -> Any:
    """The ticket_id of a row that belongs to a ticket."""
    return Field(
        sa_column=Column(ForeignKey("tickets.id"), primary_key=primary_key, nullable=False)
    )


TicketRow = _table(
    TicketRecord,
    "tickets",
    columns={
        "id": Field(primary_key=True, max_length=16),
        "description": _text(nullable=False),
        "occurrence": Field(
            default=1, sa_column=Column(Integer, nullable=False, server_default="1")
        ),
        "recurs": Field(default=None, max_length=16),
        "contract": Field(default=None, max_length=16),
    },
    args=(
        # Idempotent intake: one ticket per external id and occurrence per channel, even
        # under a race (a recurrence is the next occurrence).
        UniqueConstraint(
            "channel", "external_id", "occurrence", name="uq_tickets_channel_external"
        ),
        Index("ix_tickets_state", "state"),
        # The open tickets, most urgent first (records.urgency): a list reads only the rows
        # it shows. Final tickets (urgent_us NULL) are not in it.
        Index(
            "ix_tickets_urgent",
            "urgent_us",
            "created_us",
            "id",
            sqlite_where=text("urgent_us IS NOT NULL"),
        ),
        # What a storm rule counts: the tickets a channel opened lately.
        Index("ix_tickets_channel_created", "channel", "created_us"),
        # A unit's tickets: its history, what is down now, the report by unit.
        Index("ix_tickets_unit", "unit", "created_us"),
        Index("ix_tickets_device", "device", "created_us"),  # has this device failed before?
        Index("ix_tickets_parent", "parent"),  # a group's reports (merge)
        # Clustered on the primary key: one B-tree less to write per trigger.
        {"sqlite_with_rowid": False},
    ),
)

EventRow = _table(
    EventRecord,
    "events",
    columns={
        "ticket_id": _owned(),
        "seq": Field(primary_key=True),
        "note": _text(),
        "reason": _text(),
        "data": _text(nullable=False),
    },
    args=({"sqlite_with_rowid": False},),
)

ClockRow = _table(
    ClockRecord,
    "clocks",
    columns={"ticket_id": _owned(), "name": Field(primary_key=True)},
    args=(
        # The timer index holds only clocks with an alarm to come: stopped clocks leave it.
        Index(
            "ix_clocks_next",
            "next_us",
            sqlite_where=text("next_us IS NOT NULL"),
            # PostgreSQL gets the same partial index from store.py's DDL: naming
            # postgresql_where here would import that dialect on every start.
        ),
        {"sqlite_with_rowid": False},
    ),
)

OccurrenceRow = _table(
    OccurrenceRecord,
    "occurrences",
    columns={
        "channel": Field(primary_key=True),
        "external_id": Field(primary_key=True),
        "ticket_id": _owned(primary_key=False),
        "title": _text(nullable=False),
    },
    args=(Index("ix_occurrences_ticket", "ticket_id"),),
)

OutboxRow = _table(
    OutboxRecord,
    "outbox",
    first={"id": (int | None, Field(default=None, primary_key=True))},
    columns={"ticket_id": _owned(primary_key=False), "payload": _text(nullable=False)},
    args=(Index("ix_outbox_pending", "done", "next_attempt_us"),),
)


TokenRow = _table(
    TokenRecord,
    "tokens",
    columns={"name": Field(primary_key=True)},
    args=(UniqueConstraint("digest", name="uq_tokens_digest"),),
)


ContractRow = _table(
    ContractRecord,
    "contracts",
    columns={"version": Field(primary_key=True, max_length=16), "text": _text(nullable=False)},
)


OverrideRow = _table(
    OverrideRecord,
    "overrides",
    first={"id": (int | None, Field(default=None, primary_key=True))},
    args=(Index("ix_overrides_role", "role", "start_us"),),
)

EscalationRow = _table(
    EscalationRecord,
    "escalations",
    columns={"ticket_id": _owned()},
    args=(Index("ix_escalations_next", "next_us", sqlite_where=text("next_us IS NOT NULL")),),
)


class DeliveryRow(SQLModel, table=True):
    """Every attempt to deliver one notification to one notifier."""

    __tablename__ = "deliveries"
    # When a notifier last sent (a coalescing notifier's window).
    __table_args__ = (Index("ix_deliveries_notifier", "notifier", "at_us"),)

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(sa_column=Column(ForeignKey("outbox.id"), nullable=False, index=True))
    notifier: str
    attempt: int
    at_us: int = Field(sa_column=_us())
    ok: bool
    error: str | None = Field(default=None, sa_column=Column(Text))


class MetaRow(SQLModel, table=True):
    """Facts about the database itself (a schema-1 database from before migrations keeps its
    ``schema_version`` here; migrations keep theirs in ``alembic_version``)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


# -- the registry: the network the contract maintains ---------------------------------------------


def _key() -> Any:
    return Field(primary_key=True)


def _of(table: str, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(ForeignKey(f"{table}.code"), nullable=nullable))


VendorRow = _table(
    VendorRecord, "vendors", columns={"code": _key(), "contacts": _text(nullable=False)}
)
UnitRow = _table(UnitRecord, "units", columns={"code": _key(), "contacts": _text(nullable=False)})
SiteRow = _table(
    SiteRecord, "sites", columns={"code": _key(), "unit": _of("units", nullable=False)},
    args=(Index("ix_sites_unit", "unit"),),
)  # fmt: skip
LineRow = _table(
    LineRecord, "lines",
    columns={"code": _key(), "unit": _of("units", nullable=False), "site": _of("sites")},
    args=(Index("ix_lines_unit", "unit"),),
)  # fmt: skip
DeviceRow = _table(
    DeviceRecord, "devices",
    columns={"serial": _key(), "unit": _of("units", nullable=False), "site": _of("sites"),
             "vendor": _of("vendors")},
    args=(Index("ix_devices_unit", "unit"), Index("ix_devices_name", "name")),
)  # fmt: skip
RegistryLogRow = _table(
    RegistryLogRecord, "registry_log",
    first={"seq": (int | None, Field(default=None, primary_key=True))},
    columns={"data": _text(nullable=False)},
)  # fmt: skip

KBEntryRow = _table(
    KBEntryRecord, "kb_entries",
    columns={"id": Field(default=None, primary_key=True), "symptom": _text(nullable=False),
             "cause": _text(nullable=False), "fix": _text(nullable=False),
             "models": _text(nullable=False), "tickets": _text(nullable=False)},
    args=(Index("ix_kb_entries_state", "state"),),
)  # fmt: skip
KBLogRow = _table(
    KBLogRecord, "kb_log",
    first={"seq": (int | None, Field(default=None, primary_key=True))},
    columns={"data": _text(nullable=False)},
)  # fmt: skip
# The words of entries and of tickets, searched with the database's full-text engine: SQLite's
# FTS5 tables over these (kb_fts, ticket_fts, kept by triggers), PostgreSQL's GIN index of
# their tsvector (migration 0010). Rows have an integer ``n`` for FTS5's rowid.
KBTermsRow = _table(
    TermsRecord, "kb_terms",
    first={"n": (int | None, Field(default=None, primary_key=True))},
    columns={"key": Field(sa_column=Column(Text, nullable=False, unique=True)),
             "body": _text(nullable=False)},
    row="KBTermsRow",
)  # fmt: skip
TicketTermsRow = _table(
    TermsRecord, "ticket_terms",
    first={"n": (int | None, Field(default=None, primary_key=True))},
    columns={"key": Field(sa_column=Column(Text, nullable=False, unique=True)),
             "body": _text(nullable=False)},
    row="TicketTermsRow",
)  # fmt: skip


RoundRow = _table(
    RoundRecord, "rounds",
    columns={"id": Field(primary_key=True), "targets": _text(nullable=False),
             "checklist": _text(nullable=False), "answers": _text(nullable=False),
             "findings": _text(nullable=False), "reason": _text()},
    args=(
        # each round once: a racing planner's insert of the same plan and time does nothing
        UniqueConstraint("plan", "scheduled_us", name="uq_rounds_plan_scheduled"),
        Index("ix_rounds_scheduled", "scheduled_us"),
        # the sweep's question: which rounds still open are past their due time
        # (PostgreSQL gets the same partial index from migration 0011: naming postgresql_where
        # here would import that dialect on every start.)
        Index("ix_rounds_open_due", "due_us", sqlite_where=text("breached_us IS NULL AND "
              "state IN ('planned', 'running')")),
    ),
)  # fmt: skip
WindowRow = _table(
    WindowRecord, "maintenance",
    columns={"id": Field(default=None, primary_key=True), "reason": _text(nullable=False)},
    args=(Index("ix_maintenance_ends", "ends_us"),),
)  # fmt: skip
WindowLogRow = _table(
    WindowLogRecord, "maintenance_log",
    first={"seq": (int | None, Field(default=None, primary_key=True))},
    columns={"data": _text(nullable=False)},
)  # fmt: skip
WindowTicketRow = _table(
    WindowTicketRecord, "window_tickets",
    columns={"window_id": Field(primary_key=True), "ticket": Field(primary_key=True)},
)  # fmt: skip
FollowupRow = _table(
    FollowupRecord, "followups",
    columns={"ticket": Field(primary_key=True), "comment": _text()},
    args=(Index("ix_followups_due", "state", "due_us"), Index("ix_followups_at", "at_us")),
)  # fmt: skip
LinkRow = _table(
    LinkRecord, "links",
    columns={"ticket": Field(primary_key=True), "other": Field(primary_key=True)},
    args=(Index("ix_links_other", "other"),),
)  # fmt: skip
SpareRow = _table(
    SpareRecord, "spares",
    columns={"serial": Field(primary_key=True), "note": _text()},
    args=(Index("ix_spares_model", "model", "state"),),
)  # fmt: skip
SpareLogRow = _table(
    SpareLogRecord, "spare_log",
    first={"seq": (int | None, Field(default=None, primary_key=True))},
    columns={"data": _text(nullable=False)},
)  # fmt: skip
RoundLogRow = _table(
    RoundLogRecord, "round_log",
    first={"seq": (int | None, Field(default=None, primary_key=True))},
    columns={"data": _text(nullable=False)},
)  # fmt: skip


def _core(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


# The Core tables, typed, for statements (SQLModel does not declare ``__table__``).
TICKETS = _core(TicketRow)
EVENTS = _core(EventRow)
CLOCKS = _core(ClockRow)
OUTBOX = _core(OutboxRow)
OCCURRENCES = _core(OccurrenceRow)
DELIVERIES = _core(DeliveryRow)
TOKENS = _core(TokenRow)
OVERRIDES = _core(OverrideRow)
ESCALATIONS = _core(EscalationRow)
CONTRACTS = _core(ContractRow)
META = _core(MetaRow)
VENDORS = _core(VendorRow)
UNITS = _core(UnitRow)
SITES = _core(SiteRow)
LINES = _core(LineRow)
DEVICES = _core(DeviceRow)
REGISTRY_LOG = _core(RegistryLogRow)
KB_ENTRIES = _core(KBEntryRow)
KB_LOG = _core(KBLogRow)
KB_TERMS = _core(KBTermsRow)
TICKET_TERMS = _core(TicketTermsRow)
ROUNDS = _core(RoundRow)
ROUND_LOG = _core(RoundLogRow)
SPARES = _core(SpareRow)
SPARE_LOG = _core(SpareLogRow)
LINKS = _core(LinkRow)
FOLLOWUPS = _core(FollowupRow)
WINDOWS = _core(WindowRow)
WINDOW_TICKETS = _core(WindowTicketRow)
WINDOW_LOG = _core(WindowLogRow)
