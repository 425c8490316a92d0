"""The outbox and deliveries tables: every statement that reads or writes them.

A notification is written to ``outbox`` in the transaction of its event (the ticket's write, in
store.py); delivery (run/delivery.py) claims it with a lease, records each attempt in
``deliveries`` and settles it. Monitoring (reports/census.py) counts both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, case, cast, func, insert, select, update

from .store import Store
from .tables import DELIVERIES, OUTBOX


@dataclass(frozen=True, slots=True)
class _Statements:
    claim: Any
    tried: Any
    attempt: Any
    settle: Any
    due: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    o, dl = OUTBOX, DELIVERIES
    refused = case((dl.c.error.startswith(bindparam("refused_prefix")), 1), else_=0)
    names = ("outbox_id", "notifier", "attempt", "at_us", "ok", "error")
    return _Statements(
        claim=statement(
            update(o)
            .where(
                o.c.id == bindparam("id"),
                o.c.next_attempt_us == bindparam("seen"),
                o.c.done.is_(False),
            )
            .values(next_attempt_us=bindparam("lease")),
            dialect,
        ),
        tried=statement(
            select(dl.c.notifier, func.count(), func.max(cast(dl.c.ok, Integer)), func.max(refused))
            .where(dl.c.outbox_id == bindparam("id"))
            .group_by(dl.c.notifier),
            dialect,
        ),
        attempt=statement(insert(dl).values({n: bindparam(n) for n in names}), dialect),
        settle=statement(
            update(o)
            .where(o.c.id == bindparam("id"))
            .values(done=bindparam("done"), next_attempt_us=bindparam("next_attempt_us")),
            dialect,
        ),
        due=statement(
            select(o.c.id, o.c.ticket_id, o.c.kind, o.c.payload, o.c.next_attempt_us)
            .where(o.c.done.is_(False), o.c.next_attempt_us <= bindparam("now"))
            .order_by(_priority(), o.c.next_attempt_us, o.c.id)
            .limit(bindparam("limit")),
            dialect,
        ),
    )


PRIORITY = {"breach": 0, "escalation": 0, "warning": 1}
"""The order the outbox drains in: breaches and escalations first, then warnings, then the
rest (transitions); oldest first within each."""


def _priority() -> Any:
    return case(
        *((OUTBOX.c.kind == kind, rank) for kind, rank in PRIORITY.items()),
        else_=len(set(PRIORITY.values())),
    )


def due(store: Store, now_us: int, limit: int) -> list[tuple[int, str, str, str, int]]:
    """The notifications due at ``now_us`` (id, ticket, kind, payload, next attempt), most
    urgent first (:data:`PRIORITY`), at most ``limit``."""
    s: _Statements = store.compiled("outbox", _compile)
    rows = store.rows(s.due, {"now": now_us, "limit": limit})
    return [(int(i), str(t), str(k), str(p), int(n)) for i, t, k, p, n in rows]


def waiting(
    store: Store, notifier: str, kinds: frozenset[str], now_us: int, limit: int
) -> list[tuple[int, str, str, str, int]]:
    """Notifications due at ``now_us`` of ``kinds`` that ``notifier`` has not delivered yet
    (what a coalescing notifier's digest gathers), most urgent first."""
    o, dl = OUTBOX, DELIVERIES
    sent = (
        select(dl.c.id)
        .where(dl.c.outbox_id == o.c.id, dl.c.notifier == notifier, dl.c.ok.is_(True))
        .exists()
    )
    rows = store.query(
        select(o.c.id, o.c.ticket_id, o.c.kind, o.c.payload, o.c.next_attempt_us)
        .where(
            o.c.done.is_(False),
            o.c.next_attempt_us <= now_us,
            o.c.kind.in_(sorted(kinds)),
            ~sent,
        )
        .order_by(_priority(), o.c.next_attempt_us, o.c.id)
        .limit(limit)
    )
    return [(int(i), str(t), str(k), str(p), int(n)) for i, t, k, p, n in rows]


def last_sent(store: Store, notifier: str) -> int | None:
    """When ``notifier`` last delivered a message (µs), or ``None``."""
    dl = DELIVERIES
    value = store.query(
        select(func.max(dl.c.at_us)).where(dl.c.notifier == notifier, dl.c.ok.is_(True))
    )[0][0]
    return int(value) if value is not None else None


def claim(
    store: Store, outbox_id: int, seen: int, lease_until: int, refused_prefix: str
) -> list[tuple[str, int, bool, bool]] | None:
    """Lease a notification for delivery (``None``: another deliverer has it), with each
    notifier's attempts so far: (notifier, count, delivered, refused for good)."""
    s: _Statements = store.compiled("outbox", _compile)
    with store.unit() as u:
        claimed = u.run(s.claim, {"id": outbox_id, "seen": seen, "lease": lease_until})
        if claimed.rowcount != 1:
            return None
        rows = u.run(s.tried, {"id": outbox_id, "refused_prefix": refused_prefix}).fetchall()
    return [(name, int(n), bool(ok), bool(no)) for name, n, ok, no in rows]


def settle(
    store: Store,
    outbox_id: int,
    attempts: list[tuple[str, int, int, str | None]],
    done: bool,
    next_attempt_us: int,
) -> None:
    """Record a notification's attempts (notifier, attempt, at, error) and what follows:
    delivered to all (``done``), or the next attempt's time."""
    s: _Statements = store.compiled("outbox", _compile)
    with store.unit() as u:
        for notifier, attempt, at_us, error in attempts:
            values = {
                "outbox_id": outbox_id, "notifier": notifier, "attempt": attempt,
                "at_us": at_us, "ok": error is None, "error": error,
            }  # fmt: skip
            u.run(s.attempt, values)
        u.run(s.settle, {"id": outbox_id, "done": done, "next_attempt_us": next_attempt_us})


def pending(store: Store) -> int:
    """How many notifications wait to be delivered."""
    return int(store.query(select(func.count()).where(OUTBOX.c.done.is_(False)))[0][0])


def failures(store: Store) -> int:
    """How many delivery attempts failed, ever."""
    d = DELIVERIES
    return int(store.query(select(func.count()).where(d.c.ok.is_(False)))[0][0])
