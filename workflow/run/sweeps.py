"""One pass of the background work, as ``tick`` runs it and the run loop's modules run it
apart: the timers (alarms due), the escalation steps due, and the delivery of the outbox — each
through the area that owns it (timers.py, escalation.py, delivery.py), every ticket change
through the one unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ..db import escalations
from ..errors import FaultflowError
from ..tickets.unit import Step, UnitOfWork
from ..tickets.views import Fired
from ..timekeeping.times import from_us
from . import escalation, timers
from .delivery import deliver as send

if TYPE_CHECKING:
    from ..duty.people import People
    from ..hookspecs import Notifier
    from .delivery import Attempt

log = logging.getLogger("faultflow")

SYSTEM = "faultflow"


def fire(
    work: UnitOfWork, roster: Callable[[], People] | None, now_us: int, batch: int = 500
) -> list[Fired]:
    """Fire the alarms due at ``now_us``, then the escalation steps due (the chains the
    breaches just started among them); the alarms fired."""
    work.ctx.contracts.refresh()  # a scheduler outlives a `contract apply`
    fired = timers.sweep(work, now_us, batch)
    if roster is not None:
        escalation.sweep(work, roster(), now_us)
    return fired


def deliver(
    work: UnitOfWork,
    notifiers: Mapping[str, Notifier],
    now_us: int,
    budget_s: float,
    recorded: Callable[[Attempt], None] | None,
) -> list[Attempt]:
    """Deliver the notifications due, for about ``budget_s`` s; ``recorded`` is told of each
    page's final attempt (its history says whether the page reached its people)."""
    contract = work.ctx.contract
    if not contract.notifiers:
        return []

    attempts = send(work.ctx.store, contract, notifiers, now_us, budget_s)
    if recorded is not None:
        for a in attempts:
            if a.kind == "escalation" and a.final:
                recorded(a)
    return attempts


def next_due(work: UnitOfWork, chains: bool) -> datetime | None:
    """When the next warning, breach or (with ``chains``) escalation step falls due."""
    due = timers.next_due(work)
    step = escalations.next_due(work.ctx.store) if chains else None
    if step is None:
        return due
    at = from_us(step, work.ctx.contract.timezone)
    return at if due is None or at < due else due


def record_delivery(work: UnitOfWork, a: Attempt) -> None:
    """Record in the ticket's history how a page's delivery ended (delivered, or given up with
    the reason); a failure to record it is logged, never raised into delivery."""
    outcome = "delivered" if a.ok else f"NOT delivered ({a.error})"
    about = f"the page of seq {a.seq}" if a.seq is not None else "an escalation"
    note = f"{about}, through {a.notifier}: {outcome}"
    data = {"notifier": a.notifier, "page": a.seq, "ok": a.ok, "attempts": a.attempt}
    if a.error:
        data["error"] = a.error

    def record(s: Step) -> None:
        s.draft.record("delivered", s.draft.ticket.state, s.at_us, SYSTEM, note=note, data=data)

    try:
        work.change(a.ticket, record)
    except FaultflowError as err:
        log.warning("could not record the delivery of %s on %s: %s", about, a.ticket, err)
