"""The escalations table, read by the run loop (which chains have a step due) and by the duty
board (each ticket's chain and its pages). (A chain's row is read and moved inside a ticket's
transaction, beside the ticket's own statements: store.py.)"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from .records import EscalationRecord
from .store import Store
from .tables import ESCALATIONS, EVENTS


def due(store: Store, now_us: int, limit: int) -> list[str]:
    """Tickets with an escalation step due at or before ``now_us``, earliest first."""
    e = ESCALATIONS
    rows = store.query(
        select(e.c.ticket_id)
        .where(e.c.next_us.is_not(None), e.c.next_us <= now_us)
        .order_by(e.c.next_us)
        .limit(limit)
    )
    return [r[0] for r in rows]


def next_due(store: Store) -> int | None:
    """When the next escalation step falls due (µs), or ``None``."""
    e = ESCALATIONS
    value = store.query(select(func.min(e.c.next_us)))[0][0]
    return int(value) if value is not None else None


def paging(
    store: Store, ticket_ids: Sequence[str]
) -> dict[str, tuple[EscalationRecord, list[tuple[int, str, int, str, str]]]]:
    """The chain of each of ``ticket_ids`` that has one, with its pages, deliveries and acks
    (seq, trigger, at_us, actor, data JSON), oldest first: two statements for a whole board."""
    if not ticket_ids:
        return {}
    e, v = ESCALATIONS, EVENTS
    chains = {
        r[0]: EscalationRecord(*r)
        for r in store.query(select(*e.c).where(e.c.ticket_id.in_(list(ticket_ids))))
    }
    if not chains:
        return {}
    found: dict[str, tuple[EscalationRecord, list[tuple[int, str, int, str, str]]]] = {
        tid: (esc, []) for tid, esc in chains.items()
    }
    rows = store.query(
        select(v.c.ticket_id, v.c.seq, v.c.trigger, v.c.at_us, v.c.actor, v.c.data)
        .where(v.c.ticket_id.in_(list(chains)), v.c.trigger.in_(("page", "delivered", "ack")))
        .order_by(v.c.ticket_id, v.c.seq)
    )
    for tid, seq, trigger, at_us, actor, data in rows:
        found[tid][1].append((seq, trigger, at_us, actor, data))
    return found
