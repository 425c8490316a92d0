"""What a monitoring system asks of the database: counts, read in a few GROUP BYs (for
``GET /metrics`` and ``GET /readyz``). Nothing here is per ticket."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, cast, func, select

from ..contract.model import Contract
from ..db.store import Store
from ..db.tables import CLOCKS, DELIVERIES, OUTBOX, TICKETS


@dataclass(frozen=True)
class Census:
    """Counts as of one moment."""

    open_tickets: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, tier)
    alarms: dict[tuple[str, str], int] = field(default_factory=dict)  # (clock, warning|breach)
    notifications_pending: int = 0
    delivery_failures: int = 0  # failed attempts, ever
    next_due_us: int | None = None


def take(store: Store, contract: Contract) -> Census:
    t, c, o, d = TICKETS, CLOCKS, OUTBOX, DELIVERIES
    finals = sorted(contract.finals)
    opened = {
        (state, tier): int(n)
        for state, tier, n in store.query(
            select(t.c.state, t.c.tier, func.count())
            .where(t.c.state.not_in(finals))
            .group_by(t.c.state, t.c.tier)
        )
    }
    alarms: dict[tuple[str, str], int] = {}
    for name, warned, breached in store.query(
        select(
            c.c.name, func.sum(cast(c.c.warned, Integer)), func.sum(cast(c.c.breach_fired, Integer))
        ).group_by(c.c.name)
    ):
        alarms[(name, "warning")] = int(warned or 0)
        alarms[(name, "breach")] = int(breached or 0)
    pending = store.query(select(func.count()).select_from(o).where(~o.c.done))[0][0]
    failed = store.query(select(func.count()).select_from(d).where(~d.c.ok))[0][0]
    return Census(opened, alarms, int(pending), int(failed), store.next_due())
