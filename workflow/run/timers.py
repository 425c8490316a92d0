"""The timers: find the alarms due (rows indexed by due time) and fire each exactly once.

A sweep asks the store for the tickets with an alarm due, then fires each ticket's alarms in its
own transaction — a change with nothing asked of it, given to the unit of work like any other:
the alarms due fire, a breach starts its chain. Several sweepers on several hosts may race for
the same ticket; the version check lets exactly one of them record each alarm.
"""

from __future__ import annotations

import logging
from datetime import datetime

from ..errors import ConcurrentUpdate
from ..tickets.unit import Step, UnitOfWork
from ..tickets.views import Fired
from ..timekeeping.times import from_us
from .due import each_due

log = logging.getLogger("faultflow")


def sweep(work: UnitOfWork, now_us: int, batch: int = 500) -> list[Fired]:
    """Fire every warning and breach due at ``now_us``, in batches; what this call fired."""
    fired: list[Fired] = []
    for tid in each_due(lambda: work.ctx.store.due(now_us, batch)):
        fired.extend(fire_ticket(work, tid, now_us))
    return fired


def _nothing(step: Step) -> None:
    """A timer asks for no change of its own: what fell due is the change."""


def fire_ticket(work: UnitOfWork, tid: str, now_us: int) -> list[Fired]:
    """Fire one ticket's alarms due by ``now_us`` in one transaction."""
    try:
        done = work.change(tid, _nothing, at_us=now_us, missing_ok=True)
    except ConcurrentUpdate:
        log.warning("ticket %s: its alarms kept meeting other writers; the next tick retries", tid)
        return []
    draft = done.draft
    if draft is None or not done.written:
        return []
    zone = draft.contract.timezone
    return [Fired(tid, name, alarm, due.astimezone(zone)) for name, alarm, due in draft.fired]


def next_due(work: UnitOfWork) -> datetime | None:
    """When the next warning or breach falls due (aware, in the contract's zone), or ``None``."""
    us = work.ctx.store.next_due()
    return from_us(us, work.ctx.contract.timezone) if us is not None else None
