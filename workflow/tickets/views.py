"""Immutable views of tickets, clocks and events, as the library returns them.

``to_dict()`` gives exactly the JSON of SPEC §6; the attributes carry a little more (cause,
reporter, hold state, reasons) for integrators who want it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

from ..db.records import ClockRecord, EventRecord, TicketRecord
from ..timekeeping import clocks as clk
from ..timekeeping.calendars import ALWAYS
from ..timekeeping.times import from_us

if TYPE_CHECKING:
    from ..contract.model import Contract


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, to the second unless the value has a fraction of a second."""
    if value is None:
        return None
    return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds")


def _seconds(value: timedelta) -> int | float:
    seconds = value.total_seconds()
    return int(seconds) if seconds == int(seconds) else seconds


@dataclass(frozen=True, slots=True)
class Clock:
    """One promise on one ticket, read at the moment the view was made."""

    name: str
    status: str  # running | paused | stopped
    started_at: datetime
    due_at: datetime | None
    stopped_at: datetime | None
    paused_since: datetime | None
    limit: timedelta
    elapsed: timedelta
    remaining: timedelta
    breached: bool
    warned: bool
    calendar: str | None = None  # the calendar whose working time it counts (None: 24x7)
    opens_at: datetime | None = None  # running, but outside working time: counting resumes then
    warns_at: datetime | None = None  # when its warning falls, if still to come

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started_at": iso(self.started_at),
            "due_at": iso(self.due_at),
            "stopped_at": iso(self.stopped_at),
            "limit_s": _seconds(self.limit),
            "elapsed_s": _seconds(self.elapsed),
            "remaining_s": _seconds(self.remaining),
            "breached": self.breached,
            **({"calendar": self.calendar} if self.calendar is not None else {}),
            **({"opens_at": iso(self.opens_at)} if self.opens_at is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a ticket's append-only history."""

    ticket_id: str
    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    at: datetime
    recorded_at: datetime
    actor: str
    note: str | None
    reason: str | None
    data: Mapping[str, Any]
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "trigger": self.trigger,
            "from": self.from_state,
            "to": self.to_state,
            "at": iso(self.at),
            "recorded_at": iso(self.recorded_at),
            "actor": self.actor,
            "note": self.note,
        }


