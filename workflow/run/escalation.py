"""Escalation chains as timers: pages that reach people until someone acknowledges (P5).

A broken promise on a ticket whose tier has a chain (``[escalation.TIER]`` in people.toml)
starts it, in the breach's own transaction (the unit of work does, whoever found the breach):
a row in ``escalations`` whose ``next_us`` is the next step's due time — indexed like the
clocks' timers, swept like them, nothing held in memory.
Each step, when it fires, resolves its roles to the people on duty *at that moment* (rosters
and overrides), records a ``page`` event naming them and how they are reached, and queues the
notification that carries them; then waits, and goes on to the next step, the chain repeating
``repeat`` times. ``ack`` stops it; ``escalate`` moves to the next step at once.

Every step, ack and escalation is a command given to the unit of work (unit.py), so what fell
due on the ticket fires first and a breach found there starts its chain before the step runs.
Exactly once across racing schedulers: a step is written with the ticket's version check and a
conditional update of the chain's row; a second scheduler's attempt writes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..db import escalations
from ..db.records import EscalationRecord
from ..db.store import Store
from ..duty.people import UNIT_MANAGER
from ..errors import ConcurrentUpdate, IllegalTransition, InvalidInput
from ..tickets.policy import Policy
from ..tickets.queries import ticket
from ..tickets.unit import NothingToDo, Step, UnitOfWork
from ..tickets.views import Ticket
from ..timekeeping.times import from_us, to_us
from ..words import NOTES
from .due import each_due

if TYPE_CHECKING:
    from ..duty.people import Chain, People

log = logging.getLogger("faultflow")

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


def sweep(work: UnitOfWork, people: People, now_us: int, batch: int = 200) -> list[Page]:
    """Fire every escalation step due at ``now_us``; what was paged."""
    pages: list[Page] = []
    if work.ctx.locate is not None:
        work.ctx.locate.refresh()  # the units' managers as the registry names them now
    for tid in each_due(lambda: escalations.due(work.ctx.store, now_us, batch)):
        try:
            page = fire(work, people, tid, now_us)
        except ConcurrentUpdate as err:  # kept changing under us: the next pass looks again
            log.warning("ticket %s: escalation step not fired: %s", tid, err)
            continue
        if page is not None:
            pages.append(page)
    return pages


def fire(work: UnitOfWork, people: People, tid: str, now_us: int) -> Page | None:
    """Fire the due step of one ticket's chain, once (``None``: none was due)."""

    def step_due(s: Step) -> None:
        esc = s.tx.escalation(s.draft.ticket.id)
        if esc is None or esc.status != "running" or esc.next_us is None or esc.next_us > now_us:
            raise NothingToDo  # another scheduler fired it, or someone acknowledged
        s.result = _page(s, people, esc, now_us, SYSTEM, managers=_managers(work))

    return work.change(tid, step_due, missing_ok=True).result


def _managers(work: UnitOfWork) -> Callable[[str], str | None] | None:
    """Who manages a unit, by the registry as the engine last read it."""
    return work.ctx.locate.manager if work.ctx.locate is not None else None


