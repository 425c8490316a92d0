"""The compliance report's sections beyond the promises themselves (compliance.py): the
inspection rounds and their findings, the spares taken, the outages reported more than once,
the planned maintenance, the follow-ups, the experience base's use and the tickets by device
model and line kind — each a small figure of its own and the function that reads it, so that
compliance.py keeps the promises' arithmetic."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..db.period import Period
from ..db.store import Store
from ..timekeeping.times import from_us


def seconds(value: timedelta | None) -> int | float | None:
    """A duration in JSON: whole seconds when it is whole, else to the millisecond."""
    if value is None:
        return None
    s = value.total_seconds()
    return int(s) if s == int(s) else round(s, 3)


@dataclass(frozen=True, slots=True)
class RoundsLine:
    """The rounds of one plan at one unit (``target``: its code, or a kind of the registry for
    every unit) scheduled in the period: how many, and how they went (``open``: not yet due,
    or under way)."""

    plan: str
    target: str
    planned: int
    done: int
    late: int
    missed: int
    skipped: int
    open: int

    @property
    def kept(self) -> float | None:
        """The share of the rounds decided that were done in time."""
        decided = self.done + self.late + self.missed
        return 100.0 * self.done / decided if decided else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan, "target": self.target, "planned": self.planned,
            "done": self.done, "late": self.late, "missed": self.missed,
            "skipped": self.skipped, "open": self.open, "kept_pct": self.kept,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """An answer of a round out of bounds or "not ok", and the fault ticket it opened."""

    round: str
    plan: str
    item: str
    value: Any
    ticket: str

    @property
    def answer(self) -> str:
        """The answer as people read it (``not ok`` for an ok item)."""
        if isinstance(self.value, bool):
            return "ok" if self.value else "not ok"
        return str(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "plan": self.plan, "item": self.item,
                "value": self.value, "ticket": self.ticket}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SpareOut:
    """A spare a substitution took: for which ticket, when, and until when (``None``: still
    out at the report's time); ``out`` is how long."""

    serial: str
    model: str
    ticket: str
    taken_at: datetime
    back_at: datetime | None
    out: timedelta

    def to_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "model": self.model, "ticket": self.ticket,
                "taken_at": self.taken_at.isoformat(),
                "back_at": self.back_at.isoformat() if self.back_at else None,
                "out_s": seconds(self.out)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Planned:
    """A maintenance window of the period and what it held back: faults recorded as planned,
    of which how many still stood when it was over (opened under the usual promises) and how
    many cleared during it; escalations it paused."""

    window: int
    scope: str
    start: datetime
    end: datetime
    reason: str
    planned: int
    opened: int
    cleared: int
    paused: int

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "scope": self.scope, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "reason": self.reason, "planned": self.planned,
                "opened": self.opened, "cleared": self.cleared,
                "paused": self.paused}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """The follow-ups (回访) of the tickets reported in the period: how many were done, are
    still due, were missed; the mean rating and the low ones; the same by unit, channel and
    engineer (each a row: key, done, mean, low)."""

    done: int
    due: int
    missed: int
    mean: float | None
    low: int
    by_unit: list[tuple[str, int, float, int]]
    by_channel: list[tuple[str, int, float, int]]
    by_engineer: list[tuple[str, int, float, int]]

    def to_dict(self) -> dict[str, Any]:
        def rows(found: list[tuple[str, int, float, int]]) -> list[dict[str, Any]]:
            return [{"key": k, "done": n, "mean": m, "low": lo} for k, n, m, lo in found]

        return {"done": self.done, "due": self.due, "missed": self.missed, "mean": self.mean,
                "low": self.low, "by_unit": rows(self.by_unit),
                "by_channel": rows(self.by_channel),
                "by_engineer": rows(self.by_engineer)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outage:
    """One outage reported many times: the parent ticket (its clocks are the outage's) and
    the reports merged into it, each (id, channel, when reported)."""

    ticket: str
    title: str
    reports: list[tuple[str, str, datetime]]

    def to_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket, "title": self.title,
                "reports": [{"ticket": r, "channel": ch, "at": at.isoformat()}
                            for r, ch, at in self.reports]}  # fmt: skip


def satisfaction(
    store: Store, contract: Any, start_us: int, end_us: int, unit: str | None
) -> Satisfaction | None:
    """The follow-ups of the tickets reported in the period, counted."""
    from ..db import followups

    if contract.followup_within_us is None:
        return None
    rows = followups.in_period(store, start_us, end_us, unit)
    done = [r for r in rows if r.state == "done" and r.rating is not None]
    low = contract.followup_threshold

    def by(key: Any) -> list[tuple[str, int, float, int]]:
        groups: dict[str, list[int]] = {}
        for r in done:
            groups.setdefault(key(r) or "-", []).append(int(r.rating or 0))
        return sorted(((k, len(v), round(sum(v) / len(v), 2), sum(1 for x in v if x <= low))
                       for k, v in groups.items()), key=lambda x: (-x[1], x[0]))  # fmt: skip

    ratings = [int(r.rating or 0) for r in done]
    return Satisfaction(
        len(done), sum(1 for r in rows if r.state == "due"),
        sum(1 for r in rows if r.state == "missed"),
        round(sum(ratings) / len(ratings), 2) if ratings else None,
        sum(1 for x in ratings if x <= low),
        by(lambda r: r.unit), by(lambda r: r.channel), by(lambda r: r.owner),
    )  # fmt: skip


