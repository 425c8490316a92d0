"""The maintenance windows' tables: one row per window, and the tickets each touched (opened as
planned during it, or whose escalation it paused). maintenance/ decides what is written; a
ticket's row here is written in that ticket's own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .ledger import append, entries, first_broken
from .records import PLACES, WindowLogRecord, WindowRecord, WindowTicketRecord
from .store import Store, Unit
from .tables import ESCALATIONS, TICKETS, WINDOW_LOG, WINDOW_TICKETS, WINDOWS

GENESIS = "faultflow:maintenance"
FIELDS = WindowRecord._fields


@dataclass(frozen=True, slots=True)
class _Statements:
    add: Any
    change: Any
    one: Any
    active: Any
    mark: Any
    touched: Any
    chains: dict[str, Any]
    last: Any
    log: Any
    begun: Any
    over: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    w, wt, t, e = WINDOWS, WINDOW_TICKETS, TICKETS, ESCALATIONS
    maker = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    columns = [w.c[n] for n in FIELDS]
    newer = w.c.version + literal_column("1") == bindparam("version")
    at: Any = bindparam("at")
    # the open tickets with a chain running, at one part of the network (or anywhere)
    running = select(e.c.ticket_id).select_from(e.join(t, t.c.id == e.c.ticket_id))
    running = running.where(e.c.status == "running", t.c.urgent_us.is_not(None))
    chains = {part: statement(running.where(t.c[part] == bindparam("code")), dialect)
              for part in PLACES}  # fmt: skip
    chains["all"] = statement(running, dialect)
    return _Statements(
        add=statement(
            insert(w).values({n: bindparam(n) for n in FIELDS if n != "id"}).returning(w.c.id),
            dialect,
        ),
        change=statement(
            update(w)
            .where(w.c.id == bindparam("id"), newer)
            .values({n: bindparam(n) for n in FIELDS if n != "id"}),
            dialect,
        ),
        one=statement(select(*columns).where(w.c.id == bindparam("id")), dialect),
        active=statement(
            select(*columns).where(w.c.state == "scheduled", w.c.starts_us <= at, w.c.ends_us > at),
            dialect,
        ),
        mark=statement(
            maker(wt)
            .values({n: bindparam(n) for n in WindowTicketRecord._fields})
            .on_conflict_do_nothing(),
            dialect,
        ),
        touched=statement(
            select(wt.c.ticket, wt.c.why)
            .where(wt.c.window_id == bindparam("id"))
            .order_by(wt.c.ticket),
            dialect,
        ),
        chains=chains,
        last=statement(
            select(WINDOW_LOG.c.hash).order_by(WINDOW_LOG.c.seq.desc()).limit(1), dialect
        ),
        log=statement(
            insert(WINDOW_LOG).values({n: bindparam(n) for n in WindowLogRecord._fields}),
            dialect,
        ),
        begun=statement(
            select(*columns)
            .where(w.c.state == "scheduled", w.c.starts_us <= at, w.c.begun_us.is_(None))
            .order_by(w.c.starts_us),
            dialect,
        ),
        over=statement(
            select(*columns)
            .where(w.c.state == "scheduled", w.c.ends_us <= at, w.c.ended_us.is_(None))
            .order_by(w.c.ends_us),
            dialect,
        ),
    )


def _s(store: Store) -> _Statements:
    found: _Statements = store.compiled("maintenance", _compile)
    return found


def _logged(u: Unit, window: WindowRecord, action: str, actor: str, at_us: int) -> None:
    text = json.dumps(window._asdict(), ensure_ascii=False, sort_keys=True)
    said = {"window_id": window.id, "action": action, "data": text, "actor": actor,
            "at_us": at_us}  # fmt: skip
    s = _s(u.store)
    append(u, s.last, s.log, GENESIS, "maintenance_log", said)


def add(u: Unit, window: WindowRecord) -> WindowRecord:
    """Insert a new window (its ``id`` is the database's) and its log entry."""
    values = window._asdict()
    del values["id"]
    made = window._replace(id=int(u.run(_s(u.store).add, values).fetchone()[0]))
    _logged(u, made, "scheduled", made.created_by, made.created_us)
    return made


def change(u: Unit, window: WindowRecord, action: str, actor: str, at_us: int) -> bool:
    """Write ``window`` (one version up from the stored one) and its log entry; ``False`` if
    it moved meanwhile."""
    if u.run(_s(u.store).change, window._asdict()).rowcount != 1:
        return False
    _logged(u, window, action, actor, at_us)
    return True


def log(store: Store) -> list[WindowLogRecord]:
    return entries(store, WINDOW_LOG, WindowLogRecord)


def broken_log(log_entries: Iterable[WindowLogRecord]) -> int | None:
    """The position (0-based) of the first log entry whose hash does not chain, or None."""
    return first_broken(GENESIS, log_entries)


def get(u: Unit, window_id: int) -> WindowRecord | None:
    row = u.run(_s(u.store).one, {"id": window_id}).fetchone()
    return WindowRecord(*row) if row else None


def active(u: Unit, at_us: int) -> list[WindowRecord]:
    """The windows going on at ``at_us`` (scheduled, started, not over)."""
    return [WindowRecord(*r) for r in u.run(_s(u.store).active, {"at": at_us}).fetchall()]


def mark(u: Unit, window_id: int, ticket: str, why: str) -> None:
    """Note that ``window_id`` touched ``ticket`` (``planned`` or ``paused``), once."""
    u.run(_s(u.store).mark, {"window_id": window_id, "ticket": ticket, "why": why})


def touched(u: Unit, window_id: int) -> list[tuple[str, str]]:
    """The tickets a window touched, and how: (ticket, planned | paused)."""
    return [(r[0], r[1]) for r in u.run(_s(u.store).touched, {"id": window_id}).fetchall()]


def chains_at(u: Unit, kind: str, code: str) -> list[str]:
    """The open tickets at ``code`` (a part ``kind`` of :data:`PLACES`, or ``all``) whose
    escalation chain is running."""
    stmt = _s(u.store).chains[kind]
    return [r[0] for r in u.run(stmt, {} if kind == "all" else {"code": code}).fetchall()]


def listed(
    store: Store, start_us: int | None = None, end_us: int | None = None,
    states: Sequence[str] | None = None,
) -> list[WindowRecord]:  # fmt: skip
    """The windows that meet [``start_us``, ``end_us``) (either end open), soonest first."""
    w = WINDOWS
    query = select(*[w.c[n] for n in FIELDS]).order_by(w.c.starts_us, w.c.id)
    if start_us is not None:
        query = query.where(w.c.ends_us > start_us)
    if end_us is not None:
        query = query.where(w.c.starts_us < end_us)
    if states is not None:
        query = query.where(w.c.state.in_(list(states)))
    return [WindowRecord(*r) for r in store.query(query)]


def due(store: Store, now_us: int) -> tuple[list[WindowRecord], list[WindowRecord]]:
    """The scheduled windows that have begun but the scheduler has not seen begin, and those
    that are over but it has not seen end."""
    s = _s(store)
    begun, over = store.rows(s.begun, {"at": now_us}), store.rows(s.over, {"at": now_us})
    return [WindowRecord._make(r) for r in begun], [WindowRecord._make(r) for r in over]


def next_change(store: Store, now_us: int) -> int | None:
    """When the next scheduled window begins or ends after ``now_us`` (the scheduler's wake)."""
    w = WINDOWS
    soonest = None
    for column, seen in ((w.c.starts_us, w.c.begun_us), (w.c.ends_us, w.c.ended_us)):
        found = store.query(
            select(column).where(w.c.state == "scheduled", seen.is_(None), column > now_us)
            .order_by(column).limit(1)
        )  # fmt: skip
        if found and (soonest is None or found[0][0] < soonest):
            soonest = int(found[0][0])
    return soonest
