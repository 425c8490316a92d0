"""What `verify` checks beyond the hash chain: that each ticket's row and clocks are what its
history says they are.

The chain proves the events were not edited; but the ticket row (state, classification, owner,
hold) and the clock rows (what the compliance report reads) are stored beside them, and an edit
there changes the report without touching an event. Each ticket is replayed from its history —
with the same rules as the engine (``draft.replay``) — and compared with what is stored.

The clocks are replayed under the contract the engine runs now: after a change of limits in the
contract, tickets whose clocks were computed under the old limits are reported too (say so when
you read the report; contract versions will pin each ticket to its own).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..contract.model import Classification, ClockSpec, Contract
from ..db.records import ClockRecord, EventRecord, TicketRecord, place_of, urgency
from ..timekeeping import clocks as clk
from ..timekeeping.replay import GROUP, MERGE, UNMERGE, in_time_order, moment, replay

if TYPE_CHECKING:
    from ..contract.versions import Contracts


class Replayer:
    """Called by ``audit.check`` with each ticket's events, in ticket-id order; walks the
    tickets and clocks streams (same order) beside them."""

    def __init__(
        self, contracts: Contracts, tickets: Iterator[Any], clock_rows: Iterator[Any]
    ) -> None:
        self.contracts = contracts
        self._tickets = tickets
        self._clocks = clock_rows
        self._ticket: TicketRecord | None = None
        self._clock: ClockRecord | None = None
        self._plans: dict[str, dict[tuple[Any, ...], Plan]] = {}  # by contract version
        self._advance_clock()

    def _advance_clock(self) -> None:
        row = next(self._clocks, None)
        self._clock = ClockRecord._make(row) if row is not None else None

    def __call__(self, ticket_id: str, rows: list[Sequence[Any]]) -> str | None:
        ticket = None
        for row in self._tickets:
            if row[0] == ticket_id:
                ticket = TicketRecord._make(row)
                break
            if row[0] > ticket_id:
                break
        clocks = []
        while self._clock is not None and self._clock.ticket_id <= ticket_id:
            if self._clock.ticket_id == ticket_id:
                clocks.append(self._clock)
            self._advance_clock()
        if ticket is None:
            return None  # audit.check reports tickets without rows
        events = list(map(EventRecord._make, rows))
        contract = self.contracts.for_ticket(ticket)
        plans = self._plans.setdefault(contract.version, {})
        return differences(contract, ticket, events, clocks, plans)


def differences(
    contract: Contract,
    ticket: TicketRecord,
    events: list[EventRecord],
    clocks: list[ClockRecord],
    plans: dict[tuple[Any, ...], Plan] | None = None,
) -> str | None:
    """``None`` when the ticket row and its clocks are what its history gives, else the first
    difference, in words. ``plans`` caches, per classification, each clock's limit."""
    if not events:
        return None
    finals = contract.finals
    last, first = events[-1], events[0]
    if ticket.state != last.to_state:
        return f"the ticket says {ticket.state}, its history ends in {last.to_state}"
    if first.note is not None and ticket.title != first.note:
        return f"the ticket's title is {ticket.title!r}, its history says {first.note!r}"
    recurs = json.loads(first.data).get("recurs") if '"recurs"' in first.data else None
    if ticket.recurs != recurs:
        return f"the ticket says it recurs {ticket.recurs}, its history says {recurs}"
    # One pass over the history: holds, triggers, the timeline, breaches, reclassifications.
    held = False
    triggers = set()
    breaches: dict[str, int] = {}
    reclassified: EventRecord | None = None
    ordered = True
    last_at = events[0].at_us
    owner = first.actor  # who took it in (P5), until a handover
    group: str | None = None  # the parent it was merged into, or itself as a parent
    place = json.loads(first.data).get("place") or {} if '"place"' in first.data else {}
    for e in events:
        trigger = e.trigger
        triggers.add(trigger)
        if e.at_us < last_at:
            ordered = False  # a late entry: the clocks count it where it happened
        last_at = max(last_at, e.at_us)
        if trigger == "hold":
            held = True
        elif trigger == "resume" or e.to_state in finals:
            held = False
        if trigger == "breach":
            breaches[json.loads(e.data).get("clock", "")] = e.seq
        elif trigger == "withdrawn":
            said = json.loads(e.data)
            if said.get("alarm") == "breach" and breaches.get(said.get("clock")) == said.get(
                "withdraws"
            ):
                del breaches[said["clock"]]
        elif trigger == "reclassify":
            reclassified = e
        elif trigger == "assign":
            owner = json.loads(e.data).get("to", owner)
        elif trigger == "locate":
            place = json.loads(e.data).get("place", {}).get("to") or {}
        elif trigger == MERGE:
            group = json.loads(e.data).get("into")
        elif trigger == UNMERGE:
            group = None
        elif trigger == GROUP:
            group = ticket.id if json.loads(e.data).get("reports") else None
        elif '"owner"' in e.data:  # a first answer that took the ticket over (P5)
            owner = json.loads(e.data).get("owner", {}).get("to", owner)
    timeline = [moment(e) for e in events] if ordered else in_time_order(events)
    if ticket.owner != owner:
        if owner == first.actor:
            return f"the ticket's owner is {ticket.owner}, its history says {owner} took it in"
        return f"the ticket's owner is {ticket.owner}, its history hands it to {owner}"
    if ticket.parent != group:
        return (
            f"the ticket's group is {ticket.parent or 'none'}, its history says {group or 'none'}"
        )
    if place_of(ticket) != place:
        return f"the ticket is placed at {place_of(ticket) or 'nowhere'}, its history says {place}"
    stored = (ticket.tier, ticket.kind, ticket.cause)
    expected = _classification(first, reclassified, stored)
    if expected is not None and stored != expected:
        return f"the ticket is classified {_words(stored)}, its history says {_words(expected)}"
    if bool(ticket.on_hold) != held:
        return f"the ticket says on hold {bool(ticket.on_hold)}, its history says {held}"
    key = (ticket.tier, ticket.kind, ticket.channel, ticket.cause)
    cache = plans if plans is not None else {}
    plan = cache.get(key)
    if plan is None:
        plan = cache[key] = _plan(contract, Classification(*key))
    rows = {r.name: r for r in clocks}
    lifted_before = reclassified.seq if reclassified is not None else 0
    for spec, limit in plan:
        row = rows.get(spec.name)
        if row is None and spec.start.isdisjoint(triggers):
            continue  # never started, and no row says otherwise: nothing to replay
        facts = replay(spec, limit, finals, timeline) if limit is not None else None
        if facts is None and row is None:
            continue
        if facts is None:
            return f"its {spec.name} clock should not exist by its history"
        if row is None:
            return f"its {spec.name} clock is missing"
        if clk.facts_of(row, spec.calendar) != facts or row.due_us != clk.due_at(facts):
            return f"its {spec.name} clock differs from what its history gives"
        if row.breach_fired and spec.name not in breaches:
            return f"its {spec.name} clock says a breach fired; its history has none"
        if not row.breach_fired and breaches.get(spec.name, -1) > lifted_before:
            return f"its {spec.name} clock lost the breach its history records"
        # As draft.row_of stores it: a stopped clock by its facts, a running one by its alarm.
        stopped = facts.stopped
        breached = clk.is_breached(facts, stopped) if stopped is not None else row.breach_fired
        if bool(row.breached) != bool(breached):
            return (
                f"its {spec.name} clock says breached {bool(row.breached)}, its history {breached}"
            )
    if ticket.urgent_us != urgency(ticket.state in finals, clocks):
        return "its place in the urgency order (urgent_us) is not what its clocks give"
    return None


