"""Escalation chains as timers: pages that reach people until someone acknowledges (P5).

A broken promise on a ticket whose tier has a chain (``[escalation.TIER]`` in people.toml)
starts it, in the breach's own transaction: a row in ``escalations`` whose ``next_us`` is the
next step's due time — indexed like the clocks' timers, swept like them, nothing held in memory.
Each step, when it fires, resolves its roles to the people on duty *at that moment* (rosters
and overrides), records a ``page`` event naming them and how they are reached, and queues the
notification that carries them; then waits, and goes on to the next step, the chain repeating
``repeat`` times. ``ack`` stops it; ``escalate`` moves to the next step at once.

Exactly once across racing schedulers: a step is written with the ticket's version check and a
conditional update of the chain's row; a second scheduler's attempt writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .draft import Draft
from .due import each_due
from .errors import ConcurrentUpdate, IllegalTransition, UnknownTicket
from .records import EscalationRecord
from .times import from_us

if TYPE_CHECKING:
    from .audit import Sealer
    from .people import Chain, People
    from .store import Store, Unit
    from .versions import Contracts

log = logging.getLogger("faultflow")

RETRIES = 10
SYSTEM = "faultflow"


@dataclass(frozen=True, slots=True)
class Page:
    """One step that fired: whom it reached."""

    ticket: str
    chain: str
    step: int
    round: int
    people: tuple[str, ...]
    gaps: tuple[str, ...]


def chain_of(people: People | None, tier: str) -> Chain | None:
    return people.chains.get(tier) if people is not None else None


def on_breach(u: Unit, draft: Draft, people: People | None, now_us: int) -> None:
    """After a change that fired a breach (same transaction): start the tier's chain, unless
    one is running already."""
    if people is None or not any(alarm == "breach" for _, alarm, _ in draft.fired):
        return
    tid = draft.ticket.id
    chain = chain_of(people, draft.ticket.tier)
    if chain is None:
        return
    old = u.escalation(tid)
    if old is not None and old.status == "running":
        return
    u.put_escalation(EscalationRecord(tid, chain.name, 0, 1, "running", now_us, now_us), old)


def sweep(
    store: Store,
    contracts: Contracts,
    people: People,
    now_us: int,
    sealer: Sealer,
    batch: int = 200,
) -> list[Page]:
    """Fire every escalation step due at ``now_us``; what was paged."""
    pages: list[Page] = []
    for tid in each_due(lambda: store.due_escalations(now_us, batch)):
        page = fire(store, contracts, people, tid, now_us, sealer)
        if page is not None:
            pages.append(page)
    return pages


def fire(
    store: Store, contracts: Contracts, people: People, tid: str, now_us: int, sealer: Sealer
) -> Page | None:
    """Fire the due step of one ticket's chain, once."""
    for _ in range(RETRIES):
        try:
            with store.unit() as u:
                esc = u.escalation(tid)
                if esc is None or esc.status != "running" or esc.next_us is None:
                    return None
                if esc.next_us > now_us:
                    return None
                page, draft, moved = _step(u, contracts, people, esc, now_us, sealer, SYSTEM)
                u.write(draft.change())
                u.put_escalation(moved, esc)
            return page
        except ConcurrentUpdate:
            continue  # another scheduler or an operator moved it: look again
    return None


def _step(
    u: Unit,
    contracts: Contracts,
    people: People,
    esc: EscalationRecord,
    now_us: int,
    sealer: Sealer,
    actor: str,
    reason: str | None = None,
) -> tuple[Page, Draft, EscalationRecord]:
    record, clocks = u.load(esc.ticket_id)
    if record is None:
        raise UnknownTicket(esc.ticket_id)
    chain = people.chains.get(esc.chain)
    draft = Draft(contracts.for_ticket(record), record, clocks, now_us, sealer=sealer)
    at_us = max(now_us, record.last_us)
    if chain is None:  # the chain left people.toml: end it, and say so
        draft.record("page", record.state, at_us, actor,
                     note=f"escalation chain {esc.chain} no longer exists: stopped",
                     data={"chain": esc.chain, "stopped": True})  # fmt: skip
        return (Page(esc.ticket_id, esc.chain, esc.step, esc.round, (), ()), draft,
                esc._replace(status="finished", next_us=None))  # fmt: skip
    step = chain.steps[esc.step]
    found, gaps = people.resolve(step.notify, from_us(now_us, people.zone))
    paged = [
        {"person": d.person.id, "name": d.person.name, "contacts": dict(d.person.contacts)}
        for d in found
    ]
    how = ", ".join(
        f"{d.person.name} ({', '.join(d.person.contacts) or 'no contact'})" for d in found
    )
    note = (
        f"escalation {chain.name}, step {esc.step + 1} of {len(chain.steps)}, round "
        f"{esc.round} of {chain.repeat}: paged {how or 'nobody'}"
        + (f"; nobody holds {', '.join(gaps)}" if gaps else "")
    )
    data: dict[str, Any] = {
        "chain": chain.name,
        "step": esc.step + 1,
        "round": esc.round,
        "roles": list(step.notify),
        "paged": paged,
    }
    if gaps:
        data["gaps"] = gaps
    t = draft.ticket
    draft.record(
        "page",
        t.state,
        at_us,
        actor,
        note=note,
        reason=reason,
        data=data,
        notify={
            "chain": chain.name,
            "step": esc.step + 1,
            "round": esc.round,
            "roles": list(step.notify),
            "people": paged,
            "recipients": [p["name"] for p in paged],
        },
        kind="escalation",
    )
    moved = _next(chain, esc, now_us, found_nobody=not found)
    page = Page(t.id, chain.name, esc.step, esc.round, tuple(d.person.id for d in found),
                tuple(gaps))  # fmt: skip
    return page, draft, moved


