"""Each record is declared once (records.py); tables, hashes and views derive from it."""

from __future__ import annotations

from typing import Any

from faultflow.audit.chain import chain, genesis
from faultflow.db.records import (
    HASH_EXEMPT,
    HASHED,
    ClockRecord,
    EventRecord,
    OutboxRecord,
    TicketRecord,
)
from faultflow.db.tables import CLOCKS, EVENTS, OUTBOX, TICKETS
from faultflow.tickets.views import Event, Ticket
from hypothesis import given
from hypothesis import strategies as st


def test_every_stored_event_field_is_hashed_or_explicitly_exempt() -> None:
    stored = [c.name for c in EVENTS.columns]
    assert set(HASH_EXEMPT) <= set(stored)
    for name in stored:
        assert name in HASHED or name in HASH_EXEMPT, f"events.{name} is stored unhashed"


def test_the_tables_are_the_records() -> None:
    for table, record in (
        (TICKETS, TicketRecord),
        (EVENTS, EventRecord),
        (CLOCKS, ClockRecord),
    ):
        assert [c.name for c in table.columns] == list(record._fields)
    # the outbox has its own autoincrement id beside the record's fields
    assert [c.name for c in OUTBOX.columns] == ["id", *OutboxRecord._fields]


EVENT = EventRecord(
    ticket_id="7K3Q9XM",
    seq=2,
    trigger="respond",
    from_state="received",
    to_state="responded",
    at_us=1_000_000,
    recorded_us=2_000_000,
    actor="li",
    note="called back",
    reason=None,
    data="{}",
    hash="",
)


def _other(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    return value + "!"


@given(st.sampled_from(HASHED))
def test_changing_any_hashed_field_changes_the_hash(name: str) -> None:
    prev = genesis(EVENT.ticket_id)
    edited = EVENT._replace(**{name: _other(getattr(EVENT, name))})
    assert chain(prev, edited) != chain(prev, EVENT)


def test_the_views_carry_their_records_fields() -> None:
    shared_ticket = set(Ticket.__dataclass_fields__) & set(TicketRecord._fields)
    assert shared_ticket >= {"id", "state", "tier", "owner", "title", "version", "on_hold"}
    shared_event = set(Event.__dataclass_fields__) & set(EventRecord._fields)
    assert shared_event >= {"ticket_id", "seq", "trigger", "actor", "note", "hash", "data"}
