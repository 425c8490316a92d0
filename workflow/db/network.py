"""The registry's tables (vendors, units, sites, lines, devices) and the hash-chained log of
their changes: reading them, and writing a whole set of changes in one transaction (network/
decides what is written)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Table, delete, func, insert, select, update

from .ledger import chained, first_broken, last_seq
from .records import (
    DeviceRecord,
    LineRecord,
    RegistryLogRecord,
    SiteRecord,
    UnitRecord,
    VendorRecord,
)
from .store import Store, chain_lock
from .tables import DEVICES, LINES, REGISTRY_LOG, SITES, UNITS, VENDORS

TABLES: dict[str, tuple[Table, type[Any], str]] = {
    "vendors": (VENDORS, VendorRecord, "code"),
    "units": (UNITS, UnitRecord, "code"),
    "sites": (SITES, SiteRecord, "code"),
    "lines": (LINES, LineRecord, "code"),
    "devices": (DEVICES, DeviceRecord, "serial"),
}
REFERS = {"units": ("sites", "lines", "devices"), "sites": ("lines", "devices"),
          "vendors": ("devices",)}  # fmt: skip
"""Which kinds name an entry of a kind (a unit is named by its sites, lines and devices)."""

STAMP = ("archived_us", "changed_us", "changed_by")
Known = dict[str, dict[str, dict[str, Any]]]
"""Entries by kind and key."""
GENESIS = hashlib.sha256(b"faultflow:registry").hexdigest()


def _values(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    if "contacts" in out:
        out["contacts"] = json.loads(out["contacts"] or "[]")
    return out


def everything(store: Store, archived: bool = True, kinds: Iterable[str] | None = None) -> Known:
    """Every entry of every kind (or of ``kinds``), by kind and key (``archived``: the archived
    ones too)."""
    out: Known = {}
    wanted = set(TABLES if kinds is None else kinds)
    for kind, (table, _, key) in TABLES.items():
        if kind not in wanted:
            continue
        query = select(table).order_by(table.c[key])
        if not archived:
            query = query.where(table.c.archived_us.is_(None))
        out[kind] = {r._mapping[key]: _values(r) for r in store.query(query)}
    return out


def listed(store: Store, kind: str, archived: bool = False, **where: str) -> list[dict[str, Any]]:
    """The entries of ``kind`` by key (``where``: equal fields, e.g. ``unit="CG01"``)."""
    table, _, key = TABLES[kind]
    query = select(table).order_by(table.c[key])
    if not archived:
        query = query.where(table.c.archived_us.is_(None))
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    return [_values(r) for r in store.query(query)]


def get(store: Store, kind: str, code: str) -> dict[str, Any] | None:
    table, _, key = TABLES[kind]
    found = store.query(select(table).where(table.c[key] == code))
    return _values(found[0]) if found else None


def names(store: Store, kind: str, codes: Iterable[str]) -> dict[str, str]:
    """The names of the entries ``codes`` of ``kind`` (archived too), by code."""
    table, _, key = TABLES[kind]
    wanted = sorted(set(codes))
    out: dict[str, str] = {}
    for i in range(0, len(wanted), 500):  # bounded IN lists
        query = select(table.c[key], table.c.name).where(table.c[key].in_(wanted[i : i + 500]))
        out.update({code: name for code, name in store.query(query)})
    return out


def referrers(store: Store, kind: str, code: str) -> dict[str, int]:
    """How many entries of each kind name the entry ``code`` of ``kind`` (archived included)."""
    out = {}
    for other in REFERS.get(kind, ()):
        table = TABLES[other][0]
        column = {"units": "unit", "sites": "site", "vendors": "vendor"}[kind]
        n = store.query(select(func.count()).where(table.c[column] == code))[0][0]
        if n:
            out[other] = int(n)
    return out


class Change(NamedTuple):
    """One entry to write: ``action`` created, updated, archived or removed."""

    kind: str
    code: str
    action: str
    values: Mapping[str, Any]


def _row(kind: str, values: Mapping[str, Any], actor: str, at_us: int) -> dict[str, Any]:
    _, record, _ = TABLES[kind]
    row = {f: values.get(f) for f in record._fields if f not in STAMP}
    if "contacts" in row:
        row["contacts"] = json.dumps(row["contacts"] or [], ensure_ascii=False)
    row.update(archived_us=values.get("archived_us"), changed_us=at_us, changed_by=actor)
    return row


def write(store: Store, changes: Sequence[Change], actor: str, at_us: int) -> None:
    """Write ``changes`` in one transaction, each with its entry in the log, chained. The
    rows are written first: on SQLite that takes the write lock, so the log's head is read
    by one writer at a time (on PostgreSQL an advisory lock does it) — no fork of the chain."""
    if not changes:
        return
    with store.transaction() as conn:
        chain_lock(conn, "registry_log")
        created: dict[str, list[dict[str, Any]]] = {}  # new rows by kind, inserted together
        later = []
        rows = []
        for c in changes:
            row = _row(c.kind, c.values, actor, at_us)
            rows.append(row)
            if c.action == "created":
                created.setdefault(c.kind, []).append(row)
            else:
                later.append((c, row))
        for kind in TABLES:  # new entries first, in the order references allow (an updated
            if kind in created:  # device may name a unit created in the same import)
                conn.execute(insert(TABLES[kind][0]), created[kind])
        for c, row in later:
            table, _, key = TABLES[c.kind]
            if c.action == "removed":
                conn.execute(delete(table).where(table.c[key] == c.code))
            else:
                conn.execute(update(table).where(table.c[key] == c.code).values(row))
        last = conn.execute(
            select(REGISTRY_LOG.c.hash).order_by(REGISTRY_LOG.c.seq.desc()).limit(1)
        )
        head = next(iter(last), (GENESIS,))[0]
        log = []
        for c, row in zip(changes, rows, strict=True):
            data = json.dumps(row, ensure_ascii=False, sort_keys=True)
            head = chained(head, c.kind, c.code, c.action, data, actor, at_us)
            log.append(RegistryLogRecord(c.kind, c.code, c.action, data, actor, at_us, head))
        conn.execute(insert(REGISTRY_LOG), [r._asdict() for r in log])


def head(store: Store) -> int | None:
    """The number of the registry's last change (``None`` before the first)."""
    return last_seq(store, REGISTRY_LOG)


