"""Inspection rounds, as pure logic: a round's record made from its plan, where a round stands
(its status), and what an answer to a checklist item is worth (a value, and whether it is a
finding). No database here: ``api.py`` reads and writes through ``db/rounds.py``.

A round's life: ``planned`` (made by the planner ahead of time) → ``running`` (someone started
it, or recorded a first answer) → ``done`` (every item that must be answered was) or
``skipped`` (with a reason). Beside that, its promise: a round not done by its due time is
found by the sweep (``breached_us``) — a broken promise that opens a ticket and pages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..contract.model import ChecklistItem, Inspection
from ..db.records import RoundRecord
from ..errors import InvalidInput
from ..timekeeping.times import from_us, to_us

STATUSES = ("planned", "due", "running", "done", "late", "missed", "skipped")
"""Where a round stands: not yet begun (``planned``: before its time; ``due``: its time has
come), ``running``, finished in time (``done``) or after its due time (``late``), not finished
by its due time (``missed``; also one skipped only after it), or ``skipped`` with a reason."""

OK_WORDS = {
    "ok": True, "yes": True, "y": True, "true": True, "1": True, "正常": True, "是": True,
    "not ok": False, "not-ok": False, "nok": False, "no": False, "n": False, "false": False,
    "0": False, "异常": False, "否": False, "故障": False,
}  # fmt: skip
"""What ``faultflow inspect record`` reads as an answer to an ``ok`` item."""


def round_id(plan: str, at: datetime) -> str:
    """A round's id: its plan and its scheduled wall-clock time, ``core-daily/20261207T0900``."""
    stamp = at.strftime("%Y%m%dT%H%M") + (at.strftime("%S") if at.second else "")
    return f"{plan}/{stamp}"


def made(plan: Inspection, at: datetime, now_us: int) -> RoundRecord:
    """The record of ``plan``'s round at ``at``, as the planner makes it at ``now_us``."""
    scheduled = to_us(at)
    items = [{"item": i.item, "kind": i.kind, "min": i.min, "max": i.max} for i in plan.checklist]
    return RoundRecord(
        id=round_id(plan.name, at), plan=plan.name, scheduled_us=scheduled,
        due_us=scheduled + plan.due_within_us, planned_us=now_us, late=now_us > scheduled,
        role=plan.role, targets=json.dumps(list(plan.targets), ensure_ascii=False),
        checklist=json.dumps(items, ensure_ascii=False), tier=plan.tier, state="planned",
        started_us=None, started_by=None, finished_us=None, finished_by=None, reason=None,
        answers="{}", breached_us=None, ticket=None, findings="[]", version=1,
    )  # fmt: skip


def status(r: RoundRecord, now_us: int) -> str:
    """Where ``r`` stands at ``now_us`` (one of :data:`STATUSES`)."""
    if r.state == "skipped":  # after its due time, skipping does not unbreak the promise
        return "missed" if r.finished_us is not None and r.finished_us > r.due_us else "skipped"
    if r.state == "done":
        return "late" if r.finished_us is not None and r.finished_us > r.due_us else "done"
    if now_us >= r.due_us or r.breached_us is not None:
        return "missed"
    if r.state == "running":
        return "running"
    return "due" if now_us >= r.scheduled_us else "planned"


def items(r: RoundRecord) -> list[ChecklistItem]:
    """The round's checklist, as its plan had it when the round was made."""
    return [ChecklistItem(**i) for i in json.loads(r.checklist)]


def item(r: RoundRecord, name: str) -> ChecklistItem:
    """The checklist item ``name`` of ``r`` (:class:`InvalidInput` naming the items if none)."""
    for i in items(r):
        if i.item == name:
            return i
    known = ", ".join(i.item for i in items(r))
    raise InvalidInput(f"round {r.id} has no checklist item {name!r} (its items: {known})")


def answer(i: ChecklistItem, raw: Any) -> tuple[Any, bool]:
    """The value of an answer to ``i`` and whether it is a finding: "not ok", or a number out
    of its bounds. A text is never a finding by itself. :class:`InvalidInput` if the answer
    does not fit the item's kind."""
    if i.kind == "ok":
        if isinstance(raw, bool):
            return raw, not raw
        word = str(raw).strip().casefold()
        if word not in OK_WORDS:
            raise InvalidInput(f"{i.item}: answer ok or 'not ok' (not {str(raw)!r})")
        return OK_WORDS[word], not OK_WORDS[word]
    if i.kind == "number":
        try:
            value = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise InvalidInput(f"{i.item}: a number, please (not {str(raw)!r})")
        low = i.min is not None and value < i.min
        high = i.max is not None and value > i.max
        return (int(value) if value.is_integer() else value), low or high
    text = str(raw).strip()
    if not text:
        raise InvalidInput(f"{i.item}: the answer is empty")
    return text, False


