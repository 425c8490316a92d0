"""The monthly service report (月度运维服务报告): what the contractor hands the customer for a
month of the contract, of every unit or of one.

It is the compliance report of the month (compliance.py: every promise kept or broken, the
worst delays, the units, the inspection rounds and their findings, planned maintenance, the
follow-ups, the spares, the outages reported more than once) with what a customer reads first:
a summary of the month's figures, the tickets by tier, channel and unit, each unit's outages
and how long it was down, and the experience entries written. In the contract's language
(Chinese by default, English on request), as HTML (one self-contained file, laid out for A4),
as PDF (rendered by WeasyPrint, its CJK font embedded), as Markdown (for a chat or a mail) or
as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..db import places
from ..db.period import Period
from ..db.store import Store
from ..errors import ConfigError, InvalidInput
from ..timekeeping.durations import span
from ..words import Words
from .compliance import Report, build
from .html import context
from .templating import render as render_template

MONTH = re.compile(r"(\d{4})-(\d{1,2})")
KB_LISTED = 30  # the entries a report lists by name (it counts them all)


@dataclass(frozen=True, slots=True)
class Downtime:
    """A unit's outages of the month (tickets of the tiers that stop its business) and how long
    it was down in all: from each report to the fault dealt with (resolved, or a spare in
    place), or to the report's time while it still is not."""

    unit: str
    name: str
    outages: int
    down: timedelta
    open: int  # outages not dealt with yet

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "name": self.name, "outages": self.outages,
                "down_s": int(self.down.total_seconds()), "open": self.open}  # fmt: skip


@dataclass(frozen=True)
class Monthly:
    """One month's service report; ``to_dict()`` is its JSON."""

    customer: str
    month: str  # YYYY-MM
    unit: str | None
    unit_name: str | None
    report: Report
    tiers: dict[str, int]
    downtime: list[Downtime]
    kb_added: int
    kb_entries: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """The figures a customer reads first."""
        r = self.report
        met = sum(x.met for x in r.totals().values())
        broken = sum(x.breached for x in r.totals().values())
        rounds = {k: sum(getattr(x, k) for x in r.inspections)
                  for k in ("planned", "done", "late", "missed")}  # fmt: skip
        sat = r.satisfaction
        return {
            "tickets": r.tickets, "cancelled": r.cancelled,
            "promises_kept": met, "promises_broken": broken,
            "compliance_pct": round(100 * met / (met + broken), 1) if met + broken else None,
            "worst_overrun_s": max((int(b.overrun.total_seconds()) for b in r.breaches),
                                   default=None),
            "outages": sum(d.outages for d in self.downtime),
            "downtime_s": int(sum((d.down for d in self.downtime), timedelta()).total_seconds()),
            "rounds": rounds, "findings": len(r.findings),
            "maintenance": len(r.maintenance),
            "planned_faults": sum(m.planned for m in r.maintenance),
            "followups": sat.done if sat else None,
            "satisfaction": sat.mean if sat else None,
            "spares_used": len(r.spares_out), "kb_added": self.kb_added,
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer, "month": self.month, "unit": self.unit,
            "unit_name": self.unit_name, "summary": self.summary, "tiers": self.tiers,
            "downtime": [d.to_dict() for d in self.downtime], "kb_added": self.kb_added,
            "kb_entries": [{"id": i, "state": s, "symptom": t} for i, s, t in self.kb_entries],
            "report": self.report.to_dict(),
        }  # fmt: skip


def month_bounds(text: str, zone: Any) -> tuple[datetime, datetime]:
    """The first moment of the month ``YYYY-MM`` and of the next, in ``zone``."""
    found = MONTH.fullmatch((text or "").strip())
    if found is None or not 1 <= int(found[2]) <= 12:
        raise InvalidInput(f"--month {text!r}: give a month as YYYY-MM, e.g. 2026-11")
    year, month = int(found[1]), int(found[2])
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start, end


def monthly(
    store: Store, contract: Any, month: str, now: datetime, unit: str | None = None,
    unit_name: str | None = None, names: dict[str, str] | None = None,
) -> Monthly:  # fmt: skip
    """The service report of ``month`` (``YYYY-MM``) as seen at ``now``; of ``unit`` only, if
    given. ``names``: the units' names by code (the registry)."""
    zone = contract.timezone
    start, end = month_bounds(month, zone)
    if start > now:
        raise InvalidInput(f"--month {month}: it has not begun yet")
    start_us, end_us, now_us = (int(x.timestamp() * 1_000_000) for x in (start, end, now))
    report = build(store, contract, start_us, end_us, now_us, now, start, end, unit=unit)
    on_calendar = sorted(n for n, s in contract.clocks.items() if s.calendar.name is not None)
    period = Period(store, start_us, end_us, now_us, on_calendar, sorted(contract.cancelled),
                    unit)  # fmt: skip
    downtime = _downtime(store, period, contract, min(now_us, end_us), names or {})
    n, rows = period.kb_added(KB_LISTED)
    return Monthly(contract.name, f"{start:%Y-%m}", unit, unit_name, report, period.tiers(),
                   downtime, n, [(int(i), str(s), str(t)) for i, s, t in rows])  # fmt: skip


