"""The links table (tickets said to be duplicates of, related to or caused by others) and the
statements over the tickets table that a group of reports needs: its reports' intake times,
and the open tickets at a place that a new report may belong to (kept here, with the group's
index). tickets/groups.py decides what is written; every write takes the caller's open unit
of work, so that a link is written in the transaction of the events that record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select

from .records import PLACES, LinkRecord
from .store import Store, Unit
from .tables import LINKS, TICKETS

FIELDS = LinkRecord._fields
CANDIDATES = 5
"""How many open tickets at a place an intake offers at most."""


@dataclass(frozen=True, slots=True)
class _Statements:
    add: Any
    drop: Any
    of: Any
    pair: Any
    created: Any
    near: dict[str, Any]


def _compile(statement: Any, dialect: Any) -> _Statements:
    k, t = LINKS, TICKETS
    a: Any = bindparam("a")
    b: Any = bindparam("b")
    both = or_(and_(k.c.ticket == a, k.c.other == b), and_(k.c.ticket == b, k.c.other == a))
    # The open tickets at one place opened since a moment, newest first: along the place's
    # index (unit/device, created_us), open ones only (``urgent_us`` is NULL once final).
    near = {
        part: statement(
            select(t.c.id, t.c.parent, t.c.created_us, t.c.channel, t.c.title, t.c.state)
            .where(
                t.c[part] == bindparam("code"),
                t.c.created_us >= bindparam("since"),
                t.c.urgent_us.is_not(None),
            )
            .order_by(t.c.created_us.desc())
            .limit(CANDIDATES + 1),
            dialect,
        )
        for part in PLACES
    }
    return _Statements(
        add=statement(insert(k).values({n: bindparam(n) for n in FIELDS}), dialect),
        drop=statement(delete(k).where(both), dialect),
        of=statement(
            select(*[k.c[n] for n in FIELDS])
            .where(or_(k.c.ticket == a, k.c.other == a))
            .order_by(k.c.created_us),
            dialect,
        ),
        pair=statement(select(*[k.c[n] for n in FIELDS]).where(both), dialect),
        created=statement(
            select(t.c.id, t.c.created_us).where(t.c.parent == bindparam("parent")), dialect
        ),
        near=near,
    )


def _s(store: Store) -> _Statements:
    found: _Statements = store.compiled("links", _compile)
    return found


def pair(u: Unit, a: str, b: str) -> LinkRecord | None:
    """The link between ``a`` and ``b``, whichever way it was said."""
    row = u.run(_s(u.store).pair, {"a": a, "b": b}).fetchone()
    return LinkRecord(*row) if row else None


def add(u: Unit, link: LinkRecord) -> None:
    u.run(_s(u.store).add, link._asdict())


def drop(u: Unit, a: str, b: str) -> None:
    u.run(_s(u.store).drop, {"a": a, "b": b})


def of(store: Store, ticket: str) -> list[LinkRecord]:
    """Every link of ``ticket``, either way, oldest first."""
    with store.unit() as u:
        return [LinkRecord(*r) for r in u.run(_s(store).of, {"a": ticket}).fetchall()]


def created(u: Unit, parent: str) -> dict[str, int]:
    """When each ticket of ``parent``'s group (the parent too) was reported, by id."""
    return dict(u.run(_s(u.store).created, {"parent": parent}).fetchall())


def near(u: Unit, part: str, code: str, since_us: int) -> list[tuple[Any, ...]]:
    """The open tickets at ``code`` (``part``: one of ``PLACES``) reported since ``since_us``,
    newest first, at most :data:`CANDIDATES` + 1: (id, parent, created_us, channel, title,
    state)."""
    return [tuple(r) for r in u.run(_s(u.store).near[part], {"code": code, "since": since_us})]
