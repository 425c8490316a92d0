"""The follow-ups' table (回访): one row per reported ticket. followup/ decides what is written;
the row of a ticket that closes is written in that ticket's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .records import FollowupRecord
from .store import Store, Unit
from .tables import FOLLOWUPS

FIELDS = FollowupRecord._fields


@dataclass(frozen=True, slots=True)
class _Statements:
    add: Any
    change: Any
    one: Any
    overdue: Any
    unreviewed: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    f = FOLLOWUPS
    maker = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    newer = f.c.version + literal_column("1") == bindparam("version")
    return _Statements(
        add=statement(
            maker(f).values({n: bindparam(n) for n in FIELDS}).on_conflict_do_nothing(), dialect
        ),
        change=statement(
            update(f)
            .where(f.c.ticket == bindparam("ticket"), newer)
            .values({n: bindparam(n) for n in FIELDS if n != "ticket"}),
            dialect,
        ),
        one=statement(
            select(*[f.c[n] for n in FIELDS]).where(f.c.ticket == bindparam("t")), dialect
        ),
        overdue=statement(
            select(f.c.ticket).where(f.c.state == "due", f.c.due_us < bindparam("now"))
            .order_by(f.c.due_us).limit(bindparam("limit")),
            dialect,
        ),
        unreviewed=statement(
            select(f.c.ticket).where(
                f.c.state == "done", f.c.rating <= bindparam("threshold"), f.c.review.is_(None)
            ),
            dialect,
        ),
    )  # fmt: skip


def _s(store: Store) -> _Statements:
    found: _Statements = store.compiled("followups", _compile)
    return found


def add(u: Unit, row: FollowupRecord) -> None:
    """Make a ticket's follow-up, once (a ticket closed again keeps its first)."""
    u.run(_s(u.store).add, row._asdict())


def get(u: Unit, ticket: str) -> FollowupRecord | None:
    found = u.run(_s(u.store).one, {"t": ticket}).fetchone()
    return FollowupRecord(*found) if found else None


def change(u: Unit, row: FollowupRecord) -> bool:
    """Write ``row`` (one version up); ``False`` if someone changed it meanwhile."""
    return bool(u.run(_s(u.store).change, row._asdict()).rowcount == 1)


def listed(
    store: Store, states: Sequence[str] | None = None, limit: int = 500
) -> list[FollowupRecord]:
    """The follow-ups in ``states`` (all: None), the soonest due first."""
    f = FOLLOWUPS
    query = select(*[f.c[n] for n in FIELDS]).order_by(f.c.due_us, f.c.ticket).limit(limit)
    if states is not None:
        query = query.where(f.c.state.in_(list(states)))
    return [FollowupRecord(*r) for r in store.query(query)]


def overdue(store: Store, now_us: int, limit: int = 500) -> list[str]:
    """The tickets whose follow-up is due and past its time."""
    return [r[0] for r in store.rows(_s(store).overdue, {"now": now_us, "limit": limit})]


def unreviewed(store: Store, threshold: int) -> list[str]:
    """The tickets rated at or below ``threshold`` whose review ticket was not opened yet."""
    return [r[0] for r in store.rows(_s(store).unreviewed, {"threshold": threshold})]


def next_due(store: Store) -> int | None:
    """When the next follow-up falls due (µs), or ``None``."""
    f = FOLLOWUPS
    found = store.query(select(func.min(f.c.due_us)).where(f.c.state == "due"))[0][0]
    return int(found) if found is not None else None


def in_period(
    store: Store, start_us: int, end_us: int, unit: str | None = None
) -> list[FollowupRecord]:
    """The follow-ups of tickets reported in [start_us, end_us) (their creation), of ``unit``
    only if given."""
    f = FOLLOWUPS
    query = select(*[f.c[n] for n in FIELDS]).where(
        f.c.created_us >= start_us, f.c.created_us < end_us
    )
    if unit is not None:
        query = query.where(f.c.unit == unit)
    return [FollowupRecord(*r) for r in store.query(query)]
