"""Rosters are pure arithmetic: rotations across handoffs and daylight-saving changes, overrides
mid-shift, found by binary search; people.toml refused with the key path of each mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faultflow.contract.compile import load_contract
from faultflow.duty.people import Override, compile_people, load
from faultflow.errors import ConfigError
from faultflow.timekeeping.times import to_us
from hypothesis import given, settings
from hypothesis import strategies as st

SEED = Path(__file__).parent.parent / "people.toml"
CONTRACT = load_contract()
BERLIN = ZoneInfo("Europe/Berlin")


def roster(**role: Any) -> Any:
    data = {
        "people": {p: {"name": p.title()} for p in ("anna", "ben", "cem", "dora")},
        "roles": {
            "duty-engineer": {"rotation": ["anna", "ben", "cem"], "shift": "1d",
                              "handoff": "09:00", "start": "2026-03-23", **role},
            "customer-manager": {"people": ["dora"]},
            "project-director": {"people": ["dora"]},
        },
    }  # fmt: skip
    return compile_people(data, CONTRACT)


def holder(people: Any, at: datetime) -> tuple[str, datetime | None]:
    (d,) = people.on_duty("duty-engineer", at)
    return d.person.id, d.until


def test_the_seed_roster_loads_with_the_seed_contract() -> None:
    people = load(SEED, CONTRACT)
    at = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    found, gaps = people.resolve(["duty-engineer", "customer-manager"], at)
    assert [d.person.id for d in found] == ["li", "zhou", "wu"] and gaps == []
    assert found[0].person.contacts == {"wecom": "LiGong", "mobile": "13800000001"}


def test_a_rotation_hands_over_at_9_in_berlin_across_the_march_change() -> None:
    """2026-03-29 is the last Sunday of March: clocks go from 02:00 to 03:00 in Berlin. The
    shift from Saturday 09:00 to Sunday 09:00 lasts 23 hours; every handoff is at 09:00."""
    people = roster(timezone="Europe/Berlin")
    saturday = datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)
    sunday = datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)
    who_sat, until_sat = holder(people, saturday + timedelta(hours=1))
    who_sun, until_sun = holder(people, sunday)
    assert until_sat == sunday and who_sat != who_sun
    lasted = sunday.astimezone(UTC) - saturday.astimezone(UTC)
    assert lasted.total_seconds() == 23 * 3600  # the shift that lost an hour
    assert until_sun is not None and until_sun.astimezone(BERLIN).hour == 9
    # the moment before the handoff is still Saturday's holder
    assert holder(people, sunday - timedelta(microseconds=1))[0] == who_sat
    # and in October, the shift that gains an hour
    oct24 = datetime(2026, 10, 24, 9, 0, tzinfo=BERLIN)
    ended = holder(people, oct24)[1]
    assert ended is not None
    assert (ended.astimezone(UTC) - oct24.astimezone(UTC)).total_seconds() == 25 * 3600


MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(at=MOMENTS, zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Shanghai"]),
       shift=st.sampled_from(["1d", "12h", "8h", "1w", "2d"]))  # fmt: skip
def test_a_holder_holds_until_the_handoff_and_then_the_next_one_does(
    at: datetime, zone: str, shift: str
) -> None:
    people = roster(timezone=zone, shift=shift)
    members = ["anna", "ben", "cem"]
    who, until = holder(people, at)
    assert until is not None and until > at
    assert holder(people, until - timedelta(microseconds=1))[0] == who
    after, _ = holder(people, until)
    assert after == members[(members.index(who) + 1) % 3]
    # the same instant in another representation (another zone, as another process would
    # hold it) finds the same holder
    assert holder(people, at.astimezone(ZoneInfo("Pacific/Auckland"))) == (who, until)
    # handoffs fall at 09:00 wall-clock time whenever the shift is whole days
    if shift in ("1d", "1w", "2d"):
        assert until.astimezone(ZoneInfo(zone)).hour == 9


def _override(i: int, person: str, start: datetime, end: datetime) -> Override:
    return Override(i, "duty-engineer", person, to_us(start), to_us(end), "swap", "ops")


def test_an_override_mid_shift_and_the_time_around_it() -> None:
    base = roster(timezone="Europe/Berlin")
    day = datetime(2026, 3, 24, 9, 0, tzinfo=BERLIN)  # ben's shift (anna had the 23rd)
    start, end = day + timedelta(hours=4), day + timedelta(hours=6)
    people = base.with_overrides([_override(7, "dora", start, end)])
    before, until = holder(people, day + timedelta(hours=1))
    assert before == "ben" and until == start  # until the override begins
    (d,) = people.on_duty("duty-engineer", start)
    assert (d.person.id, d.until, d.override) == ("dora", end, 7)
    assert holder(people, end) == ("ben", day + timedelta(days=1))


def test_overlapping_overrides_are_refused() -> None:
    day = datetime(2026, 3, 24, 9, 0, tzinfo=BERLIN)
    with pytest.raises(ConfigError, match="overrides 1 and 2 of role 'duty-engineer' overlap"):
        roster().with_overrides(
            [
                _override(1, "dora", day, day + timedelta(hours=3)),
                _override(2, "anna", day + timedelta(hours=2), day + timedelta(hours=5)),
            ]
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=60, unique=True), st.integers(-10, 1100))
def test_the_override_in_force_is_the_one_a_scan_finds(starts: list[int], probe: int) -> None:
    """Binary search gives what a scan of every override gives."""
    hour = 3_600_000_000
    overrides = [
        Override(i, "duty-engineer", "dora", s * hour, s * hour + hour // 2, "r", "a")
        for i, s in enumerate(sorted(starts))
    ]
    people = roster().with_overrides(overrides)
    at = probe * hour + hour // 4
    scanned = [o for o in overrides if o.start_us <= at < o.end_us]
    assert people.override_at("duty-engineer", at) == (scanned[0] if scanned else None)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"rotation": ["anna", "nobody"]},
            "roles.duty-engineer.rotation[1]: unknown person 'nobody'",
        ),
        ({"rotation": []}, "roles.duty-engineer.rotation: nobody"),
        ({"shift": "5h"}, "roles.duty-engineer.shift: '5h': a whole number of days"),
        ({"handoff": "9am"}, "roles.duty-engineer.handoff: '9am' is not a time of day"),
        ({"timezone": "Mars/Base"}, "roles.duty-engineer.timezone: unknown time zone"),
        ({"people": ["anna"]}, "give either people = [...]"),
        ({"colour": "red"}, "roles.duty-engineer.colour: unknown key"),
    ],
)
def test_mistakes_are_named_by_key_path(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as err:
        roster(**change)
    assert words in str(err.value)


def test_every_role_the_contract_escalates_to_must_exist() -> None:
    data = {"people": {"anna": {"name": "Anna"}}, "roles": {"duty-engineer": {"people": ["anna"]}}}
    with pytest.raises(ConfigError, match="tier A escalates to 'customer-manager'"):
        compile_people(data, CONTRACT)


def test_a_chain_step_names_known_roles_and_says_how_long_it_waits() -> None:
    base = {
        "people": {"anna": {"name": "Anna"}},
        "roles": {r: {"people": ["anna"]} for r in
                  ("duty-engineer", "customer-manager", "project-director")},
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"escalation.A.steps\[0\].notify\[0\]: unknown role"):
        compile_people({**base, "escalation": {"A": {"steps": [{"notify": ["nobody"]}]}}}, CONTRACT)
    with pytest.raises(ConfigError, match=r"escalation.A.steps\[0\].wait: how long"):
        compile_people(
            {**base, "escalation": {"A": {"steps": [{"notify": ["duty-engineer"]},
                                                     {"notify": ["customer-manager"]}]}}},
            CONTRACT,
        )  # fmt: skip
    with pytest.raises(ConfigError, match=r"escalation\.Z: no tier 'Z'"):
        compile_people(
            {**base, "escalation": {"Z": {"steps": [{"notify": ["duty-engineer"]}]}}}, CONTRACT
        )
