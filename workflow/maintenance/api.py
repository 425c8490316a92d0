"""The Engine's API for maintenance windows (mixed into :class:`~faultflow.Engine`), and what
the windows do inside a ticket's unit of work (:class:`Planner`).

A window is planned work on a part of the network — a line cut over at night, a core switch
replaced — scheduled ahead (``faultflow maintenance add``). While it goes on:

- a fault reported at a place it covers is recorded as *planned*: its ticket opens with a
  ``planned`` event, which starts no promise, and nobody is paged (:class:`Planner`, asked by
  the unit of work when it opens a ticket);
- an escalation chain about to start there starts paused, and the chains running there when
  it begins pause (:meth:`MaintenanceAPI.keep_windows`, the scheduler's pass);
- when it is over, whatever still stands is looked at again: a planned ticket whose fault
  still stands (a person's report, or an alert still firing) opens for real — an intake event
  starts its promises from that moment — one whose alert cleared during the window closes as
  ``cleared`` (into the contract's cancelled state), and the paused chains run again.

Each of those changes is its own unit of work on its ticket, so a scheduler killed midway does
the rest at its next pass (a window is marked begun or over only after its tickets are done).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from ..db import maintenance as table
from ..db.ledger import rewritten
from ..db.records import EventRecord, WindowRecord
from ..db.store import Unit
from ..errors import ConcurrentUpdate, IllegalTransition, InvalidInput, UnknownEntry
from ..tickets.draft import PLANNED, SYSTEM_ACTOR
from ..tickets.parts import At, EngineParts
from ..tickets.unit import NothingToDo, Step
from ..timekeeping.durations import span
from ..timekeeping.times import aware, from_us, show, to_us
from .model import ALL, KINDS, Scope, collide, overlap

if TYPE_CHECKING:
    from ..network.places import Places

STARTED_AGO_US = 60 * 1_000_000
"""How far in the past a window may be said to start (a clock a little behind): no further."""


@dataclass(frozen=True, slots=True)
class Window:
    """A maintenance window as people read it; ``status`` as of when it was read: upcoming,
    active, over or cancelled."""

    id: int
    scope: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    status: str
    created_by: str
    created_at: datetime
    changed_by: str
    changed_at: datetime
    planned: tuple[str, ...] = ()  # the tickets opened as planned during it
    paused: tuple[str, ...] = ()  # the tickets whose escalation it paused

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "scope": self.scope, "from": self.starts_at.isoformat(),
            "to": self.ends_at.isoformat(), "reason": self.reason, "status": self.status,
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "changed_by": self.changed_by, "changed_at": self.changed_at.isoformat(),
            "planned": list(self.planned), "paused": list(self.paused),
        }  # fmt: skip


@dataclass(slots=True)
class Kept:
    """What one pass over the windows did."""

    begun: list[int] = field(default_factory=list)
    over: list[int] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)  # tickets whose chain it paused
    resumed: list[str] = field(default_factory=list)  # tickets whose chain runs again
    opened: list[str] = field(default_factory=list)  # planned tickets whose promises now run
    cleared: list[str] = field(default_factory=list)  # planned tickets closed: the alert cleared

    def to_dict(self) -> dict[str, Any]:
        return {"begun": self.begun, "over": self.over, "paused": self.paused,
                "resumed": self.resumed, "opened": self.opened,
                "cleared": self.cleared}  # fmt: skip


def status(w: WindowRecord, now_us: int) -> str:
    """Where a window stands at ``now_us``."""
    if w.state == "cancelled":
        return "cancelled"
    if now_us < w.starts_us:
        return "upcoming"
    return "active" if now_us < w.ends_us else "over"


class Planner:
    """The windows as the unit of work asks them, inside a ticket's transaction: is planned
    work going on at this place now? (A window's id, and the ticket marked as touched by it.)"""

    def __call__(
        self, u: Unit, ticket: str, place: Mapping[str, str], at_us: int, why: str
    ) -> int | None:
        for w in table.active(u, at_us):
            if Scope(w.kind, w.code).covers(place):
                table.mark(u, w.id, ticket, why)
                return w.id
        return None


class MaintenanceAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def maintenance_add(
        self, start: At, end: At, scope: str, reason: str, actor: str | None = None
    ) -> Window:
        """Schedule a window of planned work on ``scope`` (``unit:CODE``, ``site:CODE``,
        ``line:CODE``, ``device:SERIAL`` or ``all``) from ``start`` to ``end``, with the
        reason. Refused: a scope the registry does not know, an end not after the start, a
        start in the past, a window longer than the contract's ``[maintenance] max``, and one
        that overlaps a scheduled window on a part of the network it shares."""
        policy = self._changes.policy
        said = policy.checked("reason", reason)
        if not said:
            raise InvalidInput("a maintenance window needs a reason (--reason)")
        who = policy.actor_name(actor or "system")
        try:
            where = Scope.parse(scope)
        except ValueError as err:
            raise InvalidInput(str(err)) from None
        place = self._place_of(where)
        now = self.now()
        zone = self.contract.timezone
        begins, ends = aware(start, now, zone), aware(end, now, zone)
        b_us, e_us, now_us = to_us(begins), to_us(ends), to_us(now)
        if e_us <= b_us:
            raise InvalidInput(f"the window ends ({show(ends)}) before it begins ({show(begins)})")
        if b_us < now_us - STARTED_AGO_US:
            raise InvalidInput(
                f"the window would have begun at {show(begins)}, in the past: planned work is "
                "scheduled ahead (faults already reported run under their promises)"
            )
        longest = self.contract.maintenance_max_us
        if e_us - b_us > longest:
            raise InvalidInput(
                f"the window lasts {span(ends - begins)}; the contract allows at most "
                f"{span(timedelta(microseconds=longest))} ([maintenance] max)"
            )
        record = WindowRecord(0, where.kind, where.code, b_us, e_us, said, "scheduled", now_us,
                              who, now_us, who, None, None, 1)  # fmt: skip
        with self.store.unit() as u:
            for other in table.listed(self.store, b_us, e_us, ["scheduled"]):
                theirs = Scope(other.kind, other.code)
                if overlap((b_us, e_us), (other.starts_us, other.ends_us)) and collide(
                    where, place, theirs, self._place_of(theirs)
                ):
                    raise InvalidInput(
                        f"window {other.id} on {theirs} ({self._span(other)}, "
                        f"{other.reason}) overlaps it: change or cancel that one first"
                    )
            made = table.add(u, record)
        return self._view(made, now_us)

    def maintenance(
        self, start: At = None, end: At = None, cancelled: bool = False
    ) -> builtins.list[Window]:
        """The windows that meet [``start``, ``end``) (either open: all), soonest first;
        cancelled ones only with ``cancelled``."""
        now = self.now()
        zone = self.contract.timezone
        b = to_us(aware(start, now, zone)) if start is not None else None
        e = to_us(aware(end, now, zone)) if end is not None else None
        states = None if cancelled else ["scheduled"]
        now_us = to_us(now)
        return [self._view(w, now_us) for w in table.listed(self.store, b, e, states)]

    def maintenance_window(self, window_id: int | str) -> Window:
        """One window, with the tickets it touched."""
        wid = _id(window_id)
        with self.store.unit() as u:
            found = table.get(u, wid)
            touched = table.touched(u, wid) if found is not None else []
        if found is None:
            raise UnknownEntry(f"no maintenance window {window_id} (see `faultflow maintenance "
                               "list`)")  # fmt: skip
        view = self._view(found, self._now_us())
        return _with(view, touched)

    def maintenance_cancel(
        self, window_id: int | str, reason: str, actor: str | None = None
    ) -> Window:
        """Call a window off: one not yet begun is cancelled; one going on ends now (what it
        held back is looked at as when it is over, at the scheduler's next pass). One that is
        over, or cancelled already, is refused."""
        policy = self._changes.policy
        said = policy.checked("reason", reason)
        if not said:
            raise InvalidInput("calling a window off needs a reason (--reason)")
        who = policy.actor_name(actor or "system")
        wid = _id(window_id)
        now_us = self._now_us()

        def called_off(w: WindowRecord) -> WindowRecord:
            where = status(w, now_us)
            if where in ("over", "cancelled"):
                raise IllegalTransition(f"maintenance window {wid} is {where} already")
            note = f"{w.reason} — called off: {said}"
            new = (w._replace(state="cancelled") if where == "upcoming"
                   else w._replace(ends_us=now_us))  # fmt: skip
            return new._replace(reason=note, changed_us=now_us, changed_by=who)

        def write(u: Unit, new: WindowRecord) -> bool:
            action = "cancelled" if new.state == "cancelled" else "ended"
            return table.change(u, new, action, who, now_us)

        missing = f"no maintenance window {window_id}"
        done = rewritten(self.store, lambda u: table.get(u, wid), write, called_off, missing,
                         f"maintenance window {wid}")  # fmt: skip
        return self._view(done, now_us)

    def announced(self, days: int = 7) -> builtins.list[dict[str, Any]]:
        """The windows going on now or beginning within ``days``, as the units are told of
        them (the portal, the board): each with the names of the units in its scope."""
        now = self.now()
        places = cast("Places", self.places)
        places.refresh()
        d = places.directory
        out = []
        for w in self.maintenance(now, now + timedelta(days=days)):
            kind, _, code = w.scope.partition(":")
            if kind == ALL:
                units: builtins.list[str] = []
            else:
                entry = _entry(d, kind, code) or {}
                unit = code if kind == "unit" else entry.get("unit")
                units = [str((d.units.get(unit or "") or {}).get("name") or unit or code)]
            out.append({"window": w, "units": units, "all": kind == ALL})
        return out

    def next_window_change(self) -> datetime | None:
        """When the next window begins or ends (the scheduler's wake), or ``None``."""
        found = table.next_change(self.store, self._now_us())
        return from_us(found, self.contract.timezone) if found is not None else None

    def keep_windows(self, now: At = None) -> Kept:
        """One pass of the scheduler over the windows (see the module's docstring): pause the
        chains where a window has begun, open or clear its planned tickets and resume its
        chains when it is over. Idempotent: a pass killed midway is finished by the next."""
        moment = aware(now, self.now(), self.contract.timezone)
        now_us = to_us(moment)
        kept = Kept()
        begun, over = table.due(self.store, now_us)
        for w in begun:
            with self.store.unit() as u:
                running = table.chains_at(u, w.kind, w.code)
            for tid in running:
                if self._pause(tid, w):
                    kept.paused.append(tid)
            self._mark(w, begun_us=now_us)
            kept.begun.append(w.id)
        for w in over:
            with self.store.unit() as u:
                touched = table.touched(u, w.id)
            for tid, why in touched:
                if why == "paused" and self._resume(tid, w):
                    kept.resumed.append(tid)
                elif why == "planned":
                    done = self._reopen(tid, w)
                    if done is not None:
                        (kept.opened if done == "opened" else kept.cleared).append(tid)
            if w.begun_us is None:
                self._mark(w, begun_us=now_us, ended_us=now_us)
            else:
                self._mark(w, ended_us=now_us)
            kept.over.append(w.id)
        return kept

    # -- each ticket, one unit of work ----------------------------------------------------------

    def _pause(self, tid: str, w: WindowRecord) -> bool:
        def pause(s: Step) -> None:
            esc = s.tx.escalation(tid)
            if esc is None or esc.status != "running":
                raise NothingToDo
            s.tx.put_escalation(esc._replace(status="paused", next_us=None), esc)
            table.mark(s.tx, w.id, tid, "paused")
            s.draft.record("note", s.draft.ticket.state, s.at_us, SYSTEM_ACTOR,
                           note=f"escalation paused: maintenance window {w.id} ({w.reason}) "
                                f"until {show(from_us(w.ends_us, self.contract.timezone))}",
                           data={"window": w.id, "escalation": "paused"})  # fmt: skip
            s.result = True

        return bool(self._each(tid, pause))

    def _resume(self, tid: str, w: WindowRecord) -> bool:
        def resume(s: Step) -> None:
            esc = s.tx.escalation(tid)
            if esc is None or esc.status != "paused":
                raise NothingToDo  # acknowledged meanwhile, or resumed by a pass before
            if s.draft.ticket.state in s.draft.contract.finals:
                s.tx.put_escalation(esc._replace(status="finished"), esc)
                raise NothingToDo
            s.tx.put_escalation(esc._replace(status="running", next_us=s.draft.recorded_us), esc)
            s.draft.record("note", s.draft.ticket.state, s.at_us, SYSTEM_ACTOR,
                           note=f"escalation resumed: maintenance window {w.id} is over",
                           data={"window": w.id, "escalation": "resumed"})  # fmt: skip
            s.result = True

        return bool(self._each(tid, resume))

    def _reopen(self, tid: str, w: WindowRecord) -> str | None:
        def reopen(s: Step) -> None:
            d, history = s.draft, s.history or []
            c, t = d.contract, d.ticket
            if (
                not history
                or history[0].trigger != PLANNED
                or any(e.trigger == c.intake for e in history)
                or t.state != c.initial
            ):
                raise NothingToDo  # dealt with during the window, or opened by a pass before
            zone = c.timezone
            if not _still_firing(history) and c.cancelled:
                note = f"cleared during maintenance window {w.id} ({w.reason}): nothing to do"
                d.transition("cleared", sorted(c.cancelled)[0], s.at_us, SYSTEM_ACTOR,
                             note=note, data={"window": w.id})  # fmt: skip
                s.result = "cleared"
                return
            note = (f"maintenance window {w.id} is over (at {show(from_us(w.ends_us, zone))}) "
                    "and the fault still stands: its promises run from now")  # fmt: skip
            d.transition(c.intake, t.state, s.at_us, SYSTEM_ACTOR, note=note,
                         data={"window": w.id}, notify={"window": w.id})  # fmt: skip
            s.result = "opened"

        found = self._each(tid, reopen, history=True)
        return str(found) if found else None

    def _each(self, tid: str, command: Any, history: bool = False) -> Any:
        try:
            return self.work.change(tid, command, history=history, missing_ok=True).result
        except ConcurrentUpdate:
            return None  # kept changing under us: the next pass looks again

    def _mark(
        self, w: WindowRecord, begun_us: int | None = None, ended_us: int | None = None
    ) -> None:
        """Note in the window's row (and its log) that the scheduler saw it begin or end."""
        action = "over" if ended_us is not None else "begun"
        at_us = ended_us if ended_us is not None else begun_us

        def seen(cur: WindowRecord) -> WindowRecord:
            begun = cur.begun_us if begun_us is None else begun_us
            return cur._replace(
                begun_us=begun, ended_us=cur.ended_us if ended_us is None else ended_us
            )

        rewritten(
            self.store, lambda u: table.get(u, w.id),
            lambda u, new: table.change(u, new, action, SYSTEM_ACTOR, at_us or new.changed_us),
            seen, f"no maintenance window {w.id}", f"maintenance window {w.id}",
        )  # fmt: skip

    # -- helpers --------------------------------------------------------------------------------

    def _place_of(self, scope: Scope) -> dict[str, str | None]:
        """Where a scope's own entry is (a site's unit, a device's site and unit), refusing
        one the registry does not know."""
        if scope.kind == ALL:
            return {}
        places = cast("Places", self.places)
        places.refresh()
        d = places.directory
        entry = _entry(d, scope.kind, scope.code)
        if entry is None:
            raise InvalidInput(f"the registry has no {scope.kind} {scope.code!r} (see "
                               f"`faultflow {scope.kind}s list`)")  # fmt: skip
        place: dict[str, str | None] = {k: entry.get(k) for k in KINDS if k != scope.kind}
        place[scope.kind] = scope.code
        return place

    def _span(self, w: WindowRecord) -> str:
        zone = self.contract.timezone
        return f"{show(from_us(w.starts_us, zone))}–{show(from_us(w.ends_us, zone))}"

    def _view(self, w: WindowRecord, now_us: int) -> Window:
        zone = self.contract.timezone
        return Window(
            w.id, str(Scope(w.kind, w.code)), from_us(w.starts_us, zone),
            from_us(w.ends_us, zone), w.reason, status(w, now_us), w.created_by,
            from_us(w.created_us, zone), w.changed_by, from_us(w.changed_us, zone),
        )  # fmt: skip


def _entry(d: Any, kind: str, code: str) -> dict[str, Any] | None:
    """The registry's entry ``code`` of ``kind`` (unit, site, line, device) in a directory."""
    found: dict[str, Any] | None = getattr(d, f"{kind}s").get(code)
    return found


def _with(view: Window, touched: builtins.list[tuple[str, str]]) -> Window:
    from dataclasses import replace

    planned = tuple(t for t, why in touched if why == "planned")
    paused = tuple(t for t, why in touched if why == "paused")
    return replace(view, planned=planned, paused=paused)


def _id(window_id: int | str) -> int:
    try:
        return int(str(window_id).strip().removeprefix("#"))
    except ValueError:
        raise InvalidInput(
            f"a maintenance window is named by its number, not {window_id!r}"
        ) from None


def _still_firing(history: builtins.list[EventRecord]) -> bool:
    """Whether the fault a planned ticket recorded still stands: a ticket carrying alerts
    while any of them still fires; one from a single alert until the alert's "resolved" came;
    a person's report until someone closes it."""
    last: dict[str, str] = {}
    resolved = None
    for e in history:
        if e.trigger == "occurrence":
            said = json.loads(e.data)
            last[str(said.get("external_id"))] = str(said.get("occurrence", ""))
        elif '"follow_up"' in e.data:
            mark = str(json.loads(e.data).get("follow_up", ""))
            resolved = mark.startswith("resolved:")
    if last:
        return any(what != "resolved" for what in last.values())
    return not resolved