def _page(
    s: Step, people: People, esc: EscalationRecord, now_us: int, actor: str,
    reason: str | None = None, managers: Callable[[str], str | None] | None = None,
) -> Page:  # fmt: skip
    """Page the people of the chain's current step (recorded on the draft) and move the chain
    on (its row, in the same transaction). ``managers``: a unit's customer manager, who
    the role :data:`UNIT_MANAGER` reaches on a ticket of that unit."""
    draft, at_us = s.draft, s.at_us
    record = draft.ticket
    chain = people.chains.get(esc.chain)
    if chain is None:  # the chain left people.toml: end it, and say so
        draft.record("page", record.state, at_us, actor,
                     note=f"escalation chain {esc.chain} no longer exists: stopped",
                     data={"chain": esc.chain, "stopped": True})  # fmt: skip
        s.tx.put_escalation(esc._replace(status="finished", next_us=None), esc)
        return Page(esc.ticket_id, esc.chain, esc.step, esc.round, (), ())
    step = chain.steps[esc.step]
    manager = managers(record.unit) if managers is not None and record.unit else None
    bound = {UNIT_MANAGER: manager} if manager else None
    found, gaps = people.resolve(step.notify, from_us(now_us, people.zone), bound)
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
    draft.record(
        "page",
        record.state,
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
    s.tx.put_escalation(_next(chain, esc, now_us, found_nobody=not found), esc)
    return Page(record.id, chain.name, esc.step, esc.round, tuple(d.person.id for d in found),
                tuple(gaps))  # fmt: skip


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


def ack(work: UnitOfWork, tid: str, actor: str, note: str | None = None) -> None:
    """Acknowledge: the chain stops; who and when are in the history. A breach that fell due
    before the ack starts its chain first, and the ack stops that one."""

    def acknowledge(s: Step) -> None:
        esc = s.tx.escalation(s.draft.ticket.id)
        if esc is None or esc.status not in ("running", "paused"):
            raise IllegalTransition(f"ticket {tid} has no escalation running to acknowledge")
        said = note or NOTES["ack"].format(chain=esc.chain)
        where = {"chain": esc.chain, "step": esc.step + 1, "round": esc.round}
        s.draft.record("ack", s.draft.ticket.state, s.at_us, actor, note=said, data=where)
        s.tx.put_escalation(esc._replace(status="acknowledged", next_us=None), esc)

    work.change(tid, acknowledge)


def escalate(
    work: UnitOfWork, people: People, tid: str, actor: str, reason: str, first: bool = False
) -> Page | None:
    """Move up by hand (P5 向上升级): fire the next step now (starting the tier's chain if none
    runs), with the reason in the history. ``first``: only start the chain — nothing (``None``)
    if the ticket has one already (a broken promise found outside the ticket, e.g. a missed
    inspection round, pages once however often it is found)."""

    def upward(s: Step) -> None:
        record, now_us = s.draft.ticket, s.draft.recorded_us
        if record.state in s.draft.contract.finals:
            raise IllegalTransition(f"ticket {tid} is {record.state}: nothing to escalate")
        esc = s.tx.escalation(record.id)
        if first and esc is not None:
            raise NothingToDo
        if esc is None:
            chain = people.chains.get(record.tier)
            if chain is None:
                raise IllegalTransition(
                    f"tier {record.tier} has no escalation chain in {people.source}"
                )
            esc = EscalationRecord(record.id, chain.name, 0, 1, "running", now_us, now_us)
            s.tx.put_escalation(esc, None)
        elif esc.status != "running":
            # acknowledged or finished: upward from where it stopped (the step after the last
            # one that paged; the top of the chain when it had finished)
            resumed = esc._replace(status="running", next_us=now_us)
            s.tx.put_escalation(resumed, esc)
            esc = resumed
        s.result = _page(s, people, esc, now_us, actor, reason, _managers(work))

    if work.ctx.locate is not None:
        work.ctx.locate.refresh()
    page: Page | None = work.change(tid, upward).result
    return page


def acknowledged(
    work: UnitOfWork, policy: Policy, tid: str, actor: str | None, note: str | None
) -> Ticket:
    """:func:`ack` with the operator's input checked; the ticket afterwards."""
    who = policy.actor_name(actor or "system")
    ack(work, tid, who, policy.checked("note", note))
    return ticket(work.ctx.store, work.ctx.contracts, tid, to_us(work.ctx.now()))


def escalated(
    work: UnitOfWork, policy: Policy, people: People, tid: str, reason: str, actor: str | None
) -> Ticket:
    """:func:`escalate` with the operator's input checked; the ticket afterwards."""
    said = policy.checked("reason", reason)
    if not said:
        raise InvalidInput("an escalation by hand needs a reason (--reason)")
    escalate(work, people, tid, policy.actor_name(actor or "system"), said)
    return ticket(work.ctx.store, work.ctx.contracts, tid, to_us(work.ctx.now()))


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a ticket's escalation stands, as the duty board shows it: the chain, its status
    (running, acknowledged, finished), the step and round that last paged, whom it paged
    (names) and by what (contact kinds), whether that page was delivered (``True``), failed
    everywhere (``False``) or is on its way (``None``), who acknowledged and when, and when the
    next step falls due."""

    chain: str
    status: str
    step: int
    steps: int
    round: int
    paged: tuple[str, ...]
    by: tuple[str, ...]
    delivered: bool | None
    acked_by: str | None
    acked_at: datetime | None
    next_at: datetime | None


def _name(people: People | None, actor: str) -> str:
    """A person's name for their id (the login of who acknowledged), else the id."""
    person = people.people.get(actor) if people is not None else None
    return person.name if person is not None else actor


def paging(
    store: Store, people: People | None, ticket_ids: list[str], zone: Any
) -> dict[str, Paging]:
    """The escalation of each ticket of ``ticket_ids`` that has one (:class:`Paging`)."""
    out = {}
    for tid, (esc, events) in escalations.paging(store, ticket_ids).items():
        last_page: tuple[int, dict[str, Any]] | None = None
        outcomes: list[bool] = []
        acked: tuple[str, int] | None = None
        for seq, trigger, at_us, actor, text in events:
            data = json.loads(text) if text else {}
            if trigger == "page" and not data.get("stopped"):
                last_page, outcomes, acked = (seq, data), [], None
            elif trigger == "delivered" and last_page and data.get("page") == last_page[0]:
                outcomes.append(bool(data.get("ok")))
            elif trigger == "ack":
                acked = (actor, at_us)
        page = last_page[1] if last_page else {}
        chain = people.chains.get(esc.chain) if people is not None else None
        paged = page.get("paged", [])
        out[tid] = Paging(
            chain=esc.chain, status=esc.status, step=int(page.get("step", esc.step + 1)),
            steps=len(chain.steps) if chain is not None else 0,
            round=int(page.get("round", esc.round)),
            paged=tuple(p.get("name") or p.get("person", "") for p in paged),
            by=tuple(dict.fromkeys(k for p in paged for k in p.get("contacts", {}))),
            delivered=True if any(outcomes) else (False if outcomes else None),
            acked_by=_name(people, acked[0]) if acked else None,
            acked_at=from_us(acked[1], zone) if acked else None,
            next_at=from_us(esc.next_us, zone) if esc.next_us is not None else None,
        )  # fmt: skip
    return out
