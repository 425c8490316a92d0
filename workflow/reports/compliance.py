"""SLA compliance: how well each promise was kept over a period, aggregated in SQL.

Rules (docs/reports.md):

- a clock belongs to the period in which it *started*;
- a clock is *met* when it stopped within its limit, *breached* when it stopped late or is still
  running (or paused) past its limit, *open* when it is still running within its limit;
- compliance = met / (met + breached); open clocks are not yet decided and count apart;
- tickets that ended cancelled are counted apart and left out of compliance;
- median and 90th percentile of the elapsed (active) time use the nearest-rank method over the
  decided clocks; the worst overrun is the largest (elapsed - limit) among breaches.

Everything is computed by the database (GROUP BY, window functions) so that a report over a
million clock records needs no Python loop over them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import network
from ..db.period import Period
from ..db.store import Store
from ..errors import InvalidInput
from ..timekeeping import clocks as clk
from ..timekeeping.times import aware, from_us, to_us


@dataclass(frozen=True, slots=True)
class Line:
    """One clock and tier over the period."""

    clock: str
    tier: str
    total: int
    met: int
    breached: int
    open: int
    compliance: float | None  # percent; None when nothing is decided yet
    median: timedelta | None
    p90: timedelta | None
    worst_overrun: timedelta | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "tier": self.tier,
            "total": self.total,
            "met": self.met,
            "breached": self.breached,
            "open": self.open,
            "compliance_pct": self.compliance,
            "median_s": _s(self.median),
            "p90_s": _s(self.p90),
            "worst_overrun_s": _s(self.worst_overrun),
        }


@dataclass(frozen=True, slots=True)
class Breach:
    ticket: str
    clock: str
    tier: str
    channel: str
    title: str
    due_at: datetime
    stopped_at: datetime | None
    overrun: timedelta

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "clock": self.clock,
            "tier": self.tier,
            "channel": self.channel,
            "title": self.title,
            "due_at": self.due_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "overrun_s": _s(self.overrun),
        }


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """An alarm withdrawn because a step entered late shows the promise was kept after all:
    listed for the auditor (the counts above already use the corrected clocks)."""

    ticket: str
    clock: str
    alarm: str  # warning | breach
    at: datetime  # when it was withdrawn
    actor: str  # who entered the late step
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "clock": self.clock,
            "alarm": self.alarm,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class UnitLine:
    """One unit over the period: its tickets (cancelled aside), how many were outages (of a
    tier that stops its business), and its promises met and broken."""

    unit: str
    name: str
    tickets: int
    outages: int
    met: int
    breached: int

    @property
    def compliance(self) -> float | None:
        return _pct(self.met, self.breached)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit, "name": self.name, "tickets": self.tickets,
            "outages": self.outages, "met": self.met, "breached": self.breached,
            "compliance_pct": self.compliance,
        }  # fmt: skip


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
                "out_s": _s(self.out)}  # fmt: skip


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


@dataclass(frozen=True)
class Report:
    """The compliance report of one period; ``to_dict()`` is the JSON form."""

    contract: str
    start: datetime
    end: datetime
    generated_at: datetime
    lines: list[Line]
    channels: dict[str, int]
    tickets: int
    cancelled: int
    breaches: list[Breach] = field(default_factory=list)
    weekly_breaches: list[tuple[datetime, int]] = field(default_factory=list)
    withdrawn: list[Withdrawn] = field(default_factory=list)
    calendars: dict[str, str] = field(default_factory=dict)
    """The clocks that count working time, each with its calendar in words."""
    units: list[UnitLine] = field(default_factory=list)
    """Each unit with tickets in the period, most tickets first (placed tickets only)."""
    unit: str | None = None
    """The unit the report is of (``report --unit``), or ``None`` for every ticket."""
    models: list[tuple[str, int, int]] = field(default_factory=list)
    """Tickets at a device, by the device's model: (model, tickets, outages), most first."""
    line_kinds: list[tuple[str, int, int]] = field(default_factory=list)
    """Tickets at a line, by the line's kind (MSTP, fibre...): (kind, tickets, outages)."""
    fix_times: list[tuple[str, bool, int, timedelta]] = field(default_factory=list)
    """Did the experience base help? Per tier, with an entry used or not: (tier, used, fixed
    tickets, mean time from intake to the fix)."""
    most_used: list[tuple[int, int, str]] = field(default_factory=list)
    """The entries used most in the period: (entry, uses, symptom)."""
    inspections: list[RoundsLine] = field(default_factory=list)
    """The inspection rounds scheduled in the period, per plan and target, by how they went."""
    findings: list[Finding] = field(default_factory=list)
    """What those rounds found, each with the fault ticket it opened."""
    spares_out: list[SpareOut] = field(default_factory=list)
    """The spares substitutions took in the period, and how long each has been (or was) out."""
    outages: list[Outage] = field(default_factory=list)
    """Outages reported more than once: each parent with the reports merged into it (they are
    counted once, by the parent's clocks)."""
    maintenance: list[Planned] = field(default_factory=list)
    """The maintenance windows of the period: planned outages, apart from the faults."""
    satisfaction: Satisfaction | None = None
    """The follow-ups of the period's reported tickets (None: the contract asks for none)."""

    @property
    def working_time(self) -> list[str]:
        """``response, arrival over office: Mon–Fri …``: one line per calendar used."""
        by: dict[str, list[str]] = {}
        for clock, summary in self.calendars.items():
            by.setdefault(summary, []).append(clock)
        return [f"{', '.join(clocks)} count working time: {s}" for s, clocks in by.items()]

    def totals(self) -> dict[str, Line]:
        """One line per clock, all tiers together (counts only; percentiles per tier)."""
        out: dict[str, Line] = {}
        for line in self.lines:
            prev = out.get(line.clock)
            met = line.met + (prev.met if prev else 0)
            breached = line.breached + (prev.breached if prev else 0)
            worst = max(
                (
                    x
                    for x in (line.worst_overrun, prev.worst_overrun if prev else None)
                    if x is not None
                ),
                default=None,
            )
            out[line.clock] = Line(
                line.clock,
                "all",
                line.total + (prev.total if prev else 0),
                met,
                breached,
                line.open + (prev.open if prev else 0),
                _pct(met, breached),
                None,
                None,
                worst,
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            **({"unit": self.unit} if self.unit is not None else {}),
            "tickets": self.tickets,
            "cancelled": self.cancelled,
            "channels": self.channels,
            "clocks": [line.to_dict() for line in self.lines],
            "totals": [line.to_dict() for line in self.totals().values()],
            "breaches": [b.to_dict() for b in self.breaches],
            "withdrawn": [w.to_dict() for w in self.withdrawn],
            "units": [u.to_dict() for u in self.units],
            "models": [{"model": m, "tickets": n, "outages": o} for m, n, o in self.models],
            "line_kinds": [{"kind": k, "tickets": n, "outages": o} for k, n, o in self.line_kinds],
            "fix_times": [
                {"tier": tier, "kb_used": used, "tickets": n, "mean_fix_s": _s(mean)}
                for tier, used, n, mean in self.fix_times
            ],
            "kb_most_used": [
                {"entry": e, "uses": n, "symptom": symptom} for e, n, symptom in self.most_used
            ],
            "inspections": [line.to_dict() for line in self.inspections],
            "findings": [f.to_dict() for f in self.findings],
            "spares_out": [x.to_dict() for x in self.spares_out],
            "outages": [o.to_dict() for o in self.outages],
            "maintenance": [m.to_dict() for m in self.maintenance],
            "satisfaction": self.satisfaction.to_dict() if self.satisfaction else None,
            **({"calendars": self.calendars} if self.calendars else {}),
            "weekly_breaches": [
                {"week": w.date().isoformat(), "breaches": n} for w, n in self.weekly_breaches
            ],
        }


