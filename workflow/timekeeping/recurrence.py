"""When inspection rounds fall, pure (no database): an RFC 5545 recurrence rule, expanded by
python-dateutil in the wall-clock time of a zone, and thinned by a business calendar (a round
falls only on its working days: none on China's holidays, one on a make-up working Saturday).

A rule is read once (:func:`rule`); :func:`between` gives its times in a window. A rule
without a calendar is taken as it is; with one, a time on a day off is dropped (not moved), so
``FREQ=DAILY;BYHOUR=9`` with the ``CN`` calendar means "every working day at 09:00".
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

from .calendars import Calendar

ANCHOR = datetime(2000, 1, 3)  # a Monday, midnight: what a rule counts from unless it says
EVERY = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY"}
DAYS = {"mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH", "fri": "FR", "sat": "SA", "sun": "SU"}


class RuleError(ValueError):
    """A recurrence that cannot be read, or never falls."""


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A rule, the zone its times are wall-clock times of, and the calendar that keeps only
    working days (``None``: every day)."""

    text: str
    zone: ZoneInfo
    calendar: Calendar | None = None
    start: date | None = None

    def _rule(self, near: datetime | None = None) -> rrule:
        """The rule, counted from its anchor — or, for a window starting at ``near``, from the
        anchor moved forward by whole periods of the rule (a day, a week, ``INTERVAL``
        months...), which gives the same times: dateutil expands a rule from its start on
        every call, and a daily rule anchored in 2000 would otherwise walk 9,000 days to reach
        today. A rule with ``COUNT`` counts from its real start, and is not moved."""
        anchor = datetime.combine(self.start, time()) if self.start else ANCHOR
        rule = _parsed(self.text, anchor)
        if near is None or near <= anchor or rule._count is not None:
            return rule
        step = _period(rule)
        if isinstance(step, timedelta):
            # in whole seconds (``near`` may be a pendulum datetime, whose difference is not
            # a plain timedelta)
            periods = int((near - anchor).total_seconds()) // int(step.total_seconds()) - 1
            moved = anchor + step * periods
        else:  # months: a month's length varies
            months = (near.year - anchor.year) * 12 + near.month - anchor.month
            periods = months // step - 1
            moved = anchor + relativedelta(months=step * periods)
        return rule if periods <= 0 else _parsed(self.text, moved)

    def between(self, begin: datetime, end: datetime) -> list[datetime]:
        """The times in [``begin``, ``end``), aware, in order."""
        return list(self._iter(begin, end))

    def _iter(self, begin: datetime, end: datetime) -> Iterator[datetime]:
        zone = self.zone
        lo = begin.astimezone(zone).replace(tzinfo=None)
        hi = end.astimezone(zone).replace(tzinfo=None)
        for naive in self._rule(lo).between(lo, hi, inc=True):
            if naive >= hi:
                break
            if self.calendar is not None and not self.calendar.is_working_day(naive.date()):
                continue
            yield naive.replace(tzinfo=zone)

    def first(self, after: datetime, horizon: timedelta = timedelta(days=800)) -> datetime | None:
        """The first time at or after ``after`` within ``horizon``, or ``None``."""
        return next(self._iter(after, after + horizon), None)


def _period(rule: rrule) -> timedelta | int:
    """One whole period of ``rule``: a timedelta, or a number of months."""
    interval = rule._interval
    freq = rule._freq
    if freq == YEARLY:
        return 12 * interval
    if freq == MONTHLY:
        return interval
    unit = {WEEKLY: timedelta(weeks=1), DAILY: timedelta(days=1), HOURLY: timedelta(hours=1),
            MINUTELY: timedelta(minutes=1)}.get(freq, timedelta(seconds=1))  # fmt: skip
    return unit * interval


@functools.lru_cache(maxsize=256)
def _parsed(text: str, anchor: datetime) -> rrule:
    try:
        found = rrulestr(text, dtstart=anchor)
    except (ValueError, TypeError) as err:
        raise RuleError(f"{text!r} is not an RFC 5545 rule: {err}") from None
    if not isinstance(found, rrule):
        raise RuleError(f"{text!r}: one rule (RRULE), not a set")
    return found


def from_every(every: str, at: str | None, on: str | int | None) -> str:
    """The RRULE of ``every = "day" | "week" | "month"``, ``at = "HH:MM"`` and, for a week, the
    day (``on = "mon"``), for a month the day of the month (``on = 1``)."""
    freq = EVERY.get(every)
    if freq is None:
        raise RuleError(f"every: {every!r}, expected one of: {', '.join(EVERY)}")
    try:
        hh, mm = (int(x) for x in (at or "09:00").split(":"))
        time(hh, mm)
    except ValueError:
        raise RuleError(f"at: {at!r} is not a time of day (HH:MM)") from None
    rule = f"FREQ={freq};BYHOUR={hh};BYMINUTE={mm};BYSECOND=0"
    if freq == "WEEKLY":
        day = DAYS.get(str(on or "mon").lower()[:3])
        if day is None:
            raise RuleError(f"on: {on!r}, expected a weekday (mon, tue, ...)")
        rule += f";BYDAY={day}"
    elif freq == "MONTHLY":
        if not isinstance(on or 1, int) or not 1 <= int(on or 1) <= 28:
            raise RuleError(f"on: {on!r}, expected a day of the month from 1 to 28")
        rule += f";BYMONTHDAY={int(on or 1)}"
    elif on is not None:
        raise RuleError("on: a daily round has no day to name")
    return rule


def checked(r: Recurrence, due_within: timedelta, sample: int = 60) -> None:
    """Refuse a rule that never falls (within two years of its start) or falls more often than
    its rounds may take (two rounds closer than ``due_within`` would overlap)."""
    anchor = datetime.combine(r.start, time()) if r.start else ANCHOR
    begin = anchor.replace(tzinfo=r.zone)
    times = []
    for t in r._iter(begin, begin + timedelta(days=800)):
        times.append(t)
        if len(times) >= sample:
            break
    if not times:
        raise RuleError("it never falls (no time within two years of its start)")
    for a, b in itertools.pairwise(times):
        if b - a < due_within:
            raise RuleError(
                f"it falls every {b - a} (e.g. {a:%Y-%m-%d %H:%M} and {b:%H:%M}), more often "
                f"than a round may take (due_within {due_within})"
            )
