"""Durations: parse those a contract is written in (``15m``, ``2h``, ``1h30m``, ``7d``,
``PT15M``), and write them for people to read, in one of three styles."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

_COMPACT = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")

ACCEPTED = "15m, 2h, 1h30m, 7d, 90s or ISO 8601 such as PT15M"


def parse_duration(text: str) -> timedelta:
    """Return the positive duration written in ``text``; raise ``ValueError`` naming the forms."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is a string ({ACCEPTED}), not {type(text).__name__}")
    raw = text.strip()
    value = _parse(raw)
    if value is None:
        raise ValueError(f"cannot read duration {text!r}: use {ACCEPTED}")
    if value <= timedelta(0):
        raise ValueError(f"duration {text!r} must be longer than zero")
    return value


def _parse(raw: str) -> timedelta | None:
    if not raw:
        return None
    if raw[0] in "Pp":
        iso = _ISO.fullmatch(raw.upper())
        if iso is None or not any(iso.groups()):
            return None
        weeks, days, hours, minutes, seconds = (g or "0" for g in iso.groups())
        return timedelta(
            weeks=int(weeks),
            days=int(days),
            hours=int(hours),
            minutes=int(minutes),
            seconds=float(seconds),
        )
    compact = _COMPACT.fullmatch(raw.lower())
    if compact is None or not any(compact.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in compact.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


Style = Literal["terminal", "compact", "exact"]


def span(value: timedelta | None, style: Style = "terminal") -> str:
    """A duration for people to read, in one of three styles (the sign is dropped: callers say
    "over" or "left"):

    - ``terminal``, the CLI: the two largest units, ``45 min``, ``2 h 05 min``, ``3 d 4 h``;
    - ``compact``, report tables: ``45m``, ``2h05m``, ``3d04h`` (``-`` for none);
    - ``exact``, the customer's handling report: every unit to the minute, ``1 d 2 h 5 min``.

    Under a minute, every style shows the seconds.
    """
    if value is None:
        return "-"
    seconds = int(abs(value).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if style == "exact":
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else ""]
        parts.append(f"{minutes} min" if minutes or not (days or hours) else "")
        return " ".join(p for p in parts if p) if seconds >= 60 else f"{seconds} s"
    if seconds < 60:
        return f"{seconds} s" if style == "terminal" else f"{seconds}s"
    if style == "compact":
        if days:
            return f"{days}d{hours:02d}h"
        return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def working(limit: timedelta, calendar: str | None, style: Style = "terminal") -> str:
    """A promise's limit in words: wall time for a 24x7 clock (``4 h 00 min``); over a
    calendar, working time (``4 working hours (office)``, ``30 min of working time (office)``)."""
    if calendar is None:
        return span(limit, style)
    seconds = limit.total_seconds()
    if seconds and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} working hour{'s' if hours != 1 else ''} ({calendar})"
    return f"{span(limit, style)} of working time ({calendar})"
