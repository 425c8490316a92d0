"""Parse the durations a contract is written in: ``15m``, ``2h``, ``1h30m``, ``7d``, ``PT15M``."""

from __future__ import annotations

import re
from datetime import timedelta

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


def format_duration(value: timedelta) -> str:
    """Write a duration the way the contract does (``1h30m``); the inverse of ``parse_duration``."""
    total = int(abs(value).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n
    ]
    text = "".join(parts) or "0s"
    return f"-{text}" if value < timedelta(0) else text
