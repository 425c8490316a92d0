"""The Engine's API for spare parts (备品备件, P10; mixed into :class:`~faultflow.Engine`): the
stock by serial and model — added, moved, sent to repair, returned, retired, each movement in
the spares' hash-chained log — and the guard of the contract's remedy: a substitution takes a
spare of the faulty device's model from stock, in the ticket's own transaction
(:class:`Stock`), or is refused with where that model's spares are (docs/spares.md).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db import spares as table
from ..db.ledger import rewritten
from ..db.records import SpareRecord
from ..errors import ConcurrentUpdate, IllegalTransition, InvalidInput, UnknownEntry
from ..tickets.draft import SYSTEM_ACTOR
from ..tickets.parts import EngineParts
from ..timekeeping.times import from_us

if TYPE_CHECKING:
    from ..db.store import Unit
    from ..duty.people import People
    from ..network.places import Places
    from ..tickets.draft import Draft

STATES = ("in_stock", "reserved", "taken", "in_repair", "retired")
"""Where a spare stands: on the shelf, reserved for a ticket at its dispatch, taken out to stand
in for a faulty part (for a ticket), away for repair, or retired for good."""
RETRIES = 8


@dataclass(frozen=True, slots=True)
class Spare:
    """A spare as people read it: where it is, what became of it, since when and by whom."""

    serial: str
    model: str
    location: str
    state: str
    ticket: str | None
    note: str | None
    since: datetime
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial, "model": self.model, "location": self.location,
            "state": self.state, "ticket": self.ticket, "note": self.note,
            "since": self.since.isoformat(), "by": self.by,
        }  # fmt: skip


def _view(r: SpareRecord, zone: Any) -> Spare:
    return Spare(r.serial, r.model, r.location, r.state, r.ticket, r.note,
                 from_us(r.changed_us, zone), r.changed_by)  # fmt: skip


class SparesAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def spares(
        self, model: str | None = None, state: str | None = None, location: str | None = None
    ) -> builtins.list[Spare]:
        """The spares, by model, location and serial (of ``model``, in ``state``, at
        ``location``, if given)."""
        if state is not None and state not in STATES:
            raise InvalidInput(f"no spare state {state!r} (there are {', '.join(STATES)})")
        zone = self.contract.timezone
        found = table.listed(self.store, model, [state] if state else None, location)
        return [_view(r, zone) for r in found]

    def spare(self, serial: str) -> Spare:
        with self.store.unit() as u:
            found = table.get(u, serial.strip())
        if found is None:
            raise UnknownEntry(f"no spare {serial} (see `faultflow spares list`)")
        return _view(found, self.contract.timezone)

    def spare_history(self, serial: str) -> builtins.list[dict[str, Any]]:
        """Every movement of a spare, oldest first."""
        import json

        self.spare(serial)
        zone = self.contract.timezone
        return [
            {"action": e.action, "actor": e.actor, "at": from_us(e.at_us, zone).isoformat(),
             "state": said.get("state"), "location": said.get("location"),
             "ticket": said.get("ticket")}
            for e in table.history(self.store, serial.strip())
            for said in (json.loads(e.data),)
        ]  # fmt: skip

    def spares_add(
        self, serial: str, model: str, location: str, actor: str | None = None,
        note: str | None = None, state: str = "in_stock",
    ) -> Spare:  # fmt: skip
        """Register a spare (``state``: ``in_stock``, or ``in_repair`` for a faulty part
        that will come back)."""
        policy = self._changes.policy
        serial, model = _word("serial", serial), _word("model", model)
        location = _word("location", location)
        if state not in ("in_stock", "in_repair"):
            raise InvalidInput(f"a spare is added in_stock or in_repair, not {state!r}")
        record = SpareRecord(serial, model, location, state, None, policy.checked("note", note),
                             self._now_us(), policy.actor_name(actor or "system"), 1)  # fmt: skip
        with self.store.unit() as u:
            if not table.add(u, record):
                raise InvalidInput(f"spare {serial} is registered already (see `faultflow "
                                   f"spares show {serial}`)")  # fmt: skip
        return _view(record, self.contract.timezone)

    def spares_move(self, serial: str, location: str, actor: str | None = None,
                    note: str | None = None) -> Spare:  # fmt: skip
        """Move a spare on the shelf (or away for repair) to another location."""
        where = _word("location", location)

        def moved(cur: SpareRecord) -> SpareRecord:
            if cur.state not in ("in_stock", "in_repair"):
                raise IllegalTransition(f"spare {cur.serial} is {cur.state}: it is not ours "
                                        "to move")  # fmt: skip
            return cur._replace(location=where)

        return self._spare_change(serial, moved, "moved", actor, note)

    def spares_repair(self, serial: str, actor: str | None = None,
                      note: str | None = None) -> Spare:  # fmt: skip
        """Send a spare away for repair (one that failed in use, or on the shelf)."""

        def away(cur: SpareRecord) -> SpareRecord:
            if cur.state not in ("in_stock", "taken"):
                raise IllegalTransition(f"spare {cur.serial} is {cur.state}: cannot send it "
                                        "to repair")  # fmt: skip
            return cur._replace(state="in_repair")

        return self._spare_change(serial, away, "repair", actor, note)

    def spares_return(self, serial: str, location: str | None = None, actor: str | None = None,
                      note: str | None = None) -> Spare:  # fmt: skip
        """Put a spare back in stock: repaired, or back from the ticket it was taken for."""
        where = _word("location", location) if location is not None else None

        def back(cur: SpareRecord) -> SpareRecord:
            if cur.state not in ("in_repair", "taken", "reserved"):
                raise IllegalTransition(f"spare {cur.serial} is {cur.state}: nothing to "
                                        "return")  # fmt: skip
            return cur._replace(state="in_stock", ticket=None, location=where or cur.location)

        return self._spare_change(serial, back, "returned", actor, note)

    def spares_retire(self, serial: str, reason: str, actor: str | None = None) -> Spare:
        """Retire a spare for good (beyond repair, scrapped), with the reason."""
        said = self._changes.policy.checked("reason", reason)
        if not said:
            raise InvalidInput("retiring a spare needs a reason (--reason)")

        def gone(cur: SpareRecord) -> SpareRecord:
            if cur.state == "retired":
                raise IllegalTransition(f"spare {cur.serial} is retired already")
            return cur._replace(state="retired")

        return self._spare_change(serial, gone, "retired", actor, said)

    def spares_status(self) -> builtins.list[dict[str, Any]]:
        """Each model: its spares by state, how many devices of it the registry has and, when
        the contract keeps a ratio (``[spares] ratio``), how many it wants in stock and whether
        the stock is low."""
        from ..db import network

        installed: dict[str, int] = {}
        devices = network.everything(self.store, archived=False, kinds=("devices",))["devices"]
        for d in devices.values():
            if d.get("model"):
                installed[d["model"]] = installed.get(d["model"], 0) + 1
        counts = table.counts(self.store)
        ratio = self.contract.spare_ratio
        out = []
        for m in sorted(set(counts) | set(installed)):
            row: dict[str, Any] = {"model": m, **{s: counts.get(m, {}).get(s, 0) for s in STATES},
                                   "devices": installed.get(m, 0)}  # fmt: skip
            if ratio is not None:  # the contract's floor: [spares] ratio of the installed
                row["wanted"] = math.ceil(ratio * row["devices"])
                row["low"] = row["in_stock"] < row["wanted"]
            out.append(row)
        return out

    def spares_import(
        self, path: Path, dry_run: bool = False, actor: str | None = None
    ) -> dict[str, Any]:
        """Register the spares of a spreadsheet (CSV, or the first sheet of an XLSX workbook;
        columns serial, model, location, and optionally state — in_stock or in_repair — and
        note, headed in either language): every row is checked before anything is written,
        and any problem refuses the whole file. A serial registered already with the same model
        is left as it is. ``dry_run``: say what would happen, write nothing. Returns
        ``{"created", "unchanged", "problems"}``."""
        from ..network.sheets import cell, tables

        file = Path(path)
        label, lines = tables(file)[0]
        if label != file.name:  # a workbook's sheet
            label = f"{file.name}/{label}"
        rows = iter(lines)
        names = _headings(next(rows, ()))
        problems: builtins.list[str] = []
        missing = [n for n in ("serial", "model", "location") if n not in names]
        if missing:
            problems.append(f"{label}: row 1: no column {', '.join(missing)}")
        fresh: builtins.list[SpareRecord] = []
        unchanged, seen = 0, set()
        who = self._changes.policy.actor_name(actor or "system")
        now_us = self._now_us()
        with self.store.unit() as u:
            for number, values in enumerate(rows, start=2):
                row = {n: cell(v) for n, v in zip(names, values, strict=False) if n}
                if missing or not any(row.values()):
                    continue
                try:
                    serial = _word("serial", row.get("serial"))
                    model = _word("model", row.get("model"))
                    location = _word("location", row.get("location"))
                    state = _STATE_WORDS.get((row.get("state") or "in_stock").casefold())
                    if state is None:
                        raise InvalidInput(f"state: in_stock or in_repair, not {row['state']!r}")
                except InvalidInput as err:
                    problems.append(f"{label}: row {number}: {err}")
                    continue
                if serial in seen:
                    problems.append(f"{label}: row {number}: serial {serial} twice in the file")
                    continue
                seen.add(serial)
                known = table.get(u, serial)
                if known is not None:
                    if known.model == model:
                        unchanged += 1
                    else:
                        problems.append(f"{label}: row {number}: spare {serial} is registered "
                                        f"as a {known.model}, not a {model}")  # fmt: skip
                    continue
                fresh.append(SpareRecord(serial, model, location, state, None, row.get("note"),
                                         now_us, who, 1))  # fmt: skip
            if not problems and not dry_run:
                for record in fresh:
                    table.add(u, record)
        made = 0 if problems else len(fresh)
        return {"created": made, "unchanged": unchanged, "problems": problems}

    def _spare_change(
        self, serial: str, change: Callable[[SpareRecord], SpareRecord], action: str,
        actor: str | None, note: str | None,
    ) -> Spare:  # fmt: skip
        policy = self._changes.policy
        who, said = policy.actor_name(actor or "system"), policy.checked("note", note)
        key = serial.strip()

        def moved(cur: SpareRecord) -> SpareRecord:
            return change(cur)._replace(note=said if said is not None else cur.note,
                                        changed_us=self._now_us(), changed_by=who)  # fmt: skip

        new = rewritten(
            self.store, lambda u: table.get(u, key), lambda u, r: table.change(u, r, action),
            moved, f"no spare {key} (see `faultflow spares list`)", f"spare {key}", RETRIES,
        )  # fmt: skip
        return _view(new, self.contract.timezone)


_STATE_WORDS = {"in_stock": "in_stock", "in_repair": "in_repair", "在库": "in_stock",
                "库存": "in_stock", "维修中": "in_repair", "送修": "in_repair",
                "in stock": "in_stock", "in repair": "in_repair"}  # fmt: skip


def _headings(values: Any) -> builtins.list[str]:
    """The fields a sheet's first row names, in either language (an unknown heading: "")."""
    from ..words import LANGUAGES, Words

    known: dict[str, str] = {}
    for lang in LANGUAGES:
        w = Words(lang)
        for field_, key in (("serial", "column.serial"), ("model", "column.model"),
                            ("location", "column.location"), ("state", "column.spare_state"),
                            ("note", "column.note")):  # fmt: skip
            known[w[key].casefold()] = field_
            known[field_] = field_
    return [known.get(str(v).strip().casefold(), "") if v is not None else "" for v in values]


