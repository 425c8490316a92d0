"""The Engine's API for the background work and the people on duty (mixed into
:class:`~faultflow.Engine`): tick, deliver, the scheduler loop, rosters and overrides."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..duty.overrides import add_override, listed, on_duty, remove, required, roster
from ..errors import InvalidInput
from ..tickets.parts import At, EngineParts
from ..timekeeping.times import aware, to_us
from . import escalation, loop, sweeps
from .escalation import Paging, acknowledged, escalated
from .modules import lanes

if TYPE_CHECKING:
    from ..duty.people import OnDuty, People
    from ..run.delivery import Attempt
    from ..tickets.views import Fired, Ticket


class RunAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def ack(self, ticket_id: str, actor: str | None = None, note: str | None = None) -> Ticket:
        """Acknowledge the ticket's escalation: its chain of pages stops."""
        return acknowledged(self.work, self._changes.policy, ticket_id, actor, note)

    def escalate(self, ticket_id: str, reason: str, actor: str | None = None) -> Ticket:
        """Move the escalation up by hand (P5): the next step fires now, with the reason."""
        policy = self._changes.policy
        return escalated(self.work, policy, self._roster(), ticket_id, reason, actor)

    def mail_tally(self) -> tuple[int, int]:
        """Messages the mailbox read, and refused (moved to ``faultflow/refused``), in this
        process since it started."""
        from .mailbox import TALLY

        return TALLY.read, TALLY.refused

    def tick(self, now: At = None, batch: int = 500, deliver: bool = True) -> builtins.list[Fired]:
        """Keep the maintenance windows (those begun pause their chains, those over open what
        still stands), fire every warning and breach due at ``now`` (default: the engine
        clock) once, then the escalation steps due, then keep the inspection rounds (made a
        day ahead; those not done by their due time open a ticket and page) and the
        follow-ups (those past their time are missed); with ``deliver``, then deliver the
        notifications due."""
        moment = aware(now, self.now(), self.contract.timezone)
        roster = self._roster if self.people is not None else None
        self.keep_windows(moment)  # first: a window begun pauses before its chains step on
        fired = sweeps.fire(self.work, roster, to_us(moment), batch)
        self.keep_rounds(moment)
        self.keep_followups(moment)
        if deliver:
            self.deliver(moment)
        return fired

    def deliver(self, now: At = None, budget_s: float = 20.0) -> builtins.list[Attempt]:
        """Deliver the notifications due now for at most about ``budget_s`` s; every attempt.
        Failures are recorded, logged and retried with backoff."""
        now_us = to_us(aware(now, self.now(), self.contract.timezone))
        notifiers = self.registry.notifiers
        return sweeps.deliver(self.work, notifiers, now_us, budget_s, self._recorded())

    def next_due(self) -> datetime | None:
        """When the next warning, breach, escalation step or inspection round falls due, or
        ``None``."""
        found = [sweeps.next_due(self.work, self.people is not None), self.next_round_due(),
                 self.next_window_change(), self.next_followup_due()]  # fmt: skip
        return min((d for d in found if d is not None), default=None)

    def maintain(self, integrity: bool = False) -> None:
        """Housekeeping for long runs (hourly in ``run``): fold the SQLite WAL back into the
        file; with ``integrity``, check the file first (:class:`DatabaseDamaged` if damaged)."""
        self.store.maintain(integrity)

    def stop(self) -> None:
        """Ask a running :meth:`run` loop to return."""
        self._stop.set()

    def run(
        self, max_sleep: float = 1.0,
        on_fired: Callable[[builtins.list[Fired]], None] | None = None, handle_signals: bool = True,
    ) -> None:  # fmt: skip
        """Keep firing due alarms, paging and delivering until :meth:`stop`, SIGINT or SIGTERM
        (the run loop, loop.py). Sleeps until the next due time, at most ``max_sleep`` s;
        errors are retried."""
        loop.run(self.lanes(on_fired), self._stop, max_sleep, handle_signals)

    def lanes(self, on_fired: Callable[[builtins.list[Fired]], None] | None = None) -> Any:
        """The run loop's lanes for this engine: timers, escalation and maintenance on one,
        delivery on another (modules.py); ``serve`` adds the mailbox's."""
        roster = self._roster if self.people is not None else None
        keepers = [("inspections", self.keep_rounds, self.next_round_due),
                   ("windows", self.keep_windows, self.next_window_change),
                   ("followups", self.keep_followups, self.next_followup_due),
                   ("monthly", self.keep_monthly, self.next_monthly_due)]  # fmt: skip
        return lanes(self.work, roster, lambda: self.registry.notifiers, self._recorded(),
                     on_fired, keepers)  # fmt: skip

    def _recorded(self) -> Callable[[Attempt], None] | None:
        """Whether each page reached its people goes into the history (with people only)."""
        if self.people is None:
            return None
        return lambda a: sweeps.record_delivery(self.work, a)

    def _roster(self) -> People:
        """The people file with the overrides recorded in the database in force."""
        return roster(self.store, required(self.people))

    def oncall(self, role: str | None = None, at: At = None) -> dict[str, builtins.list[OnDuty]]:
        """Who holds each role (or ``role``) at ``at`` (default now), and until when."""
        moment = aware(at, self.now(), self.contract.timezone)
        return on_duty(self.store, self.people, role, moment)

    def paging(self, ticket_ids: builtins.list[str]) -> dict[str, Paging]:
        """Where the escalation of each of ``ticket_ids`` stands (those that have one): the
        step that last paged, whom and by what, delivered or not, acknowledged by whom."""
        return escalation.paging(self.store, self.people, ticket_ids, self.contract.timezone)

    def shifts(
        self, start: At = None, end: At = None, role: str | None = None
    ) -> dict[str, builtins.list[tuple[datetime, datetime, tuple[str, ...]]]]:
        """Each role's holders (or ``role``'s) from ``start`` (default now) to ``end`` (default
        7 days later), one entry per change of hands: (from, to, person ids)."""
        zone = self.contract.timezone
        begin = aware(start, self.now(), zone) if start is not None else self.now()
        stop = aware(end, self.now(), zone) if end is not None else begin + timedelta(days=7)
        if stop <= begin:
            raise InvalidInput(f"the window is empty: {stop.isoformat()} is not after "
                               f"{begin.isoformat()}")  # fmt: skip
        held = self._roster()
        names = [role] if role is not None else list(held.roles)
        table: dict[str, builtins.list[tuple[datetime, datetime, tuple[str, ...]]]] = {}
        for name in names:
            rows, at = [], begin
            while at < stop:
                duty = held.on_duty(name, at)
                until = min((d.until for d in duty if d.until is not None), default=None)
                rows.append((at, min(until, stop) if until else stop,
                             tuple(d.person.id for d in duty)))  # fmt: skip
                if until is None:
                    break
                at = until
            table[name] = rows
        return table

    def override(
        self, role: str, person: str, start: At, end: At, reason: str, actor: str | None = None
    ) -> int:
        """Put ``person`` in ``role`` from ``start`` to ``end`` (a swap, sick leave); its id.
        Refused if it overlaps another override of the role."""
        now, zone, policy = self.now(), self.contract.timezone, self._changes.policy
        span = to_us(aware(start, now, zone)), to_us(aware(end, now, zone))
        said, who = policy.checked("reason", reason), policy.actor_name(actor or "system")
        return add_override(self.store, required(self.people), role, person, *span, said, who,
                            to_us(now))  # fmt: skip

    def overrides(self, removed: bool = False) -> builtins.list[dict[str, Any]]:
        """The overrides recorded (``removed``: those removed too), as JSON-ready dicts."""
        return listed(self.store, self.contract.timezone, removed)

    def remove_override(self, override_id: int) -> None:
        """Remove an override (kept in the database, marked removed)."""
        remove(self.store, override_id, self._now_us())
