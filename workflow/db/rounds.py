"""The inspection rounds' tables: one row per plan and scheduled time, and the hash-chained
log of every change of a round. inspections/ decides what is written.

Each round exists once: its id is its plan and scheduled time, and the planner's insert does
nothing when a racing planner (or its own earlier pass, before a kill) made it already — so
planners may race and die at any statement, and make neither duplicates nor gaps (the next
pass plans from the last round each plan has).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .ledger import append, entries, first_broken
from .records import RoundLogRecord, RoundRecord
from .store import Store, Unit
from .tables import ROUND_LOG, ROUNDS

GENESIS = "faultflow:rounds"
FIELDS = RoundRecord._fields
OPEN = ("planned", "running")


@dataclass(frozen=True, slots=True)
class _Statements:
    plan: Any
    change: Any
    last: Any
    log: Any
    one: Any
    last_scheduled: Any
    overdue: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    r, lg = ROUNDS, ROUND_LOG
    maker = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    values: dict[str, Any] = {n: bindparam(n) for n in FIELDS}
    newer = r.c.version + literal_column("1") == bindparam("version")
    return _Statements(
        plan=statement(maker(r).values(values).on_conflict_do_nothing(), dialect),
        change=statement(
            update(r)
            .where(r.c.id == bindparam("id"), newer)
            .values({n: bindparam(n) for n in FIELDS if n != "id"}),
            dialect,
        ),
        last=statement(select(lg.c.hash).order_by(lg.c.seq.desc()).limit(1), dialect),
        log=statement(
            insert(lg).values({n: bindparam(n) for n in RoundLogRecord._fields}), dialect
        ),
        one=statement(select(*[r.c[n] for n in FIELDS]).where(r.c.id == bindparam("id")), dialect),
        last_scheduled=statement(
            select(r.c.plan, func.max(r.c.scheduled_us)).group_by(r.c.plan), dialect
        ),
        # the partial index's own terms, written out (not bound), so that SQLite can use it
        overdue=statement(
            select(r.c.id)
            .where(r.c.breached_us.is_(None))
            .where(r.c.state.in_([literal_column(f"'{s}'") for s in OPEN]))
            .where(r.c.due_us <= bindparam("now"))
            .order_by(r.c.due_us)
            .limit(bindparam("limit")),
            dialect,
        ),
    )


def _s(store: Store) -> _Statements:
    s: _Statements = store.compiled("rounds", _compile)
    return s


def plan(u: Unit, rounds: Sequence[RoundRecord]) -> int:
    """Insert the rounds not made yet (a round made already, by anyone, is left as it is);
    how many were new."""
    if not rounds:
        return 0
    s = _s(u.store)
    u.begin()
    u.cursor.executemany(s.plan.sql, [s.plan.params(r._asdict()) for r in rounds])
    return max(int(u.cursor.rowcount), 0)  # both drivers sum an executemany's rows


def last_scheduled(store: Store) -> dict[str, int]:
    """Each plan's last round made (µs of its scheduled time): where planning goes on."""
    return {str(p): int(at) for p, at in store.rows(_s(store).last_scheduled)}


def get(u: Unit, round_id: str) -> RoundRecord | None:
    row = u.run(_s(u.store).one, {"id": round_id}).fetchone()
    return RoundRecord(*row) if row else None


def change(u: Unit, new: RoundRecord, action: str, data: Any, actor: str, at_us: int) -> bool:
    """Write ``new`` (one version up from the stored one; ``False`` if someone else moved it
    meanwhile) and its log entry."""
    s = _s(u.store)
    if u.run(s.change, new._asdict()).rowcount != 1:
        return False
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    append(
        u,
        s.last,
        s.log,
        GENESIS,
        "round_log",
        {"round": new.id, "action": action, "data": text, "actor": actor, "at_us": at_us},
    )
    return True


def overdue(store: Store, now_us: int, limit: int) -> list[str]:
    """Rounds not done by their due time that no sweep has found yet, earliest first."""
    rows = store.rows(_s(store).overdue, {"now": now_us, "limit": limit})
    return [str(x[0]) for x in rows]


def next_due(store: Store) -> int | None:
    """When the next open round falls due (µs), or ``None``."""
    r = ROUNDS
    value = store.query(
        select(func.min(r.c.due_us)).where(r.c.breached_us.is_(None), r.c.state.in_(OPEN))
    )[0][0]
    return int(value) if value is not None else None


def listed(
    store: Store, start_us: int | None, end_us: int | None, plans: Sequence[str] | None = None,
    states: Sequence[str] | None = None, limit: int | None = None,
) -> list[RoundRecord]:  # fmt: skip
    """Rounds scheduled in [``start_us``, ``end_us``), in time order (of ``plans``, in
    ``states``, at most ``limit``)."""
    r = ROUNDS
    query = select(*[r.c[n] for n in FIELDS]).order_by(r.c.scheduled_us, r.c.plan)
    if start_us is not None:
        query = query.where(r.c.scheduled_us >= start_us)
    if end_us is not None:
        query = query.where(r.c.scheduled_us < end_us)
    if plans is not None:
        query = query.where(r.c.plan.in_(list(plans)))
    if states is not None:
        query = query.where(r.c.state.in_(list(states)))
    if limit is not None:
        query = query.limit(limit)
    return [RoundRecord(*row) for row in store.query(query)]


def history(store: Store, round_id: str) -> list[RoundLogRecord]:
    return entries(store, ROUND_LOG, RoundLogRecord, round=round_id)


def log(store: Store) -> list[RoundLogRecord]:
    return entries(store, ROUND_LOG, RoundLogRecord)


def broken_log(entries: Iterable[RoundLogRecord]) -> int | None:
    """The position (0-based) of the first log entry whose hash does not chain, or None."""
    return first_broken(GENESIS, entries)
