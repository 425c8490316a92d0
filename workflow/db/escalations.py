"""The escalations table, read by the run loop: which chains have a step due. (A chain's row is
read and moved inside a ticket's transaction, beside the ticket's own statements: store.py.)"""

from __future__ import annotations

from sqlalchemy import func, select

from .store import Store
from .tables import ESCALATIONS


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
