"""The compliance report as one self-contained HTML file (templates/report/compliance.html).

No script, no network: inline CSS and inline SVG charts (compliance per tier for each promise,
breaches per week), laid out to print on A4. The duty board's report page shows the same body.
In the words of one language: the contract's ``language`` unless asked for another.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..contract.model import Contract
from ..words import Words
from .compliance import Line, Report
from .templating import render as render_template
from .templating import trusted


def context(
    report: Report, breaches: int = 200, lifecycle: str = "", *,
    contract: Contract | None = None, words: Words | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What templates/report/compliance_body.html reads: ``contract`` (the one the report is
    of) names its promises in ``words`` (default: its language)."""
    by_clock: dict[str, list[Line]] = defaultdict(list)
    for line in report.lines:
        by_clock[line.clock].append(line)
    w = words or Words(contract.language if contract is not None else "zh")

    def clock(name: str) -> str:
        return w.clock(contract, name) if contract is not None else name

    return {
        "report": report,
        "by_clock": dict(by_clock),
        "totals": report.totals(),
        "breaches": breaches,
        "lifecycle": trusted(lifecycle) if lifecycle else "",
        "w": w,
        "clock": clock,
    }


def render(
    report: Report, breaches: int = 200, lifecycle: str = "", *,
    contract: Contract | None = None, words: Words | None = None,
) -> str:  # fmt: skip
    """The whole report as an HTML document (a string); ``lifecycle`` is an HTML fragment
    drawing the contract's lifecycle (:func:`faultflow.contract.graph.lifecycle_html`)."""
    found = context(report, breaches, lifecycle, contract=contract, words=words)
    return render_template("report/compliance.html", **found)
