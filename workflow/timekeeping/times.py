"""Moments: reading the times people type, and the integer microseconds the store keeps."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ..errors import InvalidInput
from .durations import parse_duration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACCEPTED = (
    "ISO 8601 with or without offset (2026-11-25T10:30, 2026-11-25T10:30+08:00), "
    "HH:MM for today, 'now', or relative to now like -15m or -1h30m"
)
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    # datetime.__sub__ directly: pendulum's subtraction builds an Interval, 20x slower.
    delta = datetime.__sub__(moment, EPOCH)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int, zone: tzinfo = UTC) -> datetime:
    """The aware datetime of ``us`` microseconds since the epoch, in ``zone``."""
    moment = EPOCH + timedelta(microseconds=us)
    return moment if zone is UTC else moment.astimezone(zone)


def parse_time(text: str, now: datetime, zone: tzinfo) -> datetime:
    """Read a time typed by a person; a time without offset is in ``zone``.

    Accepted: ISO 8601 with or without offset, ``HH:MM`` (today in ``zone``), ``now``, and
    ``-15m``-style offsets back from ``now``. Raises :class:`InvalidInput` naming the forms.
    """
    raw = text.strip()
    if raw.lower() == "now":
        return now
    if raw[:1] in "-+" and len(raw) > 1:
        try:
            offset = parse_duration(raw[1:])
        except ValueError:
            raise InvalidInput(f"cannot read time {text!r}: use {ACCEPTED}") from None
        return now - offset if raw[0] == "-" else now + offset
    clock = _CLOCK_TIME.fullmatch(raw)
    if clock:
        hour, minute, second = (int(g or 0) for g in clock.groups())
        if hour > 23 or minute > 59 or second > 59:
            raise InvalidInput(f"cannot read time {text!r}: no such time of day")
        local = now.astimezone(zone)
        return local.replace(hour=hour, minute=minute, second=second, microsecond=0)
    import pendulum

    try:
        parsed = pendulum.parse(raw, tz=_pendulum_zone(zone), strict=False)
    except (ValueError, TypeError):  # pendulum's ParserError is a ValueError
        raise InvalidInput(f"cannot read time {text!r}: use {ACCEPTED}") from None
    if not isinstance(parsed, datetime):
        raise InvalidInput(f"{text!r} is not a moment in time: use {ACCEPTED}")
    return parsed


def aware(moment: datetime | str | None, now: datetime, zone: tzinfo) -> datetime:
    """A library caller's time as an aware datetime: naive times are in ``zone``, ``None`` is
    ``now``."""
    if moment is None:
        return now
    if isinstance(moment, str):
        return parse_time(moment, now, zone)
    if not isinstance(moment, datetime):
        raise InvalidInput(f"a time must be a datetime or a string, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=zone)
    return moment


def _pendulum_zone(zone: tzinfo) -> Any:
    import pendulum

    key = getattr(zone, "key", None)
    return pendulum.timezone(key) if key else pendulum.UTC


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """A clock's reading as a plain aware datetime in ``zone`` (naive means ``zone``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if type(moment) is datetime:
        return moment.astimezone(zone)
    # A subclass (pendulum's): arithmetic on it is many times slower than on a datetime.
    return from_us(to_us(moment), zone)


def wall_clock() -> datetime:
    """The engine's default clock: ``pendulum.now`` when pendulum is loaded, so that
    ``pendulum.travel_to()`` moves the engine too (tests, drills: whoever travels has imported
    it); otherwise the same wall clock without paying ~12 ms to import pendulum in every
    command. (Another thread may be importing pendulum right now: a module still being
    initialised has no ``now`` yet, and the plain wall clock is read instead.)"""
    now = getattr(sys.modules.get("pendulum"), "now", None)
    return now("UTC") if now is not None else datetime.now(UTC)


STYLES = {
    "minute": "%Y-%m-%d %H:%M",  # 2026-03-02 09:15: a due time in a note, a report, a page
    "day": "%m-%d %H:%M",  # 03-02 09:15: within one year
    "clock": "%H:%M",  # 09:15: today
    "weekday": "%a %m-%d %H:%M",  # Mon 03-02 09:15: a roster's shifts
}


def show(moment: datetime | None, style: str = "minute", near: datetime | None = None) -> str:
    """A moment as people read it, in one of :data:`STYLES` (``-`` for none). With style
    ``"near"`` and ``near``: ``09:15`` on the same day, ``03-02 09:15`` in the same year, else
    the full minute — in ``near``'s time zone."""
    if moment is None:
        return "-"
    if style == "near":
        assert near is not None, "style 'near' needs the moment it is near"
        local = moment.astimezone(near.tzinfo)
        if local.date() == near.date():
            return local.strftime(STYLES["clock"])
        return local.strftime(STYLES["day" if local.year == near.year else "minute"])
    return moment.strftime(STYLES[style])