def _word(name: str, value: str | None) -> str:
    said = (value or "").strip()
    if not said or len(said) > 100 or any(c in said for c in "\r\n\t"):
        raise InvalidInput(f"{name}: one line of at most 100 characters, please")
    return said


class Stock:
    """What the spares do inside a ticket's own unit of work (the engine hands these to the
    unit's context): the guard of the contract's remedy, the reservation a dispatch makes
    ahead, its release when the ticket closes, and the warning of a stock running low. While no
    spare was ever registered, the stock is not kept and nothing is asked."""

    def __init__(self, places: Places, people: People | None = None) -> None:
        self.places = places
        self.people = people

    def remedy(self, u: Unit, draft: Draft, asked: Mapping[str, Any]) -> dict[str, Any]:
        """The contract's remedy (the trigger of role ``remedy``: the seed's ``substitute``),
        after the machine allowed it: a spare of the faulty device's model (by the registry,
        or ``model`` as asked) is taken from stock — the one asked for (``spare``), else the
        one reserved for the ticket at its dispatch, else the first on the shelf at the
        ticket's site, else the first anywhere — and the faulty part (``faulty``, else the
        ticket's device) is entered as a spare in repair, to come back to stock or be
        retired. Refused, with where that model's spares are, when none is in stock."""
        wanted, named, faulty = asked.get("spare"), asked.get("model"), asked.get("faulty")
        t = draft.ticket
        if not table.any_kept(u.store):
            if wanted or named or faulty:
                raise InvalidInput("no spares are kept yet: register them with `faultflow "
                                   "spares add`")  # fmt: skip
            return {}
        model = self._model(draft, named)
        held = table.reserved_for(u, t.id)
        if wanted:
            chosen = table.get(u, str(wanted))
            if chosen is None:
                raise InvalidInput(f"no spare {wanted} (see `faultflow spares list`)")
            if chosen.state != "in_stock" and not (chosen.state == "reserved"
                                                   and chosen.ticket == t.id):  # fmt: skip
                raise InvalidInput(f"spare {wanted} is {chosen.state}, not in stock")
            if model is not None and chosen.model != model:
                raise InvalidInput(f"spare {wanted} is a {chosen.model}; the faulty part is a "
                                   f"{model}: a spare of the same model, please")  # fmt: skip
        elif held and (model is None or held[0].model == model):
            chosen = held[0]
        else:
            if model is None:
                raise InvalidInput(
                    f"ticket {t.id} is at no device of a known model: name the spare's model "
                    "(--model) or the spare (--spare)"
                )
            stock = table.in_stock(u, model)
            if not stock:
                raise InvalidInput(_none_in_stock(u, model))
            here = [s for s in stock if t.site and s.location == t.site]
            chosen = (here or stock)[0]
        at_us, who = int(asked["at_us"]), str(asked["actor"])
        self._let_go([h for h in held if h.serial != chosen.serial], at_us, who, u)
        taken = chosen._replace(state="taken", ticket=t.id, changed_us=at_us, changed_by=who,
                                version=chosen.version + 1)  # fmt: skip
        if not table.change(u, taken, "taken", {"ticket": t.id}):
            raise ConcurrentUpdate(f"spare {chosen.serial} was taken meanwhile", retry=True)
        out: dict[str, Any] = {"spare": {"serial": chosen.serial, "model": chosen.model,
                                         "location": chosen.location}}  # fmt: skip
        part = str(faulty) if faulty else t.device
        if part:
            out["faulty"] = self._faulty(u, part, chosen, t.id, t.site, at_us, who)
        self._low(u, draft, chosen.model, at_us)
        return out

    def reserve(self, u: Unit, draft: Draft, asked: Mapping[str, Any]) -> dict[str, Any]:
        """A dispatch of a tier the contract names (``[spares] reserve``): a spare of the
        device's model is reserved for the ticket (the engineer takes it along; ``substitute``
        takes that one). None in stock: the dispatch goes on, and its event says so."""
        t = draft.ticket
        if not table.any_kept(u.store) or table.reserved_for(u, t.id):
            return {}
        model = self._model(draft, None)
        if model is None:
            return {}
        stock = table.in_stock(u, model)
        if not stock:
            return {"spare_wanted": _none_in_stock(u, model)}
        here = [s for s in stock if t.site and s.location == t.site]
        chosen = (here or stock)[0]
        at_us, who = int(asked["at_us"]), str(asked["actor"])
        held = chosen._replace(state="reserved", ticket=t.id, changed_us=at_us, changed_by=who,
                               version=chosen.version + 1)  # fmt: skip
        if not table.change(u, held, "reserved", {"ticket": t.id}):
            raise ConcurrentUpdate(f"spare {chosen.serial} was taken meanwhile", retry=True)
        self._low(u, draft, model, at_us)
        return {"spare_reserved": {"serial": chosen.serial, "model": chosen.model,
                                   "location": chosen.location}}  # fmt: skip

    def release(self, u: Unit, draft: Draft) -> None:
        """A ticket closed without taking the spare reserved for it: back on the shelf."""
        t = draft.ticket
        if table.any_kept(u.store):
            self._let_go(table.reserved_for(u, t.id), draft.recorded_us, SYSTEM_ACTOR, u)

    # -- helpers --------------------------------------------------------------------------------

    def _model(self, draft: Draft, named: Any) -> str | None:
        t = draft.ticket
        if named:
            return str(named)
        if t.device:
            self.places.refresh()
            found = (self.places.directory.devices.get(t.device) or {}).get("model")
            return str(found) if found else None
        return None

    @staticmethod
    def _let_go(held: builtins.list[SpareRecord], at_us: int, who: str, u: Unit) -> None:
        for h in held:
            back = h._replace(state="in_stock", ticket=None, changed_us=at_us, changed_by=who,
                              version=h.version + 1)  # fmt: skip
            if not table.change(u, back, "released", {"ticket": h.ticket}):
                raise ConcurrentUpdate(f"spare {h.serial} moved meanwhile", retry=True)

    @staticmethod
    def _faulty(
        u: Unit, serial: str, spare: SpareRecord, ticket: str, site: str | None, at_us: int,
        who: str,
    ) -> dict[str, Any]:  # fmt: skip
        """The faulty part, entered as a spare in repair (a spare put in earlier and failed
        again goes back to repair)."""
        if serial == spare.serial:
            raise InvalidInput(f"the faulty part {serial} cannot be the spare put in")
        note = f"faulty part replaced by {spare.serial} ({ticket})"
        known = table.get(u, serial)
        if known is None:
            part = SpareRecord(serial, spare.model, site or spare.location, "in_repair", ticket,
                               note, at_us, who, 1)  # fmt: skip
            table.add(u, part)
        elif known.model != spare.model:
            raise InvalidInput(f"the faulty part {serial} is registered as a {known.model}, "
                               f"not a {spare.model}")  # fmt: skip
        elif known.state == "in_repair":
            return {"serial": serial, "state": "in_repair"}
        else:
            part = known._replace(state="in_repair", ticket=ticket, note=note, changed_us=at_us,
                                  changed_by=who, version=known.version + 1)  # fmt: skip
            if not table.change(u, part, "repair", {"ticket": ticket}):
                raise ConcurrentUpdate(f"spare {serial} moved meanwhile", retry=True)
        return {"serial": serial, "state": "in_repair"}

    def _low(self, u: Unit, draft: Draft, model: str, at_us: int) -> None:
        """The contract keeps at least ``[spares] ratio`` of a model's installed devices in
        stock: below it, a note on the ticket and a notification to ``[spares] notify``'s
        holders now (the escalation kind, as a breach's contacts hear it)."""
        c = draft.contract
        if c.spare_ratio is None:
            return
        self.places.refresh()
        devices = sum(1 for d in self.places.directory.devices.values()
                      if d.get("model") == model)  # fmt: skip
        if not devices:
            return
        wanted = math.ceil(c.spare_ratio * devices)
        left = len(table.in_stock(u, model))
        if left >= wanted:
            return
        told: builtins.list[str] = []
        if c.spare_notify and self.people is not None:
            found, _ = self.people.resolve([c.spare_notify], from_us(at_us, c.timezone))
            told = [d.person.id for d in found]
        note = (f"spares of model {model} low: {left} in stock for {devices} installed "
                f"(the contract keeps {c.spare_ratio:.0%}: {wanted})"
                + (f"; told {', '.join(told)}" if told else ""))  # fmt: skip
        low = {"model": model, "in_stock": left, "devices": devices, "wanted": wanted}
        t = draft.ticket
        draft.record("note", t.state, max(at_us, t.last_us), SYSTEM_ACTOR, note=note,
                     data={"spares_low": low, **({"told": told} if told else {})},
                     notify={"recipients": told or [c.spare_notify or t.owner], **low},
                     kind="escalation")  # fmt: skip


def _none_in_stock(u: Unit, model: str) -> str:
    elsewhere = [s for s in table.listed(u.store, model) if s.state in ("taken", "in_repair")]
    where = "; ".join(f"{s.serial} {s.state}" + (f" ({s.ticket})" if s.ticket else "")
                      + f" at {s.location}" for s in elsewhere[:5])  # fmt: skip
    return (f"no spare of model {model} in stock" + (f" — that model's spares: {where}"
            if where else " — none is registered (`faultflow spares add`)"))  # fmt: skip