def _next(chain: Chain, esc: EscalationRecord, now_us: int, found_nobody: bool) -> EscalationRecord:
    """The chain after step ``esc.step`` fired: the next step after its wait (at once when the
    step reached nobody: never silence), the next round, or finished."""
    step = chain.steps[esc.step]
    wait = step.wait if step.wait is not None and not found_nobody else timedelta(0)
    due = now_us + int(wait / timedelta(microseconds=1))
    if esc.step + 1 < len(chain.steps):
        return esc._replace(step=esc.step + 1, next_us=due)
    if esc.round < chain.repeat:
        return esc._replace(step=0, round=esc.round + 1, next_us=due)
    return esc._replace(status="finished", next_us=None)


def ack(
    store: Store, contracts: Contracts, tid: str, actor: str, now_us: int, sealer: Sealer,
    note: str | None = None,
) -> None:  # fmt: skip
    """Acknowledge: the chain stops; who and when are in the history."""
    for _ in range(RETRIES):
        try:
            with store.unit() as u:
                esc = u.escalation(tid)
                record, clocks = u.load(tid)
                if record is None:
                    raise UnknownTicket(tid)
                if esc is None or esc.status != "running":
                    raise IllegalTransition(
                        f"ticket {tid} has no escalation running to acknowledge"
                    )
                draft = Draft(contracts.for_ticket(record), record, clocks, now_us, sealer=sealer)
                said = note or f"acknowledged: escalation {esc.chain} stopped"
                where = {"chain": esc.chain, "step": esc.step + 1, "round": esc.round}
                at_us = max(now_us, record.last_us)
                draft.record("ack", record.state, at_us, actor, note=said, data=where)
                u.write(draft.change())
                u.put_escalation(esc._replace(status="acknowledged", next_us=None), esc)
            return
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"ticket {tid} kept changing; nothing was written: try again")


def escalate(
    store: Store, contracts: Contracts, people: People, tid: str, actor: str, reason: str,
    now_us: int, sealer: Sealer,
) -> Page:  # fmt: skip
    """Move up by hand (P5 向上升级): fire the next step now (starting the tier's chain if none
    runs), with the reason in the history."""
    for _ in range(RETRIES):
        try:
            with store.unit() as u:
                record, _ = u.load(tid)
                if record is None:
                    raise UnknownTicket(tid)
                if record.state in contracts.for_ticket(record).finals:
                    raise IllegalTransition(f"ticket {tid} is {record.state}: nothing to escalate")
                esc = u.escalation(tid)
                chain = chain_of(people, record.tier)
                if esc is None:
                    if chain is None:
                        raise IllegalTransition(
                            f"tier {record.tier} has no escalation chain in {people.source}"
                        )
                    esc = EscalationRecord(tid, chain.name, 0, 1, "running", now_us, now_us)
                    u.put_escalation(esc, None)
                elif esc.status != "running":
                    # acknowledged or finished: upward from where it stopped (the step after
                    # the last one that paged; the top of the chain when it had finished)
                    resumed = esc._replace(status="running", next_us=now_us)
                    u.put_escalation(resumed, esc)
                    esc = resumed
                old = esc
                page, draft, moved = _step(u, contracts, people, esc, now_us, sealer, actor, reason)
                u.write(draft.change())
                u.put_escalation(moved, old)
            return page
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"ticket {tid} kept changing; nothing was written: try again")
