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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import network
from ..db.period import Period
from ..db.store import Store
from ..errors import InvalidInput
from ..timekeeping import clocks as clk
from ..timekeeping.times import aware, from_us, to_us
from . import sections
from .sections import seconds as _s


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
    inspections: list[sections.RoundsLine] = field(default_factory=list)
    """The inspection rounds scheduled in the period, per plan and target, by how they went."""
    findings: list[sections.Finding] = field(default_factory=list)
    """What those rounds found, each with the fault ticket it opened."""
    spares_out: list[sections.SpareOut] = field(default_factory=list)
    """The spares substitutions took in the period, and how long each has been (or was) out."""
    outages: list[sections.Outage] = field(default_factory=list)
    """Outages reported more than once: each parent with the reports merged into it (they are
    counted once, by the parent's clocks)."""
    maintenance: list[sections.Planned] = field(default_factory=list)
    """The maintenance windows of the period: planned outages, apart from the faults."""
    satisfaction: sections.Satisfaction | None = None
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
        *sections.kinds(period, contract),
        *sections.experience(period, contract),
        *sections.inspections(store, start_us, end_us, now_us, unit),
        sections.spares_out(store, start_us, end_us, now_us, zone),
        sections.outages(period, zone),
        sections.maintenance(store, contract, start_us, end_us, unit),
        sections.satisfaction(store, contract, start_us, end_us, unit),
    )


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
