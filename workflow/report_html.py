"""The compliance report as one self-contained HTML file.

No script, no network: inline CSS and inline SVG charts (compliance per tier for each promise,
breaches per week), laid out to print on A4.
"""

from __future__ import annotations

import html
from collections import defaultdict

from .report import Line, Report
from .report_render import pct, span

E = html.escape
GOOD, MID, BAD = "#2e7d32", "#f9a825", "#c62828"


def _colour(value: float | None) -> str:
    if value is None:
        return "#9e9e9e"
    return GOOD if value >= 95 else MID if value >= 85 else BAD


def compliance_chart(clock: str, lines: list[Line]) -> str:
    """Horizontal bars: one per tier, the share of decided clocks that were met."""
    width, bar_h, gap, left = 320, 18, 8, 44
    height = len(lines) * (bar_h + gap) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + left + 60}" '
        f'height="{height}" role="img" aria-label="{E(clock)} compliance per tier">',
        f'<text x="0" y="13" font-size="13" font-weight="bold">{E(clock)}</text>',
    ]
    for i, line in enumerate(lines):
        y = 22 + i * (bar_h + gap)
        value = line.compliance
        w = 0 if value is None else width * value / 100
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">tier {E(line.tier)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{width}" height="{bar_h}" fill="#eee"/>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{_colour(value)}"/>'
        )
        parts.append(
            f'<text x="{left + width + 6}" y="{y + 13}" font-size="12">{E(pct(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def weekly_chart(report: Report) -> str:
    """Vertical bars: breaches per week of the period."""
    weeks = report.weekly_breaches
    peak = max((n for _, n in weeks), default=0) or 1
    bar_w, gap, h, top = 34, 10, 140, 16
    width = len(weeks) * (bar_w + gap) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + top + 34}" '
        'role="img" aria-label="breaches per week">',
        f'<line x1="0" y1="{h + top}" x2="{width}" y2="{h + top}" stroke="#777"/>',
    ]
    for i, (week, n) in enumerate(weeks):
        x = 10 + i * (bar_w + gap)
        bh = h * n / peak
        parts.append(
            f'<rect x="{x}" y="{h + top - bh:.1f}" width="{bar_w}" height="{bh:.1f}" '
            f'fill="{BAD if n else "#bbb"}"/>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{h + top - bh - 3:.1f}" font-size="11" '
            f'text-anchor="middle">{n}</text>'
        )
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{h + top + 14}" font-size="10" '
            f'text-anchor="middle">{week:%m-%d}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(lines: list[Line]) -> str:
    head = (
        "<tr><th>promise</th><th>tier</th><th>total</th><th>met</th><th>breached</th>"
        "<th>open</th><th>compliance</th><th>median</th><th>p90</th><th>worst overrun</th>"
        "</tr>"
    )
    rows = "".join(
        f"<tr><td>{E(x.clock)}</td><td>{E(x.tier)}</td><td>{x.total}</td><td>{x.met}</td>"
        f"<td>{x.breached}</td><td>{x.open}</td>"
        f"<td style='color:{_colour(x.compliance)};font-weight:bold'>{E(pct(x.compliance))}</td>"
        f"<td>{span(x.median)}</td><td>{span(x.p90)}</td><td>{span(x.worst_overrun)}</td></tr>"
        for x in lines
    )
    return f"<table>{head}{rows}</table>"


def _withdrawn(report: Report) -> str:
    """The alarms withdrawn after late entries, for the auditor (none: nothing)."""
    if not report.withdrawn:
        return ""
    rows = "".join(
        f"<tr><td>{E(w.ticket)}</td><td>{E(w.clock)}</td><td>{E(w.alarm)}</td>"
        f"<td>{w.at:%Y-%m-%d %H:%M}</td><td>{E(w.actor)}</td><td>{E(w.note)}</td></tr>"
        for w in report.withdrawn
    )
    return (
        f"<h2>Alarms withdrawn after a late entry ({len(report.withdrawn)})</h2>"
        "<table><tr><th>ticket</th><th>promise</th><th>alarm</th><th>withdrawn</th>"
        f"<th>by</th><th>why</th></tr>{rows}</table>"
    )