class History(Sequence[Event]):
    """A ticket's events as of one moment: an immutable sequence, converted on first use.

    ``records`` are the stored events, or a callable that loads them. The history is
    append-only, so "the events of this ticket up to seq N" reads the same whenever it is read:
    a view returned by a change can load its history only if someone looks at it.
    """

    __slots__ = ("_events", "_length", "_records", "_zone")

    def __init__(
        self,
        records: Iterable[Any] | Callable[[], Iterable[Any]],
        zone: tzinfo,
        length: int | None = None,
    ) -> None:
        self._records = records if callable(records) else tuple(records)
        self._length = length if callable(records) else len(self._records)  # type: ignore[arg-type]
        self._zone = zone
        self._events: tuple[Event, ...] | None = None

    def _all(self) -> tuple[Event, ...]:
        if self._events is None:
            zone = self._zone
            records = self._records() if callable(self._records) else self._records
            self._events = tuple(
                Event(
                    **dict(zip(_EVENT_COPIED, _event_copied(r), strict=True)),
                    at=from_us(r.at_us, zone),
                    recorded_at=from_us(r.recorded_us, zone),
                    data=json.loads(r.data),
                )
                for r in records
            )
            self._records = ()
        return self._events

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Event, ...]: ...
    def __getitem__(self, index: int | slice) -> Event | tuple[Event, ...]:
        return self._all()[index]

    def __len__(self) -> int:
        return self._length if self._length is not None else len(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return self._all() == other._all()
        return isinstance(other, tuple) and self._all() == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"History({list(self._all())!r})"


class Clocks(Mapping[str, Clock]):
    """A ticket's clocks read at one moment: an immutable mapping, computed on first use."""

    __slots__ = ("_clocks", "_make")

    def __init__(self, make: Callable[[], dict[str, Clock]]) -> None:
        self._make: Callable[[], dict[str, Clock]] | None = make
        self._clocks: dict[str, Clock] | None = None

    def _all(self) -> dict[str, Clock]:
        if self._clocks is None:
            assert self._make is not None
            self._clocks, self._make = self._make(), None
        return self._clocks

    def __getitem__(self, name: str) -> Clock:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"Clocks({self._all()!r})"


@dataclass(frozen=True, slots=True)
class Ticket:
    """A fault ticket as of one moment. It does not change; ask the engine for a fresh one."""

    id: str
    state: str
    tier: str
    kind: str
    cause: str | None
    channel: str
    external_id: str | None
    owner: str
    title: str
    description: str
    reporter: str | None
    contact: str | None
    version: int
    hold_reason: str | None
    recurs: str | None  # the earlier ticket of the same alert or external id, if it recurs one
    contract: str | None  # the contract version it runs under
    unit: str | None  # where it is: codes of the registry (a device by its serial), or None
    site: str | None
    line: str | None
    device: str | None
    parent: str | None  # its group: the parent it was merged into, or itself as a parent
    # Below: what the view derives; above, what it copies from the record, by name.
    on_hold: bool
    created_at: datetime
    clocks: Mapping[str, Clock]
    history: Sequence[Event]
    children: tuple[str, ...] = ()
    """The reports merged into it (one outage, many reports), oldest first: on a parent."""

    @property
    def breached(self) -> bool:
        """Whether any promise on this ticket is broken."""
        return any(c.breached for c in self.clocks.values())

    @property
    def merged_into(self) -> str | None:
        """The parent this report was merged into (``None``: not a merged report)."""
        return self.parent if self.parent is not None and self.parent != self.id else None

    @property
    def gathers(self) -> bool:
        """Whether this is a group's or a storm's ticket: one that carries faults not its own
        (its history may be long; an intake's answer leaves it out)."""
        key = self.external_id or ""
        return key == STORM or key.startswith(GROUP)

    @property
    def occurrences(self) -> Occurrences | None:
        """The faults this ticket carries that are not its own (a group's alerts, a storm's),
        counted from its history; ``None`` when it carries none."""
        return Occurrences.of(self.history)

    def to_dict(self, *, history: bool = True) -> dict[str, Any]:
        """The ticket as SPEC §6 JSON; without ``history``, no history (nor the occurrences
        counted from it)."""
        return {
            "id": self.id,
            "state": self.state,
            "tier": self.tier,
            "kind": self.kind,
            "channel": self.channel,
            "owner": self.owner,
            "title": self.title,
            "version": self.version,
            "unit": self.unit,
            "site": self.site,
            "line": self.line,
            "device": self.device,
            **({"recurs": self.recurs} if self.recurs is not None else {}),
            "parent": self.merged_into,  # the outage's ticket it was merged into (SPEC §9)
            "children": list(self.children),  # the reports merged into it
            **(
                {"occurrences": carried.to_dict()}
                if history and (carried := self.occurrences)
                else {}
            ),
            "clocks": {name: clock.to_dict() for name, clock in self.clocks.items()},
            **({"history": [event.to_dict() for event in self.history]} if history else {}),
        }


STORM = "storm"
"""The external id of a channel's storm tickets (each storm the next occurrence of it)."""
GROUP = "group:"
"""How the external id of a group's ticket begins (then a digest of the group's key)."""


@dataclass(frozen=True, slots=True)
class Occurrences:
    """What a ticket's occurrences came to: how many faults it carries, how many of them are
    firing now, and how often they fired and resolved in all."""

    faults: int
    firing: int
    fired: int
    resolved: int

    @classmethod
    def of(cls, history: Sequence[Event]) -> Occurrences | None:
        last: dict[str, str] = {}
        fired = resolved = 0
        for e in history:
            if e.trigger != "occurrence":
                continue
            what = str(e.data.get("occurrence", ""))
            last[str(e.data.get("external_id"))] = what
            if what == "resolved":
                resolved += 1
            else:
                fired += 1
        if not last:
            return None
        firing = sum(1 for what in last.values() if what != "resolved")
        return cls(len(last), firing, fired, resolved)

    def to_dict(self) -> dict[str, int]:
        return {
            "faults": self.faults,
            "firing": self.firing,
            "fired": self.fired,
            "resolved": self.resolved,
        }


OUTCOMES = ("opened", "duplicate", "note", "recurrence", "occurrence")
"""What an intake did with one fault (SPEC §8): opened a ticket; found it already open (the
existing ticket); added a note to an existing ticket; opened a new ticket that recurs a final
one (its ``recurs``); recorded it as an occurrence on a ticket that carries it (its group's,
or a storm's)."""


@dataclass(frozen=True, slots=True)
class Intake:
    """One fault of an intake: what happened (one of :data:`OUTCOMES`) and the ticket."""

    outcome: str
    ticket: Ticket
    suggestions: tuple[Any, ...] = ()
    """Entries of the experience base for this fault, best first (``kb.model.Found``)."""
    candidates: tuple[Any, ...] = ()
    """Open tickets at the same place it may share an outage with (``groups.Candidate``),
    the most specific place first: merge it into one (``faultflow merge``)."""

    def to_dict(self) -> dict[str, Any]:
        """The outcome and the ticket; a group's or storm's ticket without its history, which
        every fault it carries lengthens (``show`` and ``GET /v1/tickets/ID`` have it); and the
        experience base's suggestions for it."""
        ticket = self.ticket.to_dict(history=not self.ticket.gathers)
        suggested = [s.to_dict() for s in self.suggestions]
        near = [c.to_dict() for c in self.candidates]
        return {"outcome": self.outcome, "ticket": ticket, "suggestions": suggested,
                "candidates": near}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fired:
    """A warning or breach fired by :meth:`Engine.tick`."""

    ticket: str
    clock: str
    event: str  # warning | breach
    due_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "clock": self.clock,
            "event": self.event,
            "due_at": iso(self.due_at),
        }


