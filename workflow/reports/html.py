"""The compliance report as one self-contained HTML file (templates/report/compliance.html).

No script, no network: inline CSS and inline SVG charts (compliance per tier for each promise,
breaches per week), laid out to print on A4. The duty board's report page shows the same body.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .compliance import Line, Report
from .templating import render as render_template
from .templating import trusted


def context(report: Report, breaches: int = 200, lifecycle: str = "") -> dict[str, Any]:
    """What templates/report/compliance_body.html reads."""
    by_clock: dict[str, list[Line]] = defaultdict(list)
    for line in report.lines:
        by_clock[line.clock].append(line)
    return {
        "report": report,
        "by_clock": dict(by_clock),
        "totals": report.totals(),
        "breaches": breaches,
        "lifecycle": trusted(lifecycle) if lifecycle else "",
    }


def render(report: Report, breaches: int = 200, lifecycle: str = "") -> str:
    """The whole report as an HTML document (a string); ``lifecycle`` is an HTML fragment
    drawing the contract's lifecycle (:func:`faultflow.contract.graph.lifecycle_html`)."""
    return render_template("report/compliance.html", **context(report, breaches, lifecycle))
