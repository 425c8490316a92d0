"""The run loop's modules (loop.py): what ``run`` and ``serve`` do in the background.

- :class:`Timers` fires the warnings and breaches due (timers.py);
- :class:`Escalation` fires the escalation steps due (escalation.py);
- :class:`Keeper` makes the inspection rounds ahead and finds those missed, and (in a lane of
  its own) keeps the maintenance windows;
- :class:`Maintenance` folds the SQLite WAL back hourly and checks the file daily;
- :class:`Delivery` delivers the outbox (delivery.py), in a lane of its own;
- :class:`Mailbox` reads the contract's mailbox (mailbox.py), in a lane of its own.

Every ticket change any of them makes goes through the one unit of work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..db import contracts, escalations
from ..timekeeping.times import to_us
from . import escalation, sweeps, timers
from .loop import Lane

if TYPE_CHECKING:
    from ..db.store import Store
    from ..duty.people import People
    from ..hookspecs import Notifier
    from ..tickets.unit import UnitOfWork
    from ..tickets.views import Fired
    from .mailbox import Mailbox as Box

MAINTAIN_EVERY, CHECK_EVERY = 3600.0, 86400.0  # WAL checkpoint hourly; quick_check daily
PLAN_EVERY = 60.0  # seconds between the inspections module's passes, at most
DELIVERY_PASS_S = 2.0  # short passes: a stop is heard soon, and new pages go out between them


def _until(work: UnitOfWork, due_us: int | None) -> float | None:
    """Seconds from now until ``due_us`` (µs), or ``None``."""
    if due_us is None:
        return None
    return (due_us - to_us(work.ctx.now())) / 1e6


class Timers:
    """Fire the alarms due; wake again when the next one falls due."""

    name, budget, polls = "timers", 5.0, True

    def __init__(self, work: UnitOfWork, on_fired: Callable[[list[Fired]], None] | None) -> None:
        self.work, self.on_fired = work, on_fired

    def run_once(self, deadline: float) -> float | None:
        self.work.ctx.contracts.refresh()  # a scheduler outlives a `contract apply`
        fired = timers.sweep(self.work, to_us(self.work.ctx.now()))
        if fired and self.on_fired is not None:
            self.on_fired(fired)
        return _until(self.work, self.work.ctx.store.next_due())


class Escalation:
    """Fire the escalation steps due, resolving roles to the people on duty at that moment."""

    name, budget, polls = "escalation", 5.0, True

    def __init__(self, work: UnitOfWork, roster: Callable[[], People]) -> None:
        self.work, self.roster = work, roster

    def run_once(self, deadline: float) -> float | None:
        escalation.sweep(self.work, self.roster(), to_us(self.work.ctx.now()))
        return _until(self.work, escalations.next_due(self.work.ctx.store))


class Keeper:
    """Keep what is planned ahead: the inspection rounds (make those of the next day, find
    those not done by their due time: inspections/api.py) or the maintenance windows (pause
    the chains where one has begun, open what still stands when one is over:
    maintenance/api.py); wake again when the next one falls due, or in a minute (the next
    day's rounds are made as time moves on; a plan a new contract adds, or a window another
    process scheduled, is seen). Its own schedule (not polled every ``max_sleep``)."""

    budget, polls = 30.0, False

    def __init__(
        self, name: str, work: UnitOfWork, keep: Callable[[], Any], next_due: Callable[[], Any]
    ) -> None:
        self.name, self.work, self.keep, self.next_due = name, work, keep, next_due

    def run_once(self, deadline: float) -> float | None:
        self.keep()
        due = self.next_due()
        wait = _until(self.work, to_us(due)) if due is not None else None
        return min(wait, PLAN_EVERY) if wait is not None else PLAN_EVERY


class Maintenance:
    """Housekeeping for long runs: the WAL folded back hourly, the file checked daily (a
    damaged file stops the loop: writing on would spread the damage), the spent nonces of web
    forms whose tokens have expired forgotten hourly."""

    name, budget, polls = "maintenance", 60.0, False

    def __init__(self, store: Store) -> None:
        self.store = store
        self.maintained = self.checked = float("-inf")  # integrity at start, then daily

    def run_once(self, deadline: float) -> float | None:
        moment = time.monotonic()
        if moment - self.maintained >= MAINTAIN_EVERY:
            integrity = moment - self.checked >= CHECK_EVERY
            self.store.maintain(integrity=integrity)
            contracts.forget_claims(self.store, contracts.SPENT, int(time.time()))
            self.maintained = moment
            if integrity:
                self.checked = moment
        return self.maintained + MAINTAIN_EVERY - time.monotonic()


class Delivery:
    """Deliver the notifications due, within the pass's budget."""

    name, polls = "delivery", True
    budget = DELIVERY_PASS_S + 11.0  # the last attempt of a pass may take its 10 s timeout

    def __init__(
        self,
        work: UnitOfWork,
        notifiers: Callable[[], Mapping[str, Notifier]],
        recorded: Callable[[Any], None] | None,
    ) -> None:
        self.work, self.notifiers, self.recorded = work, notifiers, recorded

    def run_once(self, deadline: float) -> float | None:
        now_us = to_us(self.work.ctx.now())
        sweeps.deliver(self.work, self.notifiers(), now_us, DELIVERY_PASS_S, self.recorded)
        return None


class Mailbox:
    """Read the mailbox once, then wait for new mail with IMAP IDLE (at most ``idle_s``)."""

    name, polls = "mailbox", True

    def __init__(
        self,
        intake: Callable[[bytes], list[Any]],
        box: Box,
        idle_s: float = 10.0,
        on_pass: Callable[[Any], None] | None = None,
    ) -> None:
        self.intake, self.box, self.idle_s, self.on_pass = intake, box, idle_s, on_pass
        self.budget = 60.0 + idle_s

    def run_once(self, deadline: float) -> float | None:
        from .mailbox import fetch, wait_for_mail

        result = fetch(self.intake, self.box)
        if self.on_pass is not None:
            self.on_pass(result)
        wait_for_mail(self.box, self.idle_s)
        return 0.0


def lanes(
    work: UnitOfWork,
    roster: Callable[[], People] | None,
    notifiers: Callable[[], Mapping[str, Notifier]],
    recorded: Callable[[Any], None] | None,
    on_fired: Callable[[list[Fired]], None] | None = None,
    keepers: Sequence[tuple[str, Callable[[], Any], Callable[[], Any]]] = (),
) -> list[Lane]:
    """The scheduler's lanes: maintenance (first: a damaged file is found before anything is
    written into it), timers and escalation (with people) on one, the delivery on its own (a
    receiver that never answers must not delay the next breach), and each keeper of what
    is planned ahead (the inspection rounds, the maintenance windows, the follow-ups) on its own."""
    main: list[Any] = [Maintenance(work.ctx.store), Timers(work, on_fired)]
    if roster is not None:
        main.append(Escalation(work, roster))
    found = [Lane("scheduler", main), Lane("delivery", [Delivery(work, notifiers, recorded)])]
    # each on a lane of its own: a missed round's ticket and page, a window's end opening what
    # still stands, never delay a ticket's breach
    for name, keep, next_due in keepers:
        found.append(Lane(name, [Keeper(name, work, keep, next_due)]))
    return found

