import contextlib
from datetime import timedelta

import pytest
from faultflow.timekeeping.durations import parse_duration, span
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("90s", timedelta(seconds=90)),
        ("PT15M", timedelta(minutes=15)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("pt1h", timedelta(hours=1)),
        (" 45m ", timedelta(minutes=45)),
    ],
)
def test_accepted_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "15", "m15", "15 minutes", "1.5h", "P", "PT", "0m", "-5m", "1h-30m", "PT-1M", "hour"],
)
def test_refused_forms_name_the_accepted_ones(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert "15m" in str(err.value) or "longer than zero" in str(err.value)


def test_a_number_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="is a string"):
        parse_duration(15)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "terminal", "compact", "exact"),
    [
        (timedelta(seconds=42), "42 s", "42s", "42 s"),
        (timedelta(minutes=45), "45 min", "45m", "45 min"),
        (timedelta(hours=2, minutes=5), "2 h 05 min", "2h05m", "2 h 5 min"),
        (timedelta(hours=3), "3 h 00 min", "3h00m", "3 h"),
        (timedelta(days=3, hours=4, minutes=7), "3 d 4 h", "3d04h", "3 d 4 h 7 min"),
        (timedelta(days=2), "2 d", "2d00h", "2 d"),
        (-timedelta(minutes=90), "1 h 30 min", "1h30m", "1 h 30 min"),
    ],
)
def test_one_formatter_three_styles(
    value: timedelta, terminal: str, compact: str, exact: str
) -> None:
    assert (span(value), span(value, "compact"), span(value, "exact")) == (
        terminal,
        compact,
        exact,
    )
    assert span(None, "compact") == "-"


_UNITS = {"d": 1440, "h": 60, "min": 1}


@given(st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3650)))
def test_the_exact_style_loses_nothing_to_the_minute(value: timedelta) -> None:
    words = span(value, "exact").split()
    minutes = sum(int(n) * _UNITS[unit] for n, unit in zip(words[::2], words[1::2], strict=True))
    assert minutes == int(value.total_seconds() // 60)


@given(st.text(max_size=12))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_duration(text) > timedelta(0)