# -- from stored records ---------------------------------------------------------------------
# A view takes every field of its record that it declares under the same name; the others it
# derives (times from ``*_us``, data from JSON, clocks and history from their rows).

_EVENT_COPIED = tuple(
    f for f in Event.__dataclass_fields__ if f in EventRecord._fields and f != "data"
)
_event_copied = attrgetter(*_EVENT_COPIED)
# The ticket view is on every change's path: its copied fields lead, so that it is built
# positionally from one attrgetter (the names are still the records').
_TICKET_DERIVED = ("on_hold", "created_at", "clocks", "history", "children")
_TICKET_COPIED = tuple(f for f in Ticket.__dataclass_fields__ if f not in _TICKET_DERIVED)
assert set(_TICKET_COPIED) <= set(TicketRecord._fields), "a ticket view field with no source"
assert tuple(Ticket.__dataclass_fields__) == (*_TICKET_COPIED, *_TICKET_DERIVED)
_ticket_copied = attrgetter(*_TICKET_COPIED)


def ticket_view(
    r: TicketRecord,
    clock_rows: Iterable[ClockRecord],
    events: Iterable[EventRecord] | History,
    now_us: int,
    contract: Contract,
    children: Sequence[str] = (),
) -> Ticket:
    """The view of a stored ticket (a ``TicketRecord``, its ``ClockRecord`` rows and its
    ``EventRecord`` history) as read at ``now_us``. Clock views are made on first use."""
    zone = contract.timezone
    rows = list(clock_rows)
    history = events if isinstance(events, History) else History(events, zone)
    return Ticket(  # type: ignore[call-arg]  # the field order is asserted above
        *_ticket_copied(r),
        bool(r.on_hold),  # SQLite gives 0 or 1
        from_us(r.created_us, zone),
        Clocks(lambda: clock_views(rows, now_us, contract)),
        history,
        tuple(children),
    )


def clock_views(rows: list[ClockRecord], now_us: int, contract: Contract) -> dict[str, Clock]:
    """Each stored clock read at ``now_us``, in the order they started (contract order on a
    tie)."""
    zone = contract.timezone
    order = {name: i for i, name in enumerate(contract.clocks)}
    out = {}
    for row in sorted(rows, key=lambda x: (x.started_us, order.get(x.name, len(order)))):
        spec = contract.clocks.get(row.name)
        cal = spec.calendar if spec is not None else ALWAYS
        reading = clk.read(clk.facts_of(row, cal), now_us)
        opens = cal.opens(now_us) if reading.status == "running" else None
        out[row.name] = Clock(
            name=row.name,
            status=reading.status,
            started_at=from_us(reading.started_at, zone),
            due_at=_moment(reading.due_at, zone),
            stopped_at=_moment(reading.stopped_at, zone),
            paused_since=_moment(row.paused_since_us, zone),
            limit=timedelta(microseconds=reading.limit),
            elapsed=timedelta(microseconds=reading.elapsed),
            remaining=timedelta(microseconds=reading.remaining),
            breached=reading.breached,
            warned=row.warned,
            calendar=cal.name,
            opens_at=_moment(opens, zone),
            warns_at=_moment(row.next_us, zone) if row.next_kind == "warning" else None,
        )
    return out


def _moment(us: int | None, zone: tzinfo) -> datetime | None:
    return from_us(us, zone) if us is not None else None