def _s(value: timedelta | None) -> int | float | None:
    if value is None:
        return None
    seconds = value.total_seconds()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def _pct(met: int, breached: int) -> float | None:
    decided = met + breached
    return round(100.0 * met / decided, 2) if decided else None


def _td(us: Any) -> timedelta | None:
    return timedelta(microseconds=int(us)) if us is not None else None


def for_period(
    store: Store,
    contract: Any,
    now: datetime,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    unit: str | None = None,
) -> Report:
    """The report of the clocks that started in [start, end) as seen at ``now`` (of the
    tickets of ``unit`` only, if given). Defaults: ``end`` now, ``start`` 30 days before
    ``end``; times without an offset are in the contract's time zone, a date alone means its
    midnight."""
    zone = contract.timezone
    stop = aware(end, now, zone) if end is not None else now
    begin = aware(start, now, zone) if start is not None else stop - timedelta(days=30)
    if begin >= stop:
        raise InvalidInput(
            f"the period is empty: {begin.isoformat()} is not before {stop.isoformat()}"
        )
    return build(
        store,
        contract,
        to_us(begin),
        to_us(stop),
        to_us(now),
        now,
        begin.astimezone(zone),
        stop.astimezone(zone),
        unit=unit,
    )


@dataclass
class WorkingTime:
    """The figures of the clocks that count a calendar's working time, in the shapes of the
    SQL aggregates of :func:`build`: count rows, picked percentiles, breach rows."""

    counts: list[tuple[str, str, int, int, int, int | None]] = field(default_factory=list)
    picked: dict[tuple[str, str, str], int] = field(default_factory=dict)
    breaches: list[tuple[Any, ...]] = field(default_factory=list)
    units: dict[str, list[int]] = field(default_factory=dict)  # unit → [total, met, breached]