def maintenance(
    store: Store, contract: Any, start_us: int, end_us: int, unit: str | None
) -> list[Planned]:
    """The windows that met the period (called off ones aside), with what each held back; of
    a unit's report, the windows on all of the network or that touched its tickets."""
    from ..db import maintenance as table
    from ..maintenance.model import Scope

    zone, out = contract.timezone, []
    for w in table.listed(store, start_us, end_us, ["scheduled"]):
        with store.unit() as u:
            touched = table.touched(u, w.id)
            tickets = {tid: u.ticket(tid) for tid, _ in touched}
        ours = w.kind == "all" or (w.kind == "unit" and w.code == unit)
        if (
            unit is not None
            and not ours
            and not any(t is not None and t.unit == unit for t in tickets.values())
        ):
            continue
        planned = [tid for tid, why in touched if why == "planned"]
        cleared = sum(
            1
            for tid in planned
            if (t := tickets.get(tid)) is not None and t.state in contract.cancelled
        )
        # opened: the intake event at the window's end gave it clocks (its place in the
        # urgency order, or a final state other than cleared)
        opened = sum(1 for tid in planned
                     if (t := tickets.get(tid)) is not None and t.state not in contract.cancelled
                     and w.ended_us is not None)  # fmt: skip
        out.append(Planned(w.id, str(Scope(w.kind, w.code)), from_us(w.starts_us, zone),
                           from_us(w.ends_us, zone), w.reason, len(planned), opened, cleared,
                           sum(1 for _, why in touched if why == "paused")))  # fmt: skip
    return out


def outages(period: Period, zone: Any) -> list[Outage]:
    """The reports of the period merged into a parent, by parent."""
    by: dict[str, Outage] = {}
    for parent, title, report, channel, at_us in period.merged():
        by.setdefault(parent, Outage(parent, title, [])).reports.append(
            (report, channel, from_us(at_us, zone))
        )
    return list(by.values())


def spares_out(store: Store, start_us: int, end_us: int, now_us: int, zone: Any) -> list[SpareOut]:
    """The spares taken in [start_us, end_us), from the spares' log: each with when it came
    back (returned or sent to repair), or still out."""
    from ..db import spares

    out: list[SpareOut] = []
    taken: dict[str, tuple[str, str, int]] = {}  # serial -> (model, ticket, taken_us), in period
    for e in spares.log(store):
        said = json.loads(e.data)
        if e.action == "taken" and start_us <= e.at_us < end_us:
            taken[e.serial] = (str(said.get("model")), str(said.get("ticket")), e.at_us)
        elif e.action in ("returned", "repair", "retired") and e.serial in taken:
            model, ticket, at_us = taken.pop(e.serial)
            lasted = timedelta(microseconds=e.at_us - at_us)
            back = from_us(e.at_us, zone)
            out.append(SpareOut(e.serial, model, ticket, from_us(at_us, zone), back, lasted))
    for serial, (model, ticket, at_us) in taken.items():
        out.append(SpareOut(serial, model, ticket, from_us(at_us, zone), None,
                            timedelta(microseconds=max(0, now_us - at_us))))  # fmt: skip
    return sorted(out, key=lambda x: x.taken_at)


def inspections(
    store: Store, start_us: int, end_us: int, now_us: int, unit: str | None
) -> tuple[list[RoundsLine], list[Finding]]:
    """The rounds scheduled in the period, per plan and the units their targets are at (a
    site, line or device is at its unit, by the registry; a kind of them — ``devices`` — is at
    every unit: the target's own words), and their findings; over ``unit`` only, if given."""
    from ..db import network
    from ..db import rounds as table
    from ..inspections.rounds import status

    rounds = table.listed(store, start_us, end_us)
    if not rounds:
        return [], []
    known = network.everything(store, kinds=("sites", "lines", "devices"))

    def at(target: str) -> str:
        kind, _, code = target.partition(":")
        if not code:
            return target  # a kind: every unit
        if kind == "unit":
            return code
        return str(known.get(f"{kind}s", {}).get(code, {}).get("unit") or target)

    counts: dict[tuple[str, str], Counter[str]] = {}
    findings = []
    for r in rounds:
        units = sorted({at(t) for t in json.loads(r.targets)})
        if unit is not None and unit not in units:
            continue
        key = (r.plan, ", ".join(units))
        counts.setdefault(key, Counter())[status(r, now_us)] += 1
        findings += [Finding(r.id, r.plan, f["item"], f["value"], f["ticket"])
                     for f in json.loads(r.findings)]  # fmt: skip
    lines = [
        RoundsLine(plan, target, sum(c.values()), c["done"], c["late"], c["missed"],
                   c["skipped"], c["planned"] + c["due"] + c["running"])
        for (plan, target), c in sorted(counts.items())
    ]  # fmt: skip
    return lines, findings


def experience(period: Period, contract: Any) -> tuple[list[Any], list[Any]]:
    """Time to fix with and without an entry of the experience base, and the entries used most."""
    fixing = sorted(contract.fixing)
    times = [
        (str(tier), bool(used), int(n), timedelta(microseconds=int(mean)))
        for tier, used, n, mean in period.fix_times(fixing)
        if mean is not None
    ]
    used = [(int(e), int(n), str(s).splitlines()[0]) for e, n, s in period.most_used(5)]
    return times, used


def kinds(period: Period, contract: Any) -> tuple[list[Any], list[Any]]:
    """Tickets at devices by model, and at lines by kind."""
    stopping = sorted(contract.stopping)
    found = period.opened_by_kind(stopping)

    def counted(name: str) -> list[tuple[str, int, int]]:
        return [(str(k) or "-", int(n), int(o or 0)) for k, n, o in found[name]]

    return counted("models"), counted("line_kinds")
