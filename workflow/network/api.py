"""The Engine's API for the registry (mixed into :class:`~faultflow.Engine`): the entries of
each kind, adding, editing, archiving and removing one, and importing whole spreadsheets —
checked row by row, all or nothing."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import network as table
from ..db import places
from ..db.records import PLACES
from ..errors import InvalidInput, UnknownEntry
from ..tickets.parts import EngineParts
from ..tickets.views import Ticket
from ..timekeeping.times import from_us
from ..words import Words
from .model import KINDS, ORDER, Kind, Problem, differing, read
from .places import Places
from .sheets import Sheet


@dataclass
class Plan:
    """What an import does (or would do, dry): how many entries it creates, updates and leaves
    as they are, what changes in each updated one, and the problems that refuse it — each
    said where it is (file, sheet, row, column) in the reader's words."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changed: list[str] = field(default_factory=list)  # "devices 2102351: model, site"
    problems: list[str] = field(default_factory=list)
    changes: list[table.Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
        }  # fmt: skip
        if self.changed:
            out["changes"] = self.changed
        if self.problems:
            out["problems"] = self.problems
        return out


@dataclass(frozen=True, slots=True)
class Down:
    """A unit whose business stands still: its open tickets of the tiers that stop a unit's
    business (``[tiers.X] stops_business``), oldest first, and since when."""

    unit: str
    name: str
    since: datetime
    tickets: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "since": self.since.isoformat(),
                "tickets": self.tickets}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Status:
    """What is down now (``faultflow status``): the units, longest down first."""

    at: datetime
    down: list[Down]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "down": [d.to_dict() for d in self.down]}


@dataclass(frozen=True, slots=True)
class Served:
    """One ticket at a place, for its history: when it opened, when the fault was dealt with
    (resolved, or a spare put in; ``None`` while it is not), and whether it is still open."""

    id: str
    state: str
    tier: str
    title: str
    opened: datetime
    restored: datetime | None
    open: bool
    outage: bool  # of a tier that stops the unit's business

    @property
    def duration(self) -> timedelta | None:
        return self.restored - self.opened if self.restored is not None else None

    def to_dict(self) -> dict[str, Any]:
        d = self.duration
        return {
            "id": self.id, "state": self.state, "tier": self.tier, "title": self.title,
            "opened": self.opened.isoformat(),
            "restored": self.restored.isoformat() if self.restored else None,
            "duration_s": int(d.total_seconds()) if d is not None else None,
            "open": self.open, "outage": self.outage,
        }  # fmt: skip


def _worded(p: Problem, w: Words) -> tuple[str, str]:
    """A problem in the words of ``w``: the column as its heading says it, and what is wrong."""
    values = dict(p.values)
    if "kind" in values:
        values["kind"] = w[f"registry.one.{values['kind']}"]
    return w.get(f"column.{p.field}", p.field), w.format(f"registry.err.{p.what}", **values)


def _where(w: Words, where: Mapping[str, str], row: int, column: str, problem: str) -> str:
    """A problem said where it is: file, sheet (none for a CSV file), row, column."""
    said = w.format("registry.where", **where, row=row, column=column, problem=problem)
    return said.replace("  ", " ")


def _kind(name: str) -> Kind:
    found = KINDS.get(name)
    if found is None:
        raise InvalidInput(f"unknown kind {name!r} (known: {', '.join(ORDER)})")
    return found


class NetworkAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    places: Places  # the Engine's directory of the registry (intake reads it)

    def _person(self) -> Any:
        people = self.people
        return None if people is None else (lambda pid: pid in people.people)

    def entries(
        self, kind: str, archived: bool = False, **where: str
    ) -> builtins.list[dict[str, Any]]:
        """The entries of ``kind`` (units, sites, lines, devices, vendors) by code (devices by
        serial); ``where`` narrows to equal fields (``unit="CG01"``)."""
        _kind(kind)
        return table.listed(self.store, kind, archived, **where)

    def entry(self, kind: str, code: str) -> dict[str, Any]:
        """One entry; refused if there is none."""
        found = table.get(self.store, _kind(kind).name, code)
        if found is None:
            raise UnknownEntry(f"no {kind[:-1]} {code!r} (see `faultflow {kind} list`)")
        return found

    def _named_by(self, k: Kind) -> table.Known:
        """The entries one entry of ``k`` may name (its units, sites, vendors), to check it
        against: not the whole registry (an import, which may name any, loads that)."""
        return table.everything(self.store, kinds={f.ref for f in k.fields if f.ref})

    def _said(self, problems: Sequence[Problem], w: Words) -> str:
        return "; ".join(": ".join(_worded(p, w)) for p in problems)

    def add_entry(
        self, kind: str, values: Mapping[str, str | None], actor: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Add an entry of ``kind``; refused, with every problem named, if one is wrong or the
        key exists already. The entry as stored."""
        k, w = _kind(kind), Words(lang or self.contract.language)
        known = self._named_by(k)
        code = (values.get(k.key) or "").strip()
        if table.get(self.store, kind, code) is not None:
            said = w.format("registry.err.exists", kind=w[f"registry.one.{kind}"], value=code)
            raise InvalidInput(said)
        entry, problems = read(k, values, known, self._person())
        if problems:
            raise InvalidInput(self._said(problems, w))
        self._write([table.Change(kind, code, "created", entry)], actor)
        return self.entry(kind, code)

    def edit_entry(
        self, kind: str, code: str, values: Mapping[str, str | None], actor: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Change fields of an entry (an empty value clears an optional field); its key stays."""
        k, w = _kind(kind), Words(lang or self.contract.language)
        before = self.entry(kind, code)
        if k.key in values and values[k.key] != code:
            raise InvalidInput(f"the {k.key} of an entry does not change: add another instead")
        entry, problems = read(k, values, self._named_by(k), self._person(), before)
        if problems:
            raise InvalidInput(self._said(problems, w))
        if differing(k, before, entry):
            self._write([table.Change(kind, code, "updated", entry)], actor)
        return self.entry(kind, code)

    def archive_entry(self, kind: str, code: str, actor: str | None = None) -> dict[str, Any]:
        """Retire an entry that tickets or other entries still name: kept, out of the lists."""
        entry = self.entry(kind, code)
        if entry["archived_us"] is None:
            archived = {**entry, "archived_us": self._now_us()}
            self._write([table.Change(kind, code, "archived", archived)], actor)
        return self.entry(kind, code)

    def remove_entry(
        self, kind: str, code: str, actor: str | None = None, lang: str | None = None
    ) -> None:
        """Delete an entry nothing names; refused otherwise (archive it instead)."""
        w = Words(lang or self.contract.language)
        entry = self.entry(kind, code)
        named = table.referrers(self.store, kind, code)
        if kind[:-1] in PLACES and (n := places.count(self.store, kind[:-1], code)):
            named["tickets"] = n  # their history names it: kept (archived), never deleted
        if named:
            by = w["list.sep"].join(
                f"{n} {w['registry.kind.' + other]}" for other, n in named.items()
            )
            raise InvalidInput(w.format("registry.err.referred", kind=w[f"registry.one.{kind}"],
                                        value=code, by=by))  # fmt: skip
        self._write([table.Change(kind, code, "removed", entry)], actor)

    def _write(self, changes: Sequence[table.Change], actor: str | None) -> None:
        who = self._changes.policy.actor_name(actor or "system")
        table.write(self.store, changes, who, self._now_us())
        self.places.invalidate()

    def import_registry(
        self, sheets: Sequence[Sheet], dry_run: bool = False, actor: str | None = None,
        lang: str | None = None, source: str = "",
    ) -> Plan:  # fmt: skip
        """Import spreadsheets (:func:`faultflow.network.sheets.read`): each row creates or
        updates the entry its key names. Every row is checked — against the database and the
        rows before it — before anything is written; any problem refuses the whole import
        (the plan lists them). ``dry_run``: say what would change, write nothing."""
        w = Words(lang or self.contract.language)
        known = table.everything(self.store)
        person = self._person()
        plan = Plan()
        for sheet in sorted(sheets, key=lambda s: ORDER.index(s.kind)):
            k = KINDS[sheet.kind]
            where = {"file": source or sheet.label, "sheet": sheet.label}
            if where["file"] == sheet.label:  # a CSV file: no sheet to name
                where["sheet"] = ""
            if sheet.rows and k.key not in sheet.columns:
                column = w[f"column.{k.key}"]
                said = w.format("registry.err.no_key", column=column)
                plan.problems.append(_where(w, where, 1, column, said))
                continue
            seen: dict[str, int] = {}
            for number, row in sheet.rows:
                code = (row.get(k.key) or "").strip()
                before = known[sheet.kind].get(code)
                problems = []
                if code in seen:
                    problems.append(
                        Problem(k.key, "duplicate", {"value": code, "other": seen[code]})
                    )
                elif code:
                    seen[code] = number
                entry, found = read(k, row, known, person)
                problems += found
                if problems:
                    for p in problems:
                        column, problem = _worded(p, w)
                        plan.problems.append(_where(w, where, number, column, problem))
                    continue
                if before is None:
                    plan.created += 1
                    plan.changes.append(table.Change(sheet.kind, code, "created", entry))
                else:
                    entry = {**entry, "archived_us": before.get("archived_us")}
                    differ = differing(k, before, entry)
                    if differ:
                        plan.updated += 1
                        plan.changed.append(f"{sheet.kind} {code}: {', '.join(differ)}")
                        plan.changes.append(table.Change(sheet.kind, code, "updated", entry))
                    else:
                        plan.unchanged += 1
                known[sheet.kind][code] = entry  # later rows may name it
        if not plan.problems and not dry_run:
            self._write(plan.changes, actor)
        return plan

    def locate(
        self, ticket_id: str, unit: str | None = None, site: str | None = None,
        line: str | None = None, device: str | None = None, actor: str | None = None,
        note: str | None = None, version: int | None = None, lang: str | None = None,
    ) -> Ticket:  # fmt: skip
        """Set or correct where a ticket is (an event in its history). Each code must be in
        the registry (not archived); the broader parts follow from the narrower (a device
        gives its site and unit), and a part that contradicts them is refused."""
        w = Words(lang or self.contract.language)
        given = {p: v.strip() for p, v in zip(PLACES, (unit, site, line, device), strict=True)
                 if v is not None and v.strip()}  # fmt: skip
        if not given:
            raise InvalidInput("say where it is: --unit, --site, --line or --device")
        self.places.invalidate()
        self.places.refresh()
        d = self.places.directory
        entries = {"unit": d.units, "site": d.sites, "line": d.lines, "device": d.devices}
        for part, code in given.items():
            if code not in entries[part]:
                kind = f"{part}s"
                raise InvalidInput(
                    w.format("registry.err.unknown", kind=w[f"registry.one.{kind}"], value=code)
                    + f" (see `faultflow {kind} list`)"
                )
        place = d.place(**given)
        for part, code in given.items():
            if place.get(part) != code:
                narrower = next(p for p in reversed(PLACES) if p in given and place.get(p))
                raise InvalidInput(
                    f"{narrower} {given[narrower]} is in {part} {place.get(part) or 'none'}, "
                    f"not {code}"
                )
        return self._changes.locate(ticket_id, place, actor, note, version)

    def whereabouts(self, ticket: Ticket) -> dict[str, Any]:
        """What the registry says of where ``ticket`` is, for the people who handle it: its
        unit (name, customer manager with name and contacts), site, line and device — the
        device with its model, vendor (name, hotline, contacts) and warranty end, and whether
        the warranty has run out by now. Empty when the ticket is not placed."""
        out: dict[str, Any] = {}
        for part in PLACES:
            code = getattr(ticket, part)
            if code is None:
                continue
            found = table.get(self.store, f"{part}s", code)
            out[part] = {**(found or {}), "code": code} if found else {"code": code}
        unit = out.get("unit")
        if unit is not None and unit.get("manager"):
            pid = unit["manager"]
            unit["manager"] = self.work.reachable(pid) or {"person": pid, "name": pid}
        device = out.get("device")
        if device is not None:
            if device.get("vendor"):
                device["vendor"] = table.get(self.store, "vendors", device["vendor"]) or {
                    "code": device["vendor"]}  # fmt: skip
            end = device.get("warranty_end")
            if end:
                device["under_warranty"] = self.now().date().isoformat() <= end
        return out

    def status(self) -> Status:
        """The units down now: those with open tickets of a tier that stops a unit's business
        (the contract's ``stops_business``) whose fault is not yet dealt with (resolved, or a
        spare in place), with since when, longest down first."""
        contract = self.contract
        by_unit: dict[str, list[tuple[str, int]]] = {}
        found = places.down(self.store, sorted(contract.stopping), sorted(contract.fixing))
        for unit, tid, created_us in found:
            by_unit.setdefault(unit, []).append((tid, created_us))
        for rows in by_unit.values():
            rows.sort(key=lambda row: (row[1], row[0]))  # oldest first
        names = table.names(self.store, "units", by_unit)
        zone = contract.timezone
        down = [
            Down(unit, names.get(unit, unit), from_us(rows[0][1], zone), [t for t, _ in rows])
            for unit, rows in by_unit.items()
        ]
        down.sort(key=lambda d: (d.since, d.unit))
        return Status(self.now(), down)

    def served(self, kind: str, code: str, limit: int = 50) -> builtins.list[Served]:
        """The latest ``limit`` tickets of a unit, site, line or device (``kind`` plural, as
        the registry says it), newest first, each with how long its fault lasted."""
        k = _kind(kind)
        part = kind[:-1]
        if part not in PLACES:
            raise InvalidInput(
                f"tickets are placed at units, sites, lines and devices, not {k.name}"
            )
        self.entry(kind, code)  # refused if there is none
        rows = places.placed(self.store, part, code, limit)
        contract = self.contract
        done = places.restored(self.store, [r[0] for r in rows], sorted(contract.fixing))
        zone = contract.timezone
        out = []
        for tid, state, tier, title, created_us, last_us, is_open in rows:
            at = done.get(tid)
            if at is None and not is_open and state not in contract.cancelled:
                at = last_us  # closed without a fixing step (another contract's lifecycle)
            out.append(Served(tid, state, tier, title, from_us(created_us, zone),
                              from_us(at, zone) if at is not None else None, bool(is_open),
                              tier in contract.stopping))  # fmt: skip
        return out

    def export_registry(self, archived: bool = False) -> dict[str, builtins.list[dict[str, Any]]]:
        """Every entry, by kind (what :func:`faultflow.network.sheets.to_xlsx` writes)."""
        return {kind: table.listed(self.store, kind, archived) for kind in ORDER}

    def registry_log(self, kind: str | None = None, code: str | None = None) -> builtins.list[Any]:
        """The registry's changes, oldest first (of one kind, or one entry)."""
        return table.log(self.store, kind, code)