def working_time(period: Period, contract: Any, names: list[str], now_us: int) -> WorkingTime:
    """Read the calendar clocks of the period row by row: their active time is working time,
    which SQL cannot count (clocks.active over the clock's calendar)."""
    rows = period.calendar_rows(names)
    groups: dict[tuple[str, str], list[tuple[int, int, bool]]] = {}
    out = WorkingTime()
    for tid, name, tier, channel, title, started, limit, paused, since, stopped, unit in rows:
        facts = clk.ClockFacts(started, limit, paused, since, stopped,
                               contract.clocks[name].calendar)  # fmt: skip
        active = clk.active(facts, now_us)
        groups.setdefault((name, tier), []).append((active, limit, stopped is not None))
        if unit is not None:
            tally = out.units.setdefault(unit, [0, 0, 0])
            tally[0] += 1
            tally[1] += stopped is not None and active <= limit
            tally[2] += active > limit
        if active > limit:
            due = facts.cal.add(started, limit + paused)  # as the SQL path: the open pause aside
            out.breaches.append((tid, name, tier, channel, title, started, due, stopped,
                                 active - limit))  # fmt: skip
    for (name, tier), found in groups.items():
        met = sum(1 for active, limit, done in found if done and active <= limit)
        broken = sum(1 for active, limit, _ in found if active > limit)
        worst = max((a - lim for a, lim, _ in found if a > lim), default=None)
        out.counts.append((name, tier, len(found), met, broken, worst))
        decided = sorted(a for a, lim, done in found if done or a > lim)
        for label, share in (("median", 50), ("p90", 90)):
            if decided:  # nearest rank, as the SQL path
                out.picked[(name, tier, label)] = decided[-(-len(decided) * share // 100) - 1]
    return out


def build(
    store: Store,
    contract: Any,
    start_us: int,
    end_us: int,
    now_us: int,
    generated_at: datetime,
    start: datetime,
    end: datetime,
    breach_limit: int = 1000,
    unit: str | None = None,
) -> Report:
    """Aggregate the clocks that started in [start_us, end_us) as seen at ``now_us`` (the
    statements are db/period.py's; the arithmetic is here); of ``unit``'s tickets only, if
    given."""
    zone = contract.timezone
    # Clocks over a business calendar count working time: they are read row by row
    # (working_time); the SQL aggregates take the 24x7 clocks.
    on_calendar = sorted(n for n, s in contract.clocks.items() if s.calendar.name is not None)
    period = Period(store, start_us, end_us, now_us, on_calendar, sorted(contract.cancelled), unit)
    # 1. counts per clock and tier, in the order the ranks below use
    counts = list(period.counts())
    # 2. nearest-rank percentiles: one global ranking of the decided clocks by (clock, tier,
    #    elapsed); each group's ranks start where the groups before it end (a loop over the
    #    groups, not the rows), and the database returns only the rows at the wanted ranks.
    wanted: dict[int, list[tuple[str, str, str]]] = {}
    offset = 0
    for name, tier, _total, met, nbreached, _worst in counts:
        n = int(met or 0) + int(nbreached or 0)
        if n:
            for label, share in (("median", 50), ("p90", 90)):
                rank = offset + -(-n * share // 100)  # ceil(n * share / 100)
                wanted.setdefault(rank, []).append((name, tier, label))
        offset += n
    picked: dict[tuple[str, str, str], int] = {}
    if wanted:
        for elapsed_us, rn in period.ranked(list(wanted)):
            for key in wanted[int(rn)]:
                picked[key] = int(elapsed_us)
    extra = working_time(period, contract, on_calendar, now_us) if on_calendar else WorkingTime()
    counts = [*counts, *extra.counts]
    picked.update(extra.picked)
    order = {name: i for i, name in enumerate(contract.clocks)}
    lines = []
    for name, tier, total, met, nbreached, worst in counts:
        met, nbreached = int(met or 0), int(nbreached or 0)
        lines.append(
            Line(
                name,
                tier,
                int(total),
                met,
                nbreached,
                int(total) - met - nbreached,
                _pct(met, nbreached),
                _td(picked.get((name, tier, "median"))),
                _td(picked.get((name, tier, "p90"))),
                _td(worst),
            )
        )
    lines.sort(key=lambda x: (order.get(x.clock, len(order)), x.tier))
    channels = period.channels()
    tickets = sum(channels.values())
    cancelled = period.cancelled_count()
    breach_rows = sorted(
        [*period.breaches(breach_limit), *extra.breaches], key=lambda r: (r[5], r[0], r[1])
    )
    breaches = [
        Breach(
            tid,
            name,
            tier,
            channel,
            title,
            from_us(due, zone),
            from_us(stopped, zone) if stopped is not None else None,
            timedelta(microseconds=int(over)),
        )
        for tid, name, tier, channel, title, _, due, stopped, over in (
            (*r[:6], r[5] + r[6] + r[7], r[8], r[9]) if len(r) == 10 else r
            for r in breach_rows[:breach_limit]
        )
    ]
    week_us = 7 * 86400 * 1_000_000
    weekly = period.weekly_breaches(week_us)
    for row in extra.breaches:
        w = (row[5] - start_us) // week_us
        weekly[w] = weekly.get(w, 0) + 1
    weeks = max(1, -(-(end_us - start_us) // week_us))
    weekly_breaches = [
        (from_us(start_us + i * week_us, zone), weekly.get(i, 0)) for i in range(weeks)
    ]
    withdrawn = [
        Withdrawn(tid, said.get("clock", ""), said.get("alarm", ""), from_us(at, zone), who, note)
        for tid, at, who, note, data in period.withdrawn(breach_limit)
        for said in [json.loads(data)]
    ]
    return Report(
        contract.name,
        start,
        end,
        generated_at,
        lines,
        channels,
        tickets,
        cancelled,
        breaches,
        weekly_breaches,
        withdrawn,
        {
            n: contract.calendars[s.calendar.name].summary
            for n, s in contract.clocks.items()
            if s.calendar.name is not None
        },
        _units(store, period, contract, extra),
        unit,
        *_kinds(period, contract),
        *_experience(period, contract),
        *_inspections(store, start_us, end_us, now_us, unit),
        _spares_out(store, start_us, end_us, now_us, zone),
        _outages(period, zone),
        _maintenance(store, contract, start_us, end_us, unit),
        _satisfaction(store, contract, start_us, end_us, unit),
    )


def _satisfaction(
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


def _maintenance(
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


def _outages(period: Period, zone: Any) -> list[Outage]:
    """The reports of the period merged into a parent, by parent."""
    by: dict[str, Outage] = {}
    for parent, title, report, channel, at_us in period.merged():
        by.setdefault(parent, Outage(parent, title, [])).reports.append(
            (report, channel, from_us(at_us, zone))
        )
    return list(by.values())


def _spares_out(store: Store, start_us: int, end_us: int, now_us: int, zone: Any) -> list[SpareOut]:
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


def _inspections(
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


def _experience(period: Period, contract: Any) -> tuple[list[Any], list[Any]]:
    """Time to fix with and without an entry of the experience base, and the entries used most."""
    fixing = sorted(contract.fixing)
    times = [
        (str(tier), bool(used), int(n), timedelta(microseconds=int(mean)))
        for tier, used, n, mean in period.fix_times(fixing)
        if mean is not None
    ]
    used = [(int(e), int(n), str(s).splitlines()[0]) for e, n, s in period.most_used(5)]
    return times, used


def _kinds(period: Period, contract: Any) -> tuple[list[Any], list[Any]]:
    """Tickets at devices by model, and at lines by kind."""
    stopping = sorted(contract.stopping)
    found = period.opened_by_kind(stopping)

    def counted(name: str) -> list[tuple[str, int, int]]:
        return [(str(k) or "-", int(n), int(o or 0)) for k, n, o in found[name]]

    return counted("models"), counted("line_kinds")


def _units(store: Store, period: Period, contract: Any, extra: WorkingTime) -> list[UnitLine]:
    """Each unit with tickets or clocks in the period, most tickets first."""
    stopping = sorted(contract.stopping)
    opened = {u: (int(n), int(o or 0)) for u, n, o in period.opened_by_unit(stopping)}
    kept: dict[str, list[int]] = {u: [int(n), int(m or 0), int(b or 0)]
                                  for u, n, m, b in period.by_unit()}  # fmt: skip
    for u, (n, m, b) in extra.units.items():
        tally = kept.setdefault(u, [0, 0, 0])
        tally[0] += n
        tally[1] += m
        tally[2] += b
    codes = set(opened) | set(kept)
    names = network.names(store, "units", codes)
    lines = [
        UnitLine(u, names.get(u, u), *opened.get(u, (0, 0)), *kept.get(u, [0, 0, 0])[1:])
        for u in codes
    ]
    lines.sort(key=lambda x: (-x.tickets, -x.breached, x.unit))
    return lines