def bounds(i: ChecklistItem) -> str:
    """An item's expected answer, as people read it: ``ok``, ``10–28``, ``≤ 80``, ``text``."""
    if i.kind != "number":
        return i.kind
    if i.min is not None and i.max is not None:
        return f"{_n(i.min)}–{_n(i.max)}"
    if i.max is not None:
        return f"≤ {_n(i.max)}"
    return f"≥ {_n(i.min)}" if i.min is not None else "number"


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def unanswered(r: RoundRecord) -> list[str]:
    """The items a round cannot be finished without: every ``ok`` and ``number`` item not yet
    answered (a ``text`` item is a remark, and may stay empty)."""
    answered = json.loads(r.answers)
    return [i.item for i in items(r) if i.kind != "text" and i.item not in answered]


def specific(targets: Sequence[str]) -> dict[str, str] | None:
    """The place of a round with exactly one target of the registry (``unit:CG-HALL``), for its
    findings' tickets; ``None`` for a kind or several targets."""
    named = [t.split(":", 1) for t in targets if ":" in t]
    if len(named) != 1 or len(targets) != 1:
        return None
    kind, code = named[0]
    return {kind: code}


@dataclass(frozen=True, slots=True)
class Answer:
    """One item of a round's checklist with its answer (if given)."""

    item: str
    kind: str
    expected: str
    value: Any = None
    finding: bool = False
    by: str | None = None
    at: datetime | None = None
    ticket: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item, "kind": self.kind, "expected": self.expected,
            "value": self.value, "finding": self.finding, "by": self.by,
            "at": self.at.isoformat() if self.at else None, "ticket": self.ticket,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Round:
    """A round as people read it (``faultflow inspect show``, ``/v1/inspections/{id}``)."""

    id: str
    plan: str
    status: str
    scheduled_at: datetime
    due_at: datetime
    role: str
    targets: tuple[str, ...]
    caught_up: bool  # made after its time, by a planner that was down
    started_at: datetime | None
    started_by: str | None
    finished_at: datetime | None
    finished_by: str | None
    reason: str | None
    breached_at: datetime | None
    ticket: str | None  # the ticket its breach opened
    findings: tuple[Mapping[str, Any], ...]
    checklist: tuple[Answer, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        def t(d: datetime | None) -> str | None:
            return d.isoformat() if d is not None else None

        return {
            "id": self.id, "plan": self.plan, "status": self.status,
            "scheduled_at": t(self.scheduled_at), "due_at": t(self.due_at), "role": self.role,
            "targets": list(self.targets), "caught_up": self.caught_up,
            "started_at": t(self.started_at), "started_by": self.started_by,
            "finished_at": t(self.finished_at), "finished_by": self.finished_by,
            "reason": self.reason, "breached_at": t(self.breached_at), "ticket": self.ticket,
            "findings": [dict(f) for f in self.findings],
            "checklist": [a.to_dict() for a in self.checklist],
        }  # fmt: skip


def view(r: RoundRecord, now_us: int, zone: Any) -> Round:
    """``r`` as people read it, in ``zone``."""

    def t(us: int | None) -> datetime | None:
        return from_us(us, zone) if us is not None else None

    answers = json.loads(r.answers)
    findings = tuple(json.loads(r.findings))
    tickets = {f["item"]: f.get("ticket") for f in findings}
    checklist = []
    for i in items(r):
        a = answers.get(i.item)
        checklist.append(
            Answer(i.item, i.kind, bounds(i)) if a is None else Answer(
                i.item, i.kind, bounds(i), a["value"], a["finding"], a["by"],
                from_us(a["at_us"], zone), tickets.get(i.item) if a["finding"] else None,
            )
        )  # fmt: skip
    return Round(
        id=r.id, plan=r.plan, status=status(r, now_us), scheduled_at=from_us(r.scheduled_us, zone),
        due_at=from_us(r.due_us, zone), role=r.role, targets=tuple(json.loads(r.targets)),
        caught_up=bool(r.late), started_at=t(r.started_us), started_by=r.started_by,
        finished_at=t(r.finished_us), finished_by=r.finished_by, reason=r.reason,
        breached_at=t(r.breached_us), ticket=r.ticket, findings=findings,
        checklist=tuple(checklist),
    )  # fmt: skip