Plan = tuple[tuple[ClockSpec, "int | None"], ...]


def _plan(contract: Contract, c: Classification) -> Plan:
    """Each clock of the contract with its limit for ``c``, or ``None`` where it does not
    apply: the same for every ticket of that classification."""
    return tuple(
        (spec, spec.limit_us(c) if spec.applies_to(c) else None)
        for spec in contract.clocks.values()
    )


@functools.lru_cache(maxsize=1024)
def _opened_as(tier: str, kind: str, cause: str | None) -> str:
    """How the intake event's data spells a classification (keys sorted)."""
    written = json.dumps({"cause": cause, "kind": kind, "tier": tier}, ensure_ascii=False)
    return f'"opened_as": {written}'


def _classification(
    intake: EventRecord, reclassified: EventRecord | None, stored: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """(tier, kind, cause) by the history: the last reclassification's, else the intake's (when
    the intake recorded it; tickets from before that are not checked on this point)."""
    if reclassified is not None:
        after = json.loads(reclassified.data).get("after", {})
        return (after.get("tier"), after.get("kind"), after.get("cause"))
    data = intake.data
    if '"opened_as"' not in data:
        return None
    # The common case without parsing: the data is written with sorted keys, so the stored
    # classification, written the same way, is in it exactly when the two agree.
    if _opened_as(*stored) in data:
        return stored
    opened = json.loads(data).get("opened_as") or {}
    return (opened.get("tier"), opened.get("kind"), opened.get("cause"))


def _words(c: tuple[str, str, str | None] | tuple[Any, ...]) -> str:
    tier, kind, cause = c
    return f"tier {tier}, kind {kind}, cause {cause or 'none'}"
