"""A ticket being changed: the working copy of one ticket for one unit of work.

The engine loads a ticket into a :class:`Draft`, applies what the operator asked (a transition, a
hold, a reclassification) and the alarms that fell due, and hands the resulting
:class:`~faultflow.db.store.Change` to the store. Everything a trigger changes — state, history,
clocks, timers, notifications — is decided here, in memory, and then committed at once.

Why this module is longer than the house's ~500 lines: the incremental rules of a change (a
transition stops and starts clocks, an alarm fires, a hold pauses) and their corrections (a
reclassification recomputes, a late entry withdraws alarms that no longer hold) must agree to
the microsecond; kept on one class they are read, and changed, together. The history-replay
side of the same rules is timekeeping/replay.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

from ..audit.chain import PLAIN, Sealer, genesis
from ..contract.model import Classification, ClockSpec, Contract
from ..db.records import (
    PLACES,
    Change,
    ClockRecord,
    EventRecord,
    OutboxRecord,
    TicketRecord,
    urgency,
)
from ..intake import IntakeRecord
from ..timekeeping import clocks as clk
from ..timekeeping.clocks import ClockFacts, facts_of
from ..timekeeping.replay import GROUP, MERGE, UNMERGE, in_time_order, replay
from ..timekeeping.times import from_us, show

SYSTEM_ACTOR = "faultflow"
_where = attrgetter(*PLACES, "parent")  # a ticket's place and group: compared on every change
# Encoders built once (json.dumps builds one per call): an event's data, a notification.
_DATA = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, default=str)


def opened(
    contract: Contract,
    ticket_id: str,
    channel: str,
    record: IntakeRecord,
    classification: tuple[str, str, str | None],
    actor: str,
    at_us: int,
    recorded_us: int,
    data: dict[str, Any] | None = None,
    sealer: Sealer = PLAIN,
    *,
    occurrence: int = 1,
    recurs: str | None = None,
    chained: frozenset[str] = frozenset(),
    place: Mapping[str, str] | None = None,
    manager: Mapping[str, str] | None = None,
    planned: int | None = None,
) -> Draft:
    """The draft of a new ticket: its row, and the intake event with the clocks it starts
    (``place``: where it is, found from what the channel carried, recorded in the event;
    ``manager``: its unit's customer manager, whom the reporter's acknowledgement names;
    ``planned``: the maintenance window it came in, when it did: then its first event is
    :data:`PLANNED` and no clock starts)."""
    tier, kind, cause = classification
    ticket = TicketRecord(
        id=ticket_id,
        state=contract.initial,
        tier=tier,
        kind=kind,
        cause=cause,
        channel=channel,
        external_id=record.external_id,
        owner=actor,
        title=record.title,
        description=record.description,
        reporter=record.reporter,
        contact=record.contact,
        on_hold=False,
        hold_reason=None,
        version=1,
        created_us=at_us,
        last_seq=0,
        last_us=at_us,
        last_hash="",
        occurrence=occurrence,
        recurs=recurs,
        incident=record.incident,
        contract=contract.version,  # pinned: it runs under this version to the end
        unit=(where := place or {}).get("unit"),
        site=where.get("site"),
        line=where.get("line"),
        device=where.get("device"),
    )
    draft = Draft(contract, ticket, (), recorded_us, new=True, sealer=sealer, chained=chained)
    # The classification the ticket opened with, inside the hash chain: `verify` replays it.
    opened_as = {"tier": tier, "kind": kind, "cause": cause}
    data = {**(data or {}), "opened_as": opened_as}
    if place:
        data["place"] = dict(place)
    notify = {"unit": place.get("unit"), "manager": manager} if place else None
    trigger = contract.intake
    if planned is not None:  # inside a maintenance window: recorded, no promise runs yet
        trigger, data["window"] = PLANNED, planned
    draft.transition(
        trigger, contract.initial, at_us, actor, note=record.title, data=data, notify=notify
    )
    return draft


PLANNED = "planned"
"""The first event of a ticket opened inside a maintenance window (``maintenance/``): it starts
no clock; when the window is over and the fault still stands, an intake event starts them."""

UNANNOUNCED = frozenset({"delivered", "occurrence", "group", "link", "unlink"})
"""Events no notification tells of: what became of a notification (telling of it would make
another, and a bounce of that another — a loop), and each fault a storm's ticket carries (the
ticket's own opening is told, once), and what only the staff care for: a parent taking in
a report (the report's own ``merge`` is told to its reporter), a link."""

PASSIVE = frozenset(
    {
        "warning",
        "breach",
        "note",
        "withdrawn",
        "page",
        "ack",
        "delivered",
        "occurrence",
        "locate",
        "kb",
        "link",
        "unlink",
    }
)
"""Events that change no state and no clock's course: a late entry may be recorded before them."""


REGROUPING = frozenset({GROUP, MERGE, UNMERGE})
"""The events of a merge (tickets/groups.py): they rebuild the clocks as a late entry does."""


def _last_alarm(events: list[EventRecord], clock: str, alarm: str) -> EventRecord | None:
    """The latest ``alarm`` event of ``clock`` that was not withdrawn already."""
    withdrawn = {json.loads(e.data).get("withdraws") for e in events if e.trigger == "withdrawn"}
    for e in reversed(events):
        if (
            e.trigger == alarm
            and e.seq not in withdrawn
            and json.loads(e.data).get("clock") == clock
        ):
            return e
    return None


def row_of(
    ticket_id: str, spec: ClockSpec, facts: ClockFacts, warned: bool, breach_fired: bool
) -> ClockRecord:
    """A clock row from facts: the derived columns (due, status, next alarm) computed here."""
    alarm = clk.next_alarm(facts, spec.warning_share, warned, breach_fired)
    stopped = facts.stopped
    return ClockRecord(
        ticket_id=ticket_id,
        name=spec.name,
        started_us=facts.started,
        limit_us=facts.limit,
        paused_us=facts.paused,
        paused_since_us=facts.paused_since,
        stopped_us=stopped,
        due_us=clk.due_at(facts),
        status=facts.status,
        warned=warned,
        breach_fired=breach_fired,
        breached=clk.is_breached(facts, stopped) if stopped is not None else breach_fired,
        next_us=alarm[0] if alarm else None,
        next_kind=alarm[1] if alarm else None,
    )


class Draft:
    """One ticket being changed; call :meth:`change` for what to commit.

    Records are immutable: the draft never changes what it was handed (a caller may keep it),
    it replaces ``self.ticket`` and its clock rows with changed copies.
    """

    def __init__(
        self,
        contract: Contract,
        ticket: TicketRecord,
        clock_rows: Iterable[ClockRecord],
        recorded_us: int,
        *,
        new: bool = False,
        sealer: Sealer = PLAIN,
        chained: frozenset[str] = frozenset(),
    ) -> None:
        self.contract = contract
        self._sealer = sealer
        self._chained = chained  # tiers whose breaches start a chain of pages (people.toml)
        self.ticket = ticket
        # The version this change writes; set on the record with the first event (one copy).
        self._version = ticket.version if new else ticket.version + 1
        self.clocks: dict[str, ClockRecord] = {c.name: c for c in clock_rows}
        self.recorded_us = recorded_us
        self._subscribed = contract.notify_kinds
        self.expected_version = None if new else ticket.version
        self._prev_hash = ticket.last_hash  # the stored head, for attach()
        self._stored_urgency = ticket.urgent_us
        self._stored_place = _where(ticket)
        self.events: list[EventRecord] = []
        self.outbox: list[OutboxRecord] = []
        self._new: set[str] = set()
        self._changed: set[str] = set()
        self._dropped: set[str] = set()
        self.fired: list[tuple[str, str, datetime]] = []  # (clock, alarm, due)
        self._taken = 0  # how many of them take_fired() has handed out
        self._classification: Classification | None = None

    # -- reading ------------------------------------------------------------------------------

    @property
    def classification(self) -> Classification:
        """What the ticket's limits and guards depend on (kept until :meth:`update`)."""
        if self._classification is None:
            t = self.ticket
            self._classification = Classification(t.tier, t.kind, t.channel, t.cause)
        return self._classification

    def _facts(self, row: ClockRecord) -> ClockFacts:
        """A stored clock's facts, counted over its spec's calendar (24x7 if it has none)."""
        spec = self.contract.clocks.get(row.name)
        return facts_of(row, spec.calendar) if spec is not None else facts_of(row)

    def breached_clocks(self, at_us: int) -> frozenset[str]:
        """Names of the clocks that are breached at ``at_us``."""
        return frozenset(
            name
            for name, row in self.clocks.items()
            if row.breached or clk.is_breached(self._facts(row), at_us)
        )

    def due_times(self) -> dict[str, datetime]:
        return {
            name: from_us(row.due_us).astimezone(self.contract.timezone)
            for name, row in self.clocks.items()
            if row.due_us is not None
        }

    def take_fired(self) -> list[tuple[str, str, datetime]]:
        """The alarms fired since the last call (the unit of work starts chains for them)."""
        fresh = self.fired[self._taken :]
        self._taken = len(self.fired)
        return fresh

    # -- writing ------------------------------------------------------------------------------

    def update(self, **fields: Any) -> None:
        """Change fields of the ticket row (its classification, hold state, owner)."""
        self.ticket = self.ticket._replace(**fields)
        self._classification = None

    def _put(self, spec: ClockSpec, facts: ClockFacts, warned: bool, breach_fired: bool) -> None:
        name = spec.name
        self.clocks[name] = row_of(self.ticket.id, spec, facts, warned, breach_fired)
        if name in self._dropped:
            self._dropped.discard(name)
            self._changed.add(name)
        elif name not in self._new and name not in self._changed:
            self._changed.add(name)

    def _start(self, spec: ClockSpec, at: int) -> None:
        facts = ClockFacts(started=at, limit=spec.limit_us(self.classification), cal=spec.calendar)
        if self.ticket.on_hold and spec.pausable:
            facts = clk.pause(facts, at)
        self.clocks[spec.name] = row_of(self.ticket.id, spec, facts, False, False)
        self._new.add(spec.name)

    def record(
        self,
        trigger: str,
        to_state: str,
        at_us: int,
        actor: str,
        *,
        note: str | None = None,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        notify: dict[str, Any] | None = None,
        kind: str | None = None,
    ) -> None:
        """Append one event to the history (hash-chained) and its notification to the outbox
        (``kind``: the notification's kind, by default the trigger's)."""
        t = self.ticket
        seq = t.last_seq + 1
        prev = t.last_hash or genesis(t.id)
        text = _DATA.encode(data) if data else "{}"
        from_state = t.state if seq > 1 else None
        event = EventRecord(
            ticket_id=t.id,
            seq=seq,
            trigger=trigger,
            from_state=from_state,
            to_state=to_state,
            at_us=at_us,
            recorded_us=self.recorded_us,
            actor=actor,
            note=note,
            reason=reason,
            data=text,
            hash="",
        )
        digest = self._sealer.seal(prev, event)
        self.events.append(event._replace(hash=digest))
        self.ticket = t = t._replace(
            last_seq=seq,
            last_us=max(t.last_us, at_us) if seq > 1 else at_us,  # the latest `at` (late entries)
            last_hash=digest,
            state=to_state,
            version=self._version,
        )
        if kind is None:
            if trigger in UNANNOUNCED:
                return
            kind = trigger if trigger in ("warning", "breach") else "transition"
        if kind not in self._subscribed:
            return
        payload = {
            "ticket": t.id,
            "seq": seq,
            "event": trigger,
            "from": from_state,
            "to": to_state,
            "at": from_us(at_us, self.contract.timezone).isoformat(),
            "actor": actor,
            "note": note,
            "tier": t.tier,
            "fault_kind": t.kind,
            "channel": t.channel,
            "owner": t.owner,
            "title": t.title,
            "reporter": t.reporter,
            "contact": t.contact,
            "external_id": t.external_id,
            **(notify or {}),
        }
        self._notify(kind, seq, payload)

    def attach(self, key: str, value: Any) -> None:
        """Add ``key`` to the data of the event just recorded (not yet committed) and chain it
        again: what is attached is inside the hash chain like the rest of the event."""
        last = self.events[-1]
        data = json.loads(last.data)
        data[key] = value
        last = last._replace(data=_DATA.encode(data))
        prev = (
            self.events[-2].hash
            if len(self.events) > 1
            else (self._prev_hash or genesis(last.ticket_id))
        )
        last = last._replace(hash=self._sealer.seal(prev, last))
        self.events[-1] = last
        self.ticket = self.ticket._replace(last_hash=last.hash)

    def _notify(self, kind: str, seq: int, payload: dict[str, Any]) -> None:
        if kind not in self._subscribed:
            return
        payload = {**payload, "kind": kind}
        self.outbox.append(
            OutboxRecord(
                ticket_id=self.ticket.id,
                seq=seq,
                kind=kind,
                created_us=self.recorded_us,
                payload=_PAYLOAD.encode(payload),
                done=False,
                next_attempt_us=self.recorded_us,
            )
        )

    def transition(
        self,
        trigger: str,
        dest: str,
        at_us: int,
        actor: str,
        *,
        note: str | None = None,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        notify: dict[str, Any] | None = None,
    ) -> None:
        """Move to ``dest`` by ``trigger``: stop and start clocks, record the event
        (``notify``: what its notification says beside the ticket's fields)."""
        at = at_us
        final = dest in self.contract.finals
        specs = self.contract.clocks
        for name, row in list(self.clocks.items()):
            spec = specs.get(name)
            if spec is not None and row.status != "stopped" and (trigger in spec.stop or final):
                self._put(
                    spec, clk.stop(facts_of(row, spec.calendar), at), row.warned, row.breach_fired
                )
        starting = self.contract.starts.get(trigger, ())
        if starting:
            c = self.classification
            for spec in starting:
                if spec.name not in self.clocks and spec.applies_to(c):
                    self._start(spec, at)
        if final and self.ticket.on_hold:
            self.update(on_hold=False, hold_reason=None)
        self.record(trigger, dest, at_us, actor, note=note, reason=reason, data=data, notify=notify)

    def fire_due(self, upto_us: int) -> None:
        """Fire, in time order, every warning and breach due at or before ``upto_us``."""
        upto = upto_us
        while True:
            pending = [
                r for r in self.clocks.values() if r.next_us is not None and r.next_us <= upto_us
            ]
            if not pending:
                return
            row = min(pending, key=lambda r: (r.next_us, r.name))
            spec = self.contract.clocks.get(row.name)
            if spec is None:  # a clock the contract no longer has: forget its alarm, for good
                self.clocks[row.name] = row._replace(next_us=None, next_kind=None)
                if row.name not in self._new:
                    self._changed.add(row.name)
                continue
            facts = facts_of(row, spec.calendar)
            alarm = clk.due_alarm(facts, spec.warning_share, row.warned, row.breach_fired, upto)
            if alarm is None:  # stale timer (should not happen): recompute it
                self._put(spec, facts, row.warned, row.breach_fired)
                if self.clocks[row.name].next_us == row.next_us:
                    return
                continue
            self._fire(spec, facts, row, alarm)

    def _fire(self, spec: ClockSpec, facts: ClockFacts, row: ClockRecord, alarm: str) -> None:
        times = clk.alarm_times(facts, spec.warning_share)
        due_us = clk.due_at(facts)
        assert times is not None and due_us is not None
        moment = times[0] if alarm == "warning" else due_us
        at_us = max(moment, self.ticket.last_us)
        zone = self.contract.timezone
        due = from_us(due_us, zone)
        due_text = show(due)
        data: dict[str, Any] = {"clock": spec.name, "due_at": due.isoformat()}
        if alarm == "warning":
            share = round(spec.warning_share * 100)
            note = f"{spec.name}: {share}% of the limit used; due {due_text}"
            self._put(spec, facts, True, row.breach_fired)
        else:
            note = f"{spec.name}: breached, was due {due_text}"
            if spec.escalate and self.ticket.tier in self._chained:
                note += f"; escalation chain {self.ticket.tier} starts"
                data["chain"] = self.ticket.tier
            elif spec.escalate:
                contacts = self.contract.tiers[self.ticket.tier].escalate_to
                recipients = list(dict.fromkeys([self.ticket.owner, *contacts]))
                data["escalated_to"] = recipients
                note += f"; escalated to {', '.join(recipients)}"
            self._put(spec, facts, True, True)
        self.record(
            alarm,
            self.ticket.state,
            at_us,
            SYSTEM_ACTOR,
            note=note,
            data=data,
            notify={"clock": spec.name, "due_at": data["due_at"]},
        )
        if "escalated_to" in data:
            t = self.ticket
            self._notify(
                "escalation",
                t.last_seq,
                {
                    "ticket": t.id,
                    "seq": t.last_seq,
                    "event": "escalation",
                    "clock": spec.name,
                    "due_at": data["due_at"],
                    "at": from_us(at_us, zone).isoformat(),
                    "tier": t.tier,
                    "title": t.title,
                    "owner": t.owner,
                    "note": note,
                    "recipients": data["escalated_to"],
                },
            )
        self.fired.append((spec.name, alarm, from_us(moment, zone)))

    def pause_all(self, at_us: int) -> list[str]:
        """Pause every running pausable clock; the names paused."""
        at = at_us
        paused = []
        for name, row in list(self.clocks.items()):
            spec = self.contract.clocks.get(name)
            if spec is not None and spec.pausable and row.status == "running":
                self._put(
                    spec, clk.pause(facts_of(row, spec.calendar), at), row.warned, row.breach_fired
                )
                paused.append(name)
        return paused

    def resume_all(self, at_us: int) -> list[str]:
        """Restart every paused clock; the names resumed."""
        at = at_us
        resumed = []
        for name, row in list(self.clocks.items()):
            spec = self.contract.clocks.get(name)
            if spec is not None and row.status == "paused":
                self._put(
                    spec, clk.resume(facts_of(row, spec.calendar), at), row.warned, row.breach_fired
                )
                resumed.append(name)
        return resumed

    def move_to(self, contract: Contract, history: list[EventRecord], at_us: int) -> None:
        """Run under another version of the contract from now on: the ticket is pinned to it
        and its clocks are rebuilt under it from ``history`` (what it makes due fires next)."""
        self.contract = contract
        self._subscribed = contract.notify_kinds
        self.ticket = self.ticket._replace(contract=contract.version)
        self.recompute(history, at_us)

    def recompute(self, history: list[EventRecord], at_us: int) -> None:
        """Rebuild every clock from the history (in ``at`` order: a late entry counts where it
        happened) under the current classification; a clock the draft's contract does not have
        (a ticket moved onto a version without it) is dropped."""
        for name in [n for n in self.clocks if n not in self.contract.clocks]:
            self._forget(name)
        c = self.classification
        finals = self.contract.finals
        timeline = in_time_order(history)
        at = at_us
        for spec in self.contract.clocks.values():
            facts = replay(spec, spec.limit_us(c), finals, timeline) if spec.applies_to(c) else None
            old = self.clocks.get(spec.name)
            if facts is None:
                if old is not None:
                    self._forget(spec.name)
                continue
            warned = old.warned if old else False
            fired = old.breach_fired if old else False
            if fired and not clk.is_breached(facts, at):
                fired = False  # the promise under the new classification is not broken yet
            if old is None:
                self.clocks[spec.name] = row_of(self.ticket.id, spec, facts, warned, fired)
                self._new.add(spec.name)
            else:
                self._put(spec, facts, warned, fired)

    def _forget(self, name: str) -> None:
        """Remove a clock: not written if new in this draft, else deleted on write."""
        del self.clocks[name]
        self._changed.discard(name)
        if name in self._new:
            self._new.discard(name)
        else:
            self._dropped.add(name)

    def correct(self, history: list[EventRecord], now_us: int, actor: str) -> list[str]:
        """After a late entry (the last event recorded, earlier than alarms already in the
        history): rebuild the clocks in ``at`` order, withdraw every alarm that no longer holds
        — a ``withdrawn`` event naming it and the late entry, notified as the alarm was — and
        fire what is due now under the corrected clocks. The alarms withdrawn, as
        ``clock:alarm``."""
        late = self.events[-1]
        everything = [*history, *self.events]
        before = dict(self.clocks)
        self.recompute(everything, now_us)
        withdrawn = []
        for name, old in before.items():
            spec = self.contract.clocks.get(name)
            new = self.clocks.get(name)
            if spec is None:
                continue
            facts = facts_of(new, spec.calendar) if new is not None else None
            warned = bool(new.warned) if new is not None else False
            fired = bool(new.breach_fired) if new is not None else False
            gone = []
            if old.breach_fired and not fired:
                gone.append("breach")
            if old.warned and (
                facts is None or clk.active(facts, now_us) < round(facts.limit * spec.warning_share)
            ):
                gone.append("warning")
                warned = False
            if facts is not None and gone:
                self._put(spec, facts, warned, fired)
            for alarm in gone:
                fired_as = _last_alarm(everything, name, alarm)
                if fired_as is None:
                    continue
                self._withdraw(name, alarm, fired_as, late, now_us, actor)
                withdrawn.append(f"{name}:{alarm}")
        self.fire_due(now_us)
        return withdrawn

    def _withdraw(
        self, clock: str, alarm: str, fired: EventRecord, late: EventRecord, now_us: int, actor: str
    ) -> None:
        zone = self.contract.timezone
        when = show(from_us(late.at_us, zone))
        why = (
            f"the group's first report moved (seq {late.seq}, by {late.actor})"
            if late.trigger in REGROUPING
            else f"{late.trigger} at {when} was entered late (seq {late.seq}, by {late.actor})"
        )
        note = f"{clock}: the {alarm} recorded at seq {fired.seq} no longer holds: {why}"
        data = {"clock": clock, "alarm": alarm, "withdraws": fired.seq, "late_entry": late.seq}
        at_us = max(now_us, self.ticket.last_us)
        self.record(
            "withdrawn",
            self.ticket.state,
            at_us,
            actor,
            note=note,
            data=data,
            notify={"clock": clock, "alarm": alarm, "withdraws": fired.seq},
            kind=alarm,
        )

    @property
    def finished(self) -> bool:
        """Whether this change took the ticket into a final state (a cancellation too)."""
        finals = self.contract.finals
        return any(e.to_state in finals and e.from_state != e.to_state for e in self.events)

    @property
    def closes(self) -> bool:
        """Whether this change took the ticket into a final state other than a cancellation."""
        c = self.contract
        return any(
            e.to_state in c.finals and e.from_state != e.to_state and e.to_state not in c.cancelled
            for e in self.events
        )

    @property
    def dirty(self) -> bool:
        """Whether there is anything to write."""
        return bool(self.events or self._new or self._changed or self._dropped)

    def change(self) -> Change:
        """What to commit: the ticket row, the new events, clocks and notifications."""
        if self.ticket.version != self._version:  # a change of clocks alone
            self.ticket = self.ticket._replace(version=self._version)
        urgent = urgency(self.ticket.state in self.contract.finals, self.clocks.values())
        if urgent != self.ticket.urgent_us:
            self.ticket = self.ticket._replace(urgent_us=urgent)
        return Change(
            ticket=self.ticket,
            expected_version=self.expected_version,
            events=self.events,
            new_clocks=[self.clocks[n] for n in self._new],
            changed_clocks=[self.clocks[n] for n in self._changed],
            dropped_clocks=sorted(self._dropped),
            outbox=self.outbox,
            urgency_moved=urgent != self._stored_urgency or self.expected_version is None,
            placed=_where(self.ticket) != self._stored_place,
        )