def log(store: Store, kind: str | None = None, code: str | None = None) -> list[RegistryLogRecord]:
    """The log of changes, oldest first (of one kind, or one entry)."""
    v = REGISTRY_LOG
    query = select(*[v.c[n] for n in RegistryLogRecord._fields]).order_by(v.c.seq)
    if kind is not None:
        query = query.where(v.c.kind == kind)
    if code is not None:
        query = query.where(v.c.code == code)
    return [RegistryLogRecord(*r) for r in store.query(query)]


def differing_rows(store: Store, entries: Iterable[RegistryLogRecord]) -> list[str]:
    """The entries (``"units CG-GOV"``) whose row is not what the last change of the log wrote
    — edited, added or deleted behind faultflow's back — in kind order, then key order."""
    last: dict[tuple[str, str], RegistryLogRecord] = {}
    for e in entries:
        last[(e.kind, e.code)] = e
    out = []
    for kind, (table, _, key) in TABLES.items():
        for row in store.query(select(table).order_by(table.c[key])):
            values = dict(row._mapping)
            found = (kind, str(values[key]))
            change = last.pop(found) if found in last else None
            if change is None or change.action == "removed" or json.loads(change.data) != values:
                out.append(f"{kind} {values[key]}")
    out += [f"{kind} {code}" for (kind, code), e in sorted(last.items()) if e.action != "removed"]
    return out


def broken_log(entries: Iterable[RegistryLogRecord]) -> int | None:
    """The position (0-based) of the first log entry whose hash does not chain, or None."""
    return first_broken(GENESIS, entries)
