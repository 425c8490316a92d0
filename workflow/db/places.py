"""The tickets by where they are: which units are down now (their open tickets of the tiers
that stop a unit's business) and the tickets of a unit, site, line or device — the statements
over the tickets table that ``faultflow status`` and ``units show`` ask for, kept with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from .store import Store
from .tables import EVENTS, TICKETS


def down(store: Store, tiers: Sequence[str], restored: Sequence[str]) -> Sequence[Any]:
    """(unit, ticket id, created_us) of every open ticket of ``tiers`` that is placed and not
    in one of the ``restored`` states (fixed, or a spare in place, not yet reported), in no
    particular order. Open tickets are those in the urgency index (``urgent_us`` set), read
    along it: the read grows with what is open, not with the history (ordered by unit, the
    planner would walk the unit index over every ticket ever placed)."""
    t = TICKETS
    return store.query(
        select(t.c.unit, t.c.id, t.c.created_us)
        .where(
            t.c.urgent_us.is_not(None),
            t.c.unit.is_not(None),
            t.c.tier.in_(list(tiers)),
            t.c.state.not_in(list(restored)),
        )
        .order_by(t.c.urgent_us)
    )


def placed(store: Store, part: str, code: str, limit: int) -> Sequence[Any]:
    """The latest ``limit`` tickets at ``code`` (``part``: unit, site, line or device), newest
    first: id, state, tier, title, created_us, last_us and whether it is open."""
    t = TICKETS
    return store.query(
        select(
            t.c.id,
            t.c.state,
            t.c.tier,
            t.c.title,
            t.c.created_us,
            t.c.last_us,
            t.c.urgent_us.is_not(None),
        )
        .where(t.c[part] == code)
        .order_by(t.c.created_us.desc(), t.c.id.desc())
        .limit(limit)
    )


def restored(store: Store, ids: Sequence[str], states: Sequence[str]) -> dict[str, int]:
    """When each of the tickets ``ids`` first reached one of ``states`` (the fault dealt with:
    resolved, or a spare in place), by ticket id."""
    e = EVENTS
    if not ids or not states:
        return {}
    rows = store.query(
        select(e.c.ticket_id, func.min(e.c.at_us))
        .where(
            e.c.ticket_id.in_(list(ids)),
            e.c.to_state.in_(list(states)),
            e.c.from_state != e.c.to_state,
        )
        .group_by(e.c.ticket_id)
    )
    return {tid: at for tid, at in rows}


def count(store: Store, part: str, code: str) -> int:
    """How many tickets (open or closed) are at ``code`` (``part``: unit, site, line, device)."""
    t = TICKETS
    return int(store.query(select(func.count()).where(t.c[part] == code))[0][0])
