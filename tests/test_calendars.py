"""Working-time arithmetic (calendars.py): pure, tested with properties — additivity, starts
outside working hours, independence of the process's time zone, DST gaps and folds — and with
China's 2026 calendar (the Spring Festival and National Day, with their make-up workdays)."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from faultflow.timekeeping.calendars import (
    ALWAYS,
    Calendar,
    CalendarError,
    official,
    parse_days,
    parse_hours,
    uncovered,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
H = 3600 * 1_000_000
M = 60 * 1_000_000


def office(zone: ZoneInfo = SH, cn: bool = True, **more: object) -> Calendar:
    return Calendar(
        "office", zone, frozenset(range(5)), parse_hours(["08:30-12:00", "13:30-17:30"], "hours"),
        holidays=official("CN") if cn else None, **more,  # type: ignore[arg-type]
    )  # fmt: skip


def us(zone: ZoneInfo, *parts: int) -> int:
    return int(datetime(*parts, tzinfo=zone).timestamp()) * 1_000_000  # type: ignore[misc]


def local(zone: ZoneInfo, t: int) -> datetime:
    return datetime.fromtimestamp(t / 1_000_000, zone).replace(tzinfo=None)


# moments across 2025-2026 (the years chinesecalendar knows), to the second
moments = st.integers(us(SH, 2025, 1, 1), us(SH, 2026, 12, 1)).map(lambda t: t - t % 1_000_000)
works = st.integers(0, 60 * H)


@settings(max_examples=300, deadline=None)
@given(moments, works, works)
def test_adding_working_time_is_additive(start: int, a: int, b: int) -> None:
    cal = office()
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@settings(max_examples=300, deadline=None)
@given(moments, works)
def test_span_undoes_add_and_add_is_the_earliest(start: int, w: int) -> None:
    cal = office()
    due = cal.add(start, w)
    assert cal.span(start, due) == w
    if w > 0:
        assert cal.span(start, due - 1) == w - 1  # not a microsecond earlier


@settings(max_examples=200, deadline=None)
@given(moments, moments, moments)
def test_span_is_additive_over_a_middle_moment(a: int, b: int, c: int) -> None:
    a, b, c = sorted((a, b, c))
    cal = office()
    assert cal.span(a, c) == cal.span(a, b) + cal.span(b, c)


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(1, 10 * H))
def test_a_start_outside_working_hours_counts_from_the_next_opening(start: int, w: int) -> None:
    cal = office()
    opening = cal.opens(start)
    if opening is not None:
        assert cal.add(start, w) == cal.add(opening, w)
        assert cal.span(start, opening) == 0


def test_the_24x7_timeline_is_plain_arithmetic() -> None:
    assert ALWAYS.add(100, 50) == 150 and ALWAYS.span(100, 150) == 50 and ALWAYS.span(9, 3) == 0


def test_spring_festival_2026() -> None:
    """Feb 14 (Saturday) is a working day; Feb 15-23 are not; work resumes Tuesday Feb 24."""
    cal = office()
    friday_4pm = us(SH, 2026, 2, 13, 16, 0)
    # 4 working hours from Friday 16:00: 1.5 h on Friday, then Saturday's make-up day
    assert local(SH, cal.add(friday_4pm, 4 * H)) == datetime(2026, 2, 14, 11, 0)
    # 8 working hours from Saturday 08:30: Saturday's 7.5 h, then nothing until Tuesday Feb 24
    assert local(SH, cal.add(us(SH, 2026, 2, 14, 8, 30), 8 * H)) == datetime(2026, 2, 24, 9, 0)
    assert cal.span(us(SH, 2026, 2, 14, 17, 30), us(SH, 2026, 2, 24, 8, 30)) == 0
    assert local(SH, cal.opens(us(SH, 2026, 2, 16, 10, 0)) or 0) == datetime(2026, 2, 24, 8, 30)


def test_national_day_2026_and_its_make_up_days() -> None:
    cal = office()
    # Sunday Sep 20 and Saturday Oct 10 are working days; Oct 1-7 are not
    assert cal.is_working_day(date(2026, 9, 20)) and cal.is_working_day(date(2026, 10, 10))
    assert not any(cal.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert local(SH, cal.add(us(SH, 2026, 9, 30, 17, 0), 1 * H)) == datetime(2026, 10, 8, 9, 0)


def test_the_files_lists_win_over_the_library() -> None:
    cal = office(closed=parse_days(["2026-02-14"], "closed"),
                 open=parse_days(["2026-02-16..2026-02-17"], "open"))  # fmt: skip
    assert not cal.is_working_day(date(2026, 2, 14))
    assert cal.is_working_day(date(2026, 2, 16)) and cal.is_working_day(date(2026, 2, 17))


def test_a_year_the_library_does_not_know_counts_by_weekdays() -> None:
    cal = office()
    assert uncovered(cal, [2026, 2027]) == [2027]
    assert cal.is_working_day(date(2027, 1, 4)) and not cal.is_working_day(date(2027, 1, 9))
    assert uncovered(office(cn=False), [2027]) == []


@settings(max_examples=100, deadline=None)
@given(moments, works, st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Kolkata"]))
def test_results_do_not_depend_on_the_processs_time_zone(start: int, w: int, tz: str) -> None:
    before = office().add(start, w)
    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        assert office().add(start, w) == before
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_dst_in_new_york_spring_gap_and_autumn_fold() -> None:
    nights = Calendar("nights", NY, frozenset(range(7)), parse_hours(["01:00-03:00"], "hours"))
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT: 01:00-03:00 wall is one real hour
    assert nights.span(us(NY, 2026, 3, 8, 0, 0), us(NY, 2026, 3, 8, 12, 0)) == 1 * H
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST: 01:00 (first) to 03:00 is three real hours
    assert nights.span(us(NY, 2026, 11, 1, 0, 0), us(NY, 2026, 11, 1, 12, 0)) == 3 * H
    days = Calendar("days", NY, frozenset(range(5)), parse_hours(["09:00-17:00"], "hours"))
    friday = us(NY, 2026, 3, 6, 16, 0)
    # one hour on Friday, then Monday after the change: the wall time is still 09:00 + 1 h
    assert local(NY, days.add(friday, 2 * H)) == datetime(2026, 3, 9, 10, 0)
    assert local(NY, days.add(us(NY, 2026, 10, 30, 16, 0), 2 * H)) == datetime(2026, 11, 2, 10)


@settings(max_examples=150, deadline=None)
@given(st.integers(us(NY, 2026, 2, 20), us(NY, 2026, 11, 20)), works, works)
def test_additivity_holds_across_new_yorks_changes(start: int, a: int, b: int) -> None:
    cal = Calendar("ny", NY, frozenset(range(7)), parse_hours(["00:30-02:30", "20:00-24:00"], "h"))
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)
    assert cal.span(start, cal.add(start, a)) == a


@pytest.mark.parametrize(
    ("hours", "where", "says"),
    [
        (["08:30-12:00", "11:00-13:00"], "hours[1]", "overlaps"),
        (["12:00-08:00"], "hours[0]", "ends before it starts"),
        (["8:30-12:00"], "hours[0]", "is not HH:MM-HH:MM"),
        (["25:00-26:00"], "hours[0]", "not a time of day"),
        (["08:00-08:00"], "hours[0]", "ends before it starts"),
    ],
)
def test_bad_hours_name_the_range(hours: list[str], where: str, says: str) -> None:
    with pytest.raises(CalendarError) as err:
        parse_hours(hours, "hours")
    assert err.value.where == where and says in str(err.value)


def test_bad_days_name_the_item() -> None:
    with pytest.raises(CalendarError) as err:
        parse_days(["2026-10-01", "2026-13-01"], "closed")
    assert err.value.where == "closed[1]"
    with pytest.raises(CalendarError):
        parse_days(["2026-10-08..2026-10-01"], "closed")


def test_a_week_of_holidays_in_one_step() -> None:
    """8 working hours from the eve of National Day: the 30 minutes left on Sep 30, then none
    until Oct 8 (its cost per call is in bench_lifecycle.py)."""
    cal = office()
    start = us(SH, 2026, 9, 30, 17, 0)
    due = cal.add(start, 8 * H)
    assert local(SH, due) == datetime(2026, 10, 8, 17, 30)  # 0.5 h + the 7.5 h of Oct 8
    assert timedelta(microseconds=cal.span(start, due)) == timedelta(hours=8)
