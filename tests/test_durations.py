import contextlib
from datetime import timedelta

import pytest
from faultflow.durations import format_duration, parse_duration
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


@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=3650)))
def test_format_then_parse_round_trips_to_the_second(value: timedelta) -> None:
    whole = timedelta(seconds=int(value.total_seconds()))
    assert parse_duration(format_duration(whole)) == whole


@given(st.text(max_size=12))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_duration(text) > timedelta(0)
