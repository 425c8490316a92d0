"""Working time over a business calendar: pure arithmetic, no database, no wall clock.

A calendar says which local days are working days (weekdays, statutory holidays and make-up
workdays, the file's own closed and open days) and the working hours of each (several ranges a
day). From it, two functions in integer microseconds, which the clock arithmetic (clocks.py)
uses in place of plain subtraction and addition:

- ``span(a, b)``: the working time between the moments ``a`` and ``b``;
- ``add(a, w)``: the earliest moment ``t >= a`` with ``span(a, t) == w`` — so a start outside
  working hours counts from the next opening, and adding is additive:
  ``add(add(a, x), y) == add(a, x + y)``.

``ALWAYS`` is 24x7 (the seed contract): ``span`` is ``b - a`` and ``add`` is ``a + w``.

Local times are read in the calendar's time zone (never the process's). A working range on a
day when the clocks change covers the real time between its two wall times: 01:00–03:00 on the
night the clocks go back is three hours; a wall time inside the spring gap is read as zoneinfo
reads it (as if the change had not happened yet), so the range keeps its length.

China's statutory holidays and make-up workdays (调休) come from the ``chinesecalendar``
package: the dates the State Council publishes each year. A year it does not know yet counts by
the weekdays and the file's lists only; ``faultflow check`` warns about it (see
:func:`uncovered`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Protocol
from zoneinfo import ZoneInfo

US = 1_000_000
DAY_US = 86_400 * US
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SOURCES = ("CN",)  # what ``holidays =`` may name
SEARCH_DAYS = 3 * 366  # a calendar with no working day in three years is refused, not looped on
_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


class Timeline(Protocol):
    """How a clock counts time: 24x7 (:data:`ALWAYS`) or over a :class:`Calendar`."""

    @property
    def name(self) -> str | None: ...
    def span(self, a: int, b: int) -> int: ...
    def add(self, a: int, w: int) -> int: ...
    def opens(self, t: int) -> int | None: ...


class _Always:
    """24x7: every microsecond counts."""

    name: str | None = None

    def span(self, a: int, b: int) -> int:
        return b - a if b > a else 0

    def add(self, a: int, w: int) -> int:
        return a + w if w > 0 else a

    def opens(self, t: int) -> int | None:
        return None

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS = _Always()


class CalendarError(ValueError):
    """A calendar's value that cannot be: ``where`` is the key under ``[calendars.NAME]``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def parse_hours(ranges: Iterable[str], where: str) -> tuple[tuple[int, int], ...]:
    """``["08:30-12:00", "13:30-17:30"]`` as minutes of the day, checked: each range is
    HH:MM-HH:MM (24:00 may end one), starts before it ends, and none overlaps another."""
    texts = list(ranges)
    out: list[tuple[int, int]] = []
    for i, text in enumerate(texts):
        m = _HOURS.fullmatch(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise CalendarError(f"{where}[{i}]", f"{text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise CalendarError(f"{where}[{i}]", f"{text!r} is not a time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise CalendarError(f"{where}[{i}]", f"{text!r} ends before it starts")
        out.append((start, end))
    for i, (s, e) in enumerate(out):
        for j, (s2, e2) in enumerate(out[:i]):
            if s < e2 and s2 < e:
                raise CalendarError(f"{where}[{i}]", f"{texts[i]!r} overlaps {texts[j]!r}")
    return tuple(sorted(out))


def parse_days(values: Iterable[str], where: str) -> frozenset[date]:
    """Dates (``2026-10-01``) and inclusive ranges (``2026-10-01..2026-10-08``)."""
    days: set[date] = set()
    for i, text in enumerate(values):
        first, sep, last = str(text).partition("..")
        try:
            a = date.fromisoformat(first.strip())
            b = date.fromisoformat(last.strip()) if sep else a
        except ValueError:
            raise CalendarError(
                f"{where}[{i}]", f"{text!r} is not a date (YYYY-MM-DD) or a range (A..B)"
            ) from None
        if b < a:
            raise CalendarError(f"{where}[{i}]", f"{text!r} ends before it starts")
        if (b - a).days > SEARCH_DAYS:
            raise CalendarError(f"{where}[{i}]", f"{text!r} is longer than three years")
        days.update(a + timedelta(days=n) for n in range((b - a).days + 1))
    return frozenset(days)


@dataclass(frozen=True)
class Official:
    """A country's statutory days off and make-up workdays, and the years they are known for."""

    source: str
    days_off: frozenset[date]
    workdays: frozenset[date]
    years: tuple[int, int]
    version: str


def official(source: str) -> Official:
    """The official calendar ``source`` (``CN``), from its maintained package."""
    if source != "CN":
        raise CalendarError("holidays", f"{source!r}: known sources are {', '.join(SOURCES)}")
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - a dependency of faultflow
        raise CalendarError("holidays", "the chinesecalendar package is not installed") from None
    days_off = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    known = [d.year for d in days_off | workdays]
    return Official(
        "CN", days_off, workdays, (min(known), max(known)),
        getattr(chinese_calendar, "__version__", "?"),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class Calendar:
    """One ``[calendars.NAME]`` of the contract, checked. Its days' working ranges are computed
    on first use and kept (a process meets few distinct days)."""

    name: str | None
    zone: ZoneInfo
    weekdays: frozenset[int]  # 0 = Monday
    hours: tuple[tuple[int, int], ...]  # minutes of the day, for a working day
    weekday_hours: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    closed: frozenset[date] = frozenset()
    open: frozenset[date] = frozenset()
    holidays: Official | None = None
    _days: dict[date, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    # -- which days, which hours ----------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """The file's lists first, then the official days, then the weekdays."""
        if day in self.open:
            return True
        if day in self.closed:
            return False
        h = self.holidays
        if h is not None and h.years[0] <= day.year <= h.years[1]:
            if day in h.workdays:
                return True
            if day in h.days_off:
                return False
        return day.weekday() in self.weekdays

    def hours_of(self, day: date) -> tuple[tuple[int, int], ...]:
        """The working ranges (minutes of the day) of a local date; () for a day off."""
        if not self.is_working_day(day):
            return ()
        return self.weekday_hours.get(day.weekday(), self.hours)

    def day(self, day: date) -> tuple[tuple[int, int], ...]:
        """The working ranges of a local date as moments (µs since the epoch)."""
        found = self._days.get(day)
        if found is None:
            ranges = []
            for start, end in self.hours_of(day):
                a, b = self._moment(day, start), self._moment(day, end)
                if b > a:
                    ranges.append((a, b))
            found = self._days[day] = tuple(ranges)
            if len(self._days) > 20_000:  # a process reading decades of history: start again
                self._days.clear()
        return found

    def _moment(self, day: date, minute: int) -> int:
        base = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        if minute == 24 * 60:
            nxt = day + timedelta(days=1)
            local = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self.zone)
        else:
            local = base.replace(hour=minute // 60, minute=minute % 60)
        return int(local.timestamp()) * US

    def local_date(self, t: int) -> date:
        return datetime.fromtimestamp(t // US, self.zone).date()

    # -- the arithmetic ------------------------------------------------------------------------

    def span(self, a: int, b: int) -> int:
        """Working time between ``a`` and ``b`` (0 when ``b <= a``)."""
        if b <= a:
            return 0
        total, d, last = 0, self.local_date(a), self.local_date(b)
        while d <= last:
            for s, e in self.day(d):
                lo, hi = max(s, a), min(e, b)
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total

    def add(self, a: int, w: int) -> int:
        """The earliest moment ``t >= a`` with ``span(a, t) == w``."""
        if w <= 0:
            return a
        d = self.local_date(a) - timedelta(days=1)  # a range of the day before may run past 0:00
        for _ in range(SEARCH_DAYS):
            for s, e in self.day(d):
                if e <= a:
                    continue
                lo = max(s, a)
                if w <= e - lo:
                    return lo + w
                w -= e - lo
            d += timedelta(days=1)
        raise CalendarError("hours", f"calendar {self.name}: no working time in three years")

    def opens(self, t: int) -> int | None:
        """When working time next begins, if ``t`` is outside it (``None`` inside)."""
        d = self.local_date(t) - timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            for s, e in self.day(d):
                if s <= t < e:
                    return None
                if s > t:
                    return s
            d += timedelta(days=1)
        return None

    # -- in words ------------------------------------------------------------------------------

    @cached_property
    def summary(self) -> str:
        """``office: Mon–Fri 08:30–12:00, 13:30–17:30 (Asia/Shanghai), CN holidays``."""
        days = _runs(sorted(self.weekdays))
        hours = ", ".join(f"{_hm(s)}–{_hm(e)}" for s, e in self.hours)
        extra = f", {self.holidays.source} holidays" if self.holidays else ""
        return f"{self.name}: {days} {hours} ({self.zone.key}){extra}"


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _runs(days: list[int]) -> str:
    names = [w.capitalize() for w in WEEKDAYS]
    if not days:
        return "no weekday"
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{names[days[0]]}–{names[days[-1]]}"
    return ", ".join(names[d] for d in days)


def uncovered(calendar: Calendar, years: Iterable[int]) -> list[int]:
    """The ``years`` its official holidays are not known for (they count by weekdays only)."""
    h = calendar.holidays
    if h is None:
        return []
    return [y for y in years if not h.years[0] <= y <= h.years[1]]