def _downtime(
    store: Store, period: Period, contract: Any, until_us: int, names: dict[str, str]
) -> list[Downtime]:
    rows = list(period.outages(sorted(contract.stopping)))
    back = places.restored(store, [r[1] for r in rows], sorted(contract.fixing))
    by: dict[str, list[int]] = {}
    still: dict[str, int] = {}
    for unit, tid, created_us in rows:
        ended = back.get(tid)
        if ended is None:
            still[unit] = still.get(unit, 0) + 1
        by.setdefault(unit, []).append(max(0, (ended or until_us) - created_us))
    out = [Downtime(u, names.get(u, u), len(v), timedelta(microseconds=sum(v)), still.get(u, 0))
           for u, v in by.items()]  # fmt: skip
    return sorted(out, key=lambda d: (-d.down, d.unit))


# -- rendering ---------------------------------------------------------------------------------


def html(m: Monthly, contract: Any, words: Words, lifecycle: str = "") -> str:
    """The report as one self-contained HTML document, laid out for A4."""
    found = context(m.report, 50, lifecycle, contract=contract, words=words)
    total = timedelta(seconds=m.summary["downtime_s"])
    return render_template("report/monthly.html", m=m, summary=m.summary,
                           downtime_total=total, **found)  # fmt: skip


def pdf(m: Monthly, contract: Any, words: Words) -> bytes:
    """The report as PDF, rendered from its HTML by WeasyPrint (fonts embedded)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # the package, or the Pango it needs
        raise ConfigError(
            "a PDF needs WeasyPrint and the Pango library it draws with (Debian: apt install "
            f"libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0): {err}"
        ) from None
    document: bytes = HTML(string=html(m, contract, words)).write_pdf()
    return document


def markdown(m: Monthly, contract: Any, w: Words) -> str:
    """The report's summary as Markdown (for a chat group or a mail's text)."""
    s, r = m.summary, m.report
    who = f" · {m.unit_name or m.unit}" if m.unit else ""
    lines = [f"# {w['monthly.title']} — {m.customer}{who}", "", f"**{w['monthly.month']}** "
             f"{m.month}", ""]  # fmt: skip
    pct = f"{s['compliance_pct']}%" if s["compliance_pct"] is not None else "-"
    lines += [
        f"- {w['monthly.tickets']}: {s['tickets']} ({w['monthly.cancelled']} {s['cancelled']})",
        f"- {w['monthly.promises']}: {s['promises_kept']} / {s['promises_broken']} ({pct})",
        f"- {w['monthly.outages']}: {s['outages']}, {w['monthly.downtime']} "
        f"{span(timedelta(seconds=s['downtime_s']))}",
        f"- {w['monthly.rounds']}: {s['rounds']['done']} / {s['rounds']['planned']} "
        f"({w['round.missed']} {s['rounds']['missed']}), {w['round.findings']} {s['findings']}",
        f"- {w['report.maintenance']}: {s['maintenance']} ({s['planned_faults']})",
        f"- {w['report.satisfaction']}: "
        + (f"{s['satisfaction']:.2f}/5 ({s['followups']})" if s["satisfaction"] else "-"),
        f"- {w['report.spares_out']}: {s['spares_used']}",
        f"- {w['monthly.kb']}: {s['kb_added']}",
    ]
    if r.tickets:
        lines += ["", f"## {w['monthly.by_tier']}", ""]
        lines += [f"- {tier}: {n}" for tier, n in m.tiers.items()]
    if m.downtime:
        lines += ["", f"## {w['monthly.downtime_by_unit']}", ""]
        lines += [f"- {d.name}: {d.outages}, {span(d.down)}" for d in m.downtime]
    if r.breaches:
        lines += ["", f"## {w['monthly.worst']}", ""]
        worst = sorted(r.breaches, key=lambda b: -b.overrun)[:5]
        lines += [f"- {b.ticket} {w.clock(contract, b.clock)} +{span(b.overrun)} {b.title}"
                  for b in worst]  # fmt: skip
    return "\n".join(lines) + "\n"
