"""The spares' tables: one row per spare part, and the hash-chained log of its movements.
spares/ decides what is written; every write takes the caller's open unit of work, so that a
spare taken for a ticket is taken in that ticket's own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update

from .ledger import append, entries, first_broken
from .records import SpareLogRecord, SpareRecord
from .store import Store, Unit
from .tables import SPARE_LOG, SPARES

GENESIS = "faultflow:spares"
FIELDS = SpareRecord._fields


@dataclass(frozen=True, slots=True)
class _Statements:
    add: Any
    change: Any
    last: Any
    log: Any
    one: Any
    stock: Any
    held: Any


def _compile(statement: Any, dialect: Any) -> _Statements:
    s, lg = SPARES, SPARE_LOG
    newer = s.c.version + literal_column("1") == bindparam("version")
    return _Statements(
        add=statement(insert(s).values({n: bindparam(n) for n in FIELDS}), dialect),
        change=statement(
            update(s)
            .where(s.c.serial == bindparam("serial"), newer)
            .values({n: bindparam(n) for n in FIELDS if n != "serial"}),
            dialect,
        ),
        last=statement(select(lg.c.hash).order_by(lg.c.seq.desc()).limit(1), dialect),
        log=statement(
            insert(lg).values({n: bindparam(n) for n in SpareLogRecord._fields}), dialect
        ),
        one=statement(
            select(*[s.c[n] for n in FIELDS]).where(s.c.serial == bindparam("serial")), dialect
        ),
        stock=statement(
            select(*[s.c[n] for n in FIELDS])
            .where(s.c.model == bindparam("model"), s.c.state == "in_stock")
            .order_by(s.c.location, s.c.serial),
            dialect,
        ),
        held=statement(
            select(*[s.c[n] for n in FIELDS])
            .where(s.c.ticket == bindparam("ticket"), s.c.state == "reserved")
            .order_by(s.c.serial),
            dialect,
        ),
    )


def _s(store: Store) -> _Statements:
    found: _Statements = store.compiled("spares", _compile)
    return found


def _logged(u: Unit, spare: SpareRecord, action: str, data: dict[str, Any]) -> None:
    text = json.dumps({**spare._asdict(), **data}, ensure_ascii=False, sort_keys=True)
    said = {"serial": spare.serial, "action": action, "data": text, "actor": spare.changed_by,
            "at_us": spare.changed_us}  # fmt: skip
    s = _s(u.store)
    append(u, s.last, s.log, GENESIS, "spare_log", said)


def get(u: Unit, serial: str) -> SpareRecord | None:
    row = u.run(_s(u.store).one, {"serial": serial}).fetchone()
    return SpareRecord(*row) if row else None


def add(u: Unit, spare: SpareRecord) -> bool:
    """Insert a new spare and its log entry; ``False`` if the serial is taken."""
    if get(u, spare.serial) is not None:
        return False
    u.run(_s(u.store).add, spare._asdict())
    _logged(u, spare, "added", {})
    return True


def change(u: Unit, spare: SpareRecord, action: str, data: dict[str, Any] | None = None) -> bool:
    """Write ``spare`` (one version up from the stored one; ``False`` if someone else moved it
    meanwhile) and its log entry."""
    if u.run(_s(u.store).change, spare._asdict()).rowcount != 1:
        return False
    _logged(u, spare, action, data or {})
    return True


def any_kept(store: Store) -> bool:
    """Whether the stock is kept at all (a spare was ever registered)."""
    return bool(store.query(select(SPARES.c.serial).limit(1)))


def in_stock(u: Unit, model: str) -> list[SpareRecord]:
    """The spares of ``model`` in stock, inside the caller's transaction."""
    return [SpareRecord(*r) for r in u.run(_s(u.store).stock, {"model": model}).fetchall()]


def reserved_for(u: Unit, ticket: str) -> list[SpareRecord]:
    """The spares reserved ahead for ``ticket`` (its dispatch), inside the caller's
    transaction."""
    return [SpareRecord(*r) for r in u.run(_s(u.store).held, {"ticket": ticket}).fetchall()]


def listed(
    store: Store, model: str | None = None, states: Sequence[str] | None = None,
    location: str | None = None,
) -> list[SpareRecord]:  # fmt: skip
    s = SPARES
    query = select(*[s.c[n] for n in FIELDS]).order_by(s.c.model, s.c.location, s.c.serial)
    if model is not None:
        query = query.where(s.c.model == model)
    if states is not None:
        query = query.where(s.c.state.in_(list(states)))
    if location is not None:
        query = query.where(s.c.location == location)
    return [SpareRecord(*r) for r in store.query(query)]


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Spares by model and state."""
    s = SPARES
    out: dict[str, dict[str, int]] = {}
    for model, state, n in store.query(
        select(s.c.model, s.c.state, func.count()).group_by(s.c.model, s.c.state)
    ):
        out.setdefault(str(model), {})[str(state)] = int(n)
    return out


def history(store: Store, serial: str) -> list[SpareLogRecord]:
    return entries(store, SPARE_LOG, SpareLogRecord, serial=serial)


def log(store: Store) -> list[SpareLogRecord]:
    return entries(store, SPARE_LOG, SpareLogRecord)


def broken_log(log_entries: Iterable[SpareLogRecord]) -> int | None:
    """The position (0-based) of the first log entry whose hash does not chain, or None."""
    return first_broken(GENESIS, log_entries)
