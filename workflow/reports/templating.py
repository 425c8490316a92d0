"""HTML from Jinja2 templates (``workflow/templates/``), escaped by default: the compliance
report, the customer's handling report, and the pages of ``faultflow serve`` (the reporting
portal and the duty board). One environment per process, built on first use.

What a template prints is text unless it is marked safe, so a title ``<script>`` shows as text;
the only markup put in as it is comes from our own code (the SVG of the lifecycle drawing).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..timekeeping import durations
from ..timekeeping.times import show

TEMPLATES = Path(__file__).parent.parent / "templates"  # beside the package: report/ and web/


def minute(value: datetime | None) -> str:
    """A moment to the minute, as reports print it (``-`` for none)."""
    return show(value)


def compact(value: timedelta | None) -> str:
    return durations.span(value, "compact")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def colour(value: float | None) -> str:
    """Green at 95% and above, amber from 85%, red below; grey when nothing was decided."""
    if value is None:
        return "#9e9e9e"
    return "#2e7d32" if value >= 95 else "#f9a825" if value >= 85 else "#c62828"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(minute=minute, compact=compact, pct=pct, colour=colour)
    env.filters["exact"] = lambda value: durations.span(value, "exact")
    return env


def render(name: str, **context: Any) -> str:
    """The template ``name`` (a path under ``templates/``) rendered with ``context``."""
    return environment().get_template(name).render(**context)


def generate(name: str, **context: Any) -> Iterator[str]:
    """The template ``name`` rendered piece by piece, as it goes: for a page that is sent
    while it is made (an iterable in ``context`` is drawn as the template reaches it)."""
    return environment().get_template(name).generate(**context)


def trusted(markup: str) -> Markup:
    """Markup made by our own code (escaped where it had to be), to be put in as it is."""
    return Markup(markup)
