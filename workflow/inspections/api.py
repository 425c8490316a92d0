"""The Engine's API for inspection plans (mixed into :class:`~faultflow.Engine`): when the
contract's rounds fall in a window — what a scheduler plans ahead, and what a person checks
before the rounds are kept (docs/inspections.md)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from ..tickets.parts import At, EngineParts
from ..timekeeping.times import aware

MAX_WINDOW = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Planned:
    """One round as its plan places it: when it is due to start, and by when it must be done."""

    plan: str
    scheduled_at: datetime
    due_at: datetime
    role: str
    targets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan, "scheduled_at": self.scheduled_at.isoformat(),
            "due_at": self.due_at.isoformat(), "role": self.role, "targets": list(self.targets),
        }  # fmt: skip


class InspectionsAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    def planned(
        self, start: At = None, end: At = None, plan: str | None = None
    ) -> builtins.list[Planned]:
        """The rounds the contract's plans place in [``start``, ``end``) (default: the next
        7 days), in time order (of one ``plan``, if given)."""
        contract = self.contract
        now = self.now()
        begin = aware(start, now, contract.timezone) if start is not None else now
        stop = aware(end, now, contract.timezone) if end is not None else begin + timedelta(days=7)
        if stop <= begin:
            raise InvalidInput(
                f"the window is empty: {stop.isoformat()} is not after {begin.isoformat()}"
            )
        if stop - begin > MAX_WINDOW:
            raise InvalidInput("a window of at most a year, please")
        plans = contract.inspections
        if plan is not None and plan not in plans:
            known = ", ".join(plans) or "none in the contract"
            raise InvalidInput(f"no inspection plan {plan!r} (plans: {known})")
        out = []
        for name, p in plans.items():
            if plan is not None and name != plan:
                continue
            due = timedelta(microseconds=p.due_within_us)
            for at in p.recurrence.between(begin, stop):
                at = at.astimezone(contract.timezone)
                out.append(Planned(name, at, at + due, p.role, p.targets))
        out.sort(key=lambda r: (r.scheduled_at, r.plan))
        return out
