"""One way to show a moment to people (timekeeping.times.show), whatever the surface."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from faultflow.timekeeping.times import show
from hypothesis import given
from hypothesis import strategies as st

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def test_each_style() -> None:
    at = datetime(2026, 3, 2, 9, 15, tzinfo=SHANGHAI)
    assert show(at) == "2026-03-02 09:15"
    assert show(at, "day") == "03-02 09:15"
    assert show(at, "clock") == "09:15"
    assert show(at, "weekday") == "Mon 03-02 09:15"
    assert show(None) == "-"


@given(st.integers(min_value=-800 * 24 * 60, max_value=800 * 24 * 60))
def test_near_says_no_more_than_it_needs(minutes: int) -> None:
    at = (NOW + timedelta(minutes=minutes)).astimezone(ZoneInfo("UTC"))  # shown in NOW's zone
    local = at.astimezone(SHANGHAI)
    text = show(at, "near", NOW)
    if local.date() == NOW.date():
        assert text == local.strftime("%H:%M")
    elif local.year == NOW.year:
        assert text == local.strftime("%m-%d %H:%M")
    else:
        assert text == local.strftime("%Y-%m-%d %H:%M")
