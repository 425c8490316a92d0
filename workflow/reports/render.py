"""A compliance report as a text table or CSV (HTML: report_html.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from ..timekeeping import durations
from ..timekeeping.times import show
from .compliance import Line, Report


def span(value: timedelta | None) -> str:
    return durations.span(value, "compact")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _row(line: Line) -> list[str]:
    return [
        line.clock,
        line.tier,
        str(line.total),
        str(line.met),
        str(line.breached),
        str(line.open),
        pct(line.compliance),
        span(line.median),
        span(line.p90),
        span(line.worst_overrun),
    ]


HEADER = [
    "clock",
    "tier",
    "total",
    "met",
    "breached",
    "open",
    "compliance",
    "median",
    "p90",
    "worst overrun",
]


def table(report: Report, breaches: int = 10) -> str:
    """The report as a fixed-width text table."""
    rows = [_row(line) for line in report.lines]
    totals = [_row(line) for line in report.totals().values()]
    widths = [
        max(len(h), *(len(r[i]) for r in rows + totals)) if rows else len(h)
        for i, h in enumerate(HEADER)
    ]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [
        f"SLA compliance, {report.contract}"
        + (f", unit {report.unit}" if report.unit is not None else ""),
        f"clocks started {show(report.start)} to {show(report.end)} ({report.start.tzinfo})",
        f"{report.tickets} tickets opened ({report.cancelled} cancelled, not counted); "
        "by channel: " + (", ".join(f"{k} {v}" for k, v in report.channels.items()) or "-"),
        *report.working_time,
        "",
        fmt(HEADER),
        fmt(["-" * w for w in widths]),
    ]
    out += [fmt(r) for r in rows] or ["(no clock started in this period)"]
    if totals:
        out += [fmt(["-" * w for w in widths])] + [fmt(r) for r in totals]
    # dates carry the year when the period spans more than one
    day = "day" if report.start.year == report.end.year else "minute"
    if report.breaches:
        out += [
            "",
            f"breaches ({len(report.breaches)}; first {min(breaches, len(report.breaches))}"
            f" shown, all in --format json/csv/html):",
        ]
        for b in report.breaches[:breaches]:
            stopped = f"stopped {show(b.stopped_at, day)}" if b.stopped_at else "still open"
            out.append(
                f"  {b.ticket}  {b.clock:<11} tier {b.tier}  due {show(b.due_at, day)}"
                f"  {stopped}  over by {span(b.overrun)}  {b.title[:40]}"
            )
    if report.units and report.unit is None:
        width = max(len(u.unit) for u in report.units)
        out += ["", "by unit (tickets, outages, promises met / broken, compliance):"]
        for u in report.units:
            out.append(
                f"  {u.unit:<{width}}  {u.tickets:>4} tickets  {u.outages:>3} outages  "
                f"{u.met:>4} met  {u.breached:>3} broken  {pct(u.compliance):>6}  {u.name}"
            )
    for label, counted in (("device model", report.models), ("line kind", report.line_kinds)):
        if counted:
            said = ", ".join(f"{k} {n}" + (f" ({o} outages)" if o else "") for k, n, o in counted)
            out += ["", f"tickets by {label}: {said}"]
    if any(used for _, used, _, _ in report.fix_times):
        out += ["", "time to fix, with an experience entry used / without:"]
        by: dict[str, dict[bool, tuple[int, timedelta]]] = {}
        for tier, used, n, mean in report.fix_times:
            by.setdefault(tier, {})[used] = (n, mean)
        for tier, pair in by.items():
            sides = [f"{span(pair[k][1])} over {pair[k][0]}" if k in pair else "-"
                     for k in (True, False)]  # fmt: skip
            out.append(f"  tier {tier}: {sides[0]} / {sides[1]}")
    if report.most_used:
        out.append(
            "experience entries used most: "
            + ", ".join(f"#{e} {symptom[:30]} ({n})" for e, n, symptom in report.most_used)
        )
    if report.inspections:
        out += ["", "inspection rounds (planned: done in time / late / missed / skipped / open):"]
        width = max(len(x.plan) + len(x.target) + 3 for x in report.inspections)
        for x in report.inspections:
            name = f"{x.plan} ({x.target})"
            out.append(
                f"  {name:<{width}}  {x.planned:>3}: {x.done} / {x.late} / {x.missed} / "
                f"{x.skipped} / {x.open}   {pct(x.kept)} in time"
            )
        if report.findings:
            out.append(
                "findings: "
                + ", ".join(
                    f"{f.item} = {f.answer} ({f.round}) → {f.ticket}" for f in report.findings
                )
            )
    if report.spares_out:
        out += ["", f"spares taken by substitutions ({len(report.spares_out)}):"]
        for sp in report.spares_out:
            back = f"back {show(sp.back_at, day)}" if sp.back_at else "still out"
            out.append(f"  {sp.serial}  {sp.model}  for {sp.ticket}  taken "
                       f"{show(sp.taken_at, day)}  {back}  out {span(sp.out)}")  # fmt: skip
    sat = report.satisfaction
    if sat is not None and (sat.done or sat.due or sat.missed):
        rated = f"{sat.mean:.2f}/5" if sat.mean is not None else "-"
        out += ["", f"follow-ups (回访): {sat.done} done (mean {rated}, {sat.low} low), "
                    f"{sat.due} still due, {sat.missed} missed"]  # fmt: skip
        for label, grouped in (("unit", sat.by_unit), ("channel", sat.by_channel),
                               ("engineer", sat.by_engineer)):  # fmt: skip
            if grouped:
                out.append(f"  by {label}: " + ", ".join(
                    f"{k} {m:.1f} ({n}{', ' + str(lo) + ' low' if lo else ''})"
                    for k, n, m, lo in grouped[:8]))  # fmt: skip
    if report.maintenance:
        out += ["", "planned maintenance (faults recorded as planned: still standing at the end "
                    "and opened / cleared during it; escalations paused):"]  # fmt: skip
        for m in report.maintenance:
            out.append(f"  #{m.window}  {m.scope}  {show(m.start, day)} – {show(m.end, day)}  "
                       f"{m.reason[:40]}  planned {m.planned}: {m.opened} / {m.cleared}; "
                       f"paused {m.paused}")  # fmt: skip
    if report.outages:
        merged = sum(len(o.reports) for o in report.outages)
        out += ["", f"one outage, many reports ({merged} report(s) merged into "
                    f"{len(report.outages)} ticket(s), each outage counted once):"]  # fmt: skip
        for o in report.outages:
            said = ", ".join(f"{r} via {ch} {show(at, day)}" for r, ch, at in o.reports)
            out.append(f"  {o.ticket}  {o.title[:40]}  ← {said}")
    if report.withdrawn:
        out += ["", f"alarms withdrawn after a late entry ({len(report.withdrawn)}):"]
        for w in report.withdrawn:
            out.append(f"  {w.ticket}  {w.clock} {w.alarm}  {show(w.at, day)}  {w.note}")
    return "\n".join(out)


def to_csv(report: Report) -> str:
    """One row per clock and tier, then the totals (tier ``all``), then the breaches."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "section",
            "clock",
            "tier",
            "total",
            "met",
            "breached",
            "open",
            "compliance_pct",
            "median_s",
            "p90_s",
            "worst_overrun_s",
        ]
    )
    for section, lines in (("clock", report.lines), ("total", report.totals().values())):
        for line in lines:
            d = line.to_dict()
            w.writerow(
                [
                    section,
                    d["clock"],
                    d["tier"],
                    d["total"],
                    d["met"],
                    d["breached"],
                    d["open"],
                    d["compliance_pct"],
                    d["median_s"],
                    d["p90_s"],
                    d["worst_overrun_s"],
                ]
            )
    w.writerow([])
    w.writerow(
        [
            "breach",
            "ticket",
            "clock",
            "tier",
            "channel",
            "due_at",
            "stopped_at",
            "overrun_s",
            "title",
        ]
    )
    for b in report.breaches:
        d = b.to_dict()
        w.writerow(
            [
                "breach",
                d["ticket"],
                d["clock"],
                d["tier"],
                d["channel"],
                d["due_at"],
                d["stopped_at"],
                d["overrun_s"],
                d["title"],
            ]
        )
    return buf.getvalue()