def render(report: Report, breaches: int = 200, lifecycle: str = "") -> str:
    """The whole report as an HTML document (a string); ``lifecycle`` is an HTML fragment
    drawing the contract's lifecycle (:func:`faultflow.graph.lifecycle_html`)."""
    by_clock: dict[str, list[Line]] = defaultdict(list)
    for line in report.lines:
        by_clock[line.clock].append(line)
    charts = "".join(f"<figure>{compliance_chart(c, ls)}</figure>" for c, ls in by_clock.items())
    totals = report.totals()
    cards = "".join(
        f"<div class='card'><div class='big' style='color:{_colour(x.compliance)}'>"
        f"{E(pct(x.compliance))}</div>{E(x.clock)}<br><small>{x.met} met, {x.breached} broken"
        f"</small></div>"
        for x in totals.values()
    )
    channels = ", ".join(f"{E(k)} {v}" for k, v in report.channels.items()) or "-"
    rows = "".join(
        f"<tr><td>{E(b.ticket)}</td><td>{E(b.clock)}</td><td>{E(b.tier)}</td>"
        f"<td>{b.due_at:%Y-%m-%d %H:%M}</td>"
        f"<td>{f'{b.stopped_at:%Y-%m-%d %H:%M}' if b.stopped_at else 'still open'}</td>"
        f"<td>{span(b.overrun)}</td><td>{E(b.title)}</td></tr>"
        for b in report.breaches[:breaches]
    )
    more = (
        f"<p>{len(report.breaches) - breaches} more in the JSON and CSV forms.</p>"
        if len(report.breaches) > breaches
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>SLA compliance {report.start:%Y-%m-%d} – {report.end:%Y-%m-%d}</title>
<style>
body{{font:13px/1.45 system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#222;
margin:24px auto;max-width:1000px;padding:0 16px}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:22px 0 8px;
border-bottom:1px solid #ccc}} .meta{{color:#555}}
.cards{{display:flex;gap:12px;flex-wrap:wrap}} .card{{border:1px solid #ddd;border-radius:6px;
padding:8px 14px;min-width:120px}} .big{{font-size:24px;font-weight:bold}}
.charts{{display:flex;flex-wrap:wrap;gap:6px 24px}} figure{{margin:0}}
table{{border-collapse:collapse;width:100%;font-size:12px}}
th,td{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
th{{background:#f0f0f0}} td:first-child,td:nth-child(2),td:last-child{{text-align:left}}
@media print{{body{{margin:0;max-width:none}} h2{{break-after:avoid}} tr,figure{{
break-inside:avoid}} @page{{size:A4;margin:14mm}}}}
</style></head><body>
<h1>SLA compliance</h1>
<p class="meta">{E(report.contract)}<br>
Clocks started {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M}
({E(str(report.start.tzinfo))}); generated {report.generated_at:%Y-%m-%d %H:%M}.<br>
{report.tickets} tickets opened ({report.cancelled} cancelled, not counted). By channel:
{channels}.</p>
<h2>Promises kept</h2><div class="cards">{cards}</div>
<h2>Compliance per tier</h2><div class="charts">{charts}</div>
<h2>Breaches per week</h2>{weekly_chart(report)}
<h2>Details</h2>{_table(report.lines)}
<h2>Breaches ({len(report.breaches)})</h2>
<table><tr><th>ticket</th><th>promise</th><th>tier</th><th>due</th><th>stopped</th>
<th>over by</th><th>title</th></tr>{rows}</table>{more}
{_withdrawn(report)}
<p class="meta">A clock belongs to the period in which it started. Met: stopped within its
limit. Breached: stopped late, or still running past its limit. Open: running, within its limit.
Compliance = met / (met + breached). Median and p90 of the active time (paused time excluded),
nearest rank.</p>
{f"<h2>The lifecycle</h2><figure>{lifecycle}</figure>" if lifecycle else ""}
</body></html>
"""
