"""Inspection plans (巡检): when the contract's rounds fall — an RFC 5545 rule in wall-clock time,
thinned by a business calendar (none on China's holidays, one on a make-up Saturday) — checked
by `faultflow check` with key paths, previewed by `faultflow inspect plan`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from dateutil.rrule import rrulestr
from faultflow import Engine, InvalidInput
from faultflow.cli.app import cli
from faultflow.contract.compile import default_contract_path, load_contract
from faultflow.timekeeping.recurrence import ANCHOR, Recurrence, RuleError, checked, from_every
from hypothesis import given, settings
from hypothesis import strategies as st

ZONE = ZoneInfo("Asia/Shanghai")
SEED = load_contract()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def test_rounds_skip_the_spring_festival_and_keep_its_make_up_saturday() -> None:
    office = SEED.calendars["office"]
    daily = Recurrence("FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", ZONE, office)
    days = [t.date() for t in daily.between(at("2026-02-09T00:00"), at("2026-02-26T00:00"))]
    assert days == [date(2026, 2, d) for d in (9, 10, 11, 12, 13, 14, 24, 25)]  # 14: Saturday
    assert all(t.hour == 9 for t in daily.between(at("2026-02-09T00:00"), at("2026-02-26T00:00")))
    seed = SEED.inspections["core-daily"].recurrence
    assert [t.date() for t in seed.between(at("2026-02-13T00:00"), at("2026-02-25T00:00"))] == [
        date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24)
    ]  # fmt: skip


rules = st.builds(
    lambda freq, hour, minute, days, interval, monthday: (
        f"FREQ={freq};BYHOUR={hour};BYMINUTE={minute};BYSECOND=0"
        + (f";BYDAY={','.join(days)}" if freq == "WEEKLY" and days else "")
        + (f";BYMONTHDAY={monthday}" if freq == "MONTHLY" and monthday else "")
        + (f";INTERVAL={interval}" if interval > 1 else "")
    ),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
    st.integers(0, 23),
    st.integers(0, 59),
    st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), unique=True, max_size=3),
    st.integers(1, 5),
    st.sampled_from([None, 1, 15, 28, 31, -1]),
)
"""Rules of every frequency, with intervals: the expansion moves a rule's anchor forward by
whole periods to the window (timekeeping/recurrence.py), and must give what dateutil gives
from the real anchor."""


@settings(max_examples=120, deadline=None)
@given(rules, st.integers(0, 900), st.integers(1, 400), st.booleans())
def test_a_rule_gives_what_dateutil_gives_on_working_days(
    rule: str, offset: int, days: int, on_calendar: bool
) -> None:
    calendar = SEED.calendars["office"] if on_calendar else None
    begin = at("2025-06-01T00:00") + timedelta(days=offset, hours=offset % 24)
    end = begin + timedelta(days=days)
    found = Recurrence(rule, ZONE, calendar).between(begin, end)
    naive = rrulestr(rule, dtstart=ANCHOR).between(
        begin.replace(tzinfo=None), end.replace(tzinfo=None), inc=True
    )
    expected = [
        t.replace(tzinfo=ZONE) for t in naive
        if t < end.replace(tzinfo=None) and (calendar is None or calendar.is_working_day(t.date()))
    ]  # fmt: skip
    assert found == expected
    assert found == sorted(found) and all(begin <= t < end for t in found)


def test_every_at_on_are_rules_too() -> None:
    assert from_every("day", "08:30", None) == "FREQ=DAILY;BYHOUR=8;BYMINUTE=30;BYSECOND=0"
    assert from_every("week", None, "fri").endswith(";BYDAY=FR")
    assert from_every("month", "09:30", 1).endswith(";BYMONTHDAY=1")
    for args, words in (
        (("hour", None, None), "every: 'hour'"),
        (("day", "25:00", None), "not a time of day"),
        (("week", None, "someday"), "expected a weekday"),
        (("month", None, 31), "from 1 to 28"),
    ):
        with pytest.raises(RuleError, match=words):
            from_every(*args)


def test_a_rule_that_never_falls_or_falls_too_often_is_refused() -> None:
    with pytest.raises(RuleError, match="never falls"):
        checked(Recurrence("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", ZONE), timedelta(hours=1))
    with pytest.raises(RuleError, match="more often than a round may take"):
        checked(Recurrence("FREQ=HOURLY", ZONE), timedelta(hours=2))
    checked(Recurrence("FREQ=DAILY;BYHOUR=9", ZONE), timedelta(hours=2))  # fine


def _contract(tmp_path: Path, plan: str) -> Path:
    text = default_contract_path().read_text("utf-8") + "\n" + plan
    path = tmp_path / "c.toml"
    path.write_text(text, "utf-8")
    return path


BASE = 'role = "duty-engineer"\ndue_within = "2h"\nchecklist = [{ item = "x", kind = "ok" }]\n'


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ('rrule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"\n', "inspections.p.rrule: it never falls"),
        ('rrule = "FREQ=HOURLY"\n', "inspections.p.rrule: it falls every 1:00:00"),
        ('rrule = "EVERY TUESDAY"\n', "inspections.p.rrule: 'EVERY TUESDAY' is not an RFC 5545"),
        ('every = "day"\nrrule = "FREQ=DAILY"\n', "inspections.p: give either rrule"),
        ('every = "fortnight"\n', "inspections.p.every: every: 'fortnight'"),
        ('every = "day"\ncalendar = "nope"\n', "inspections.p.calendar: no [calendars.nope]"),
        ('every = "day"\ntargets = ["unit"]\n', "inspections.p.targets[0]: 'unit': unit:CODE"),
        ('every = "day"\ntier = "Z"\n', "inspections.p.tier"),
    ],
)
def test_check_names_the_key_of_a_bad_plan(tmp_path: Path, plan: str, words: str) -> None:
    path = _contract(tmp_path, "[inspections.p]\n" + plan + BASE)
    done = CliRunner().invoke(cli, ["check", str(path)])
    assert done.exit_code == 1 and words in done.stderr, done.stderr


def test_a_checklist_item_needs_a_kind_and_bounds_that_fit(tmp_path: Path) -> None:
    for items, words in (
        ('[{ item = "x", kind = "colour" }]', "checklist[0].kind: 'colour': ok, number or text"),
        ('[{ item = "x", kind = "ok", max = 3 }]', "min and max are for a number"),
        ('[{ item = "x", kind = "number", min = 9, max = 3 }]', "min 9.0 is above max 3.0"),
        ("[]", "a round checks at least one item"),
        ('[{ item = "x" }]', "kind"),
    ):
        head = '[inspections.p]\nevery = "day"\nrole = "duty-engineer"\ndue_within = "2h"\n'
        plan = f"{head}checklist = {items}\n"
        done = CliRunner().invoke(cli, ["check", str(_contract(tmp_path, plan))])
        assert done.exit_code == 1 and words in done.stderr, (items, done.stderr)


def test_the_people_file_must_hold_the_role(tmp_path: Path) -> None:
    plan = '[inspections.p]\nevery = "day"\nrole = "night-watch"\n' + BASE.split("\n", 1)[1]
    path = _contract(tmp_path, plan)
    people = Path(__file__).resolve().parents[1] / "people.toml"
    done = CliRunner().invoke(cli, ["--config", str(path), "--people", str(people), "check"])
    assert done.exit_code == 1
    assert "inspection plan p is done by 'night-watch'" in done.stderr


def test_inspect_plan_previews_the_rounds(db_path: Path) -> None:
    Engine.open(db=db_path).close()
    run = CliRunner()
    base = ["--db", str(db_path), "--now", "2026-02-13T08:00+08:00"]
    done = run.invoke(cli, [*base, "inspect", "plan", "--to", "2026-03-02", "--json"])
    assert done.exit_code == 0, done.output
    rounds = json.loads(done.output)["rounds"]
    core = [r["scheduled_at"][:10] for r in rounds if r["plan"] == "core-daily"]
    assert core[:3] == ["2026-02-13", "2026-02-14", "2026-02-24"]  # the holiday skipped
    hall = [r for r in rounds if r["plan"] == "hall-weekly"]
    assert [r["scheduled_at"] for r in hall] == ["2026-02-16T10:00:00+08:00",
                                                 "2026-02-23T10:00:00+08:00"]  # fmt: skip
    assert hall[0]["due_at"] == "2026-02-17T10:00:00+08:00" and hall[0]["targets"] == [
        "unit:CG-HALL"
    ]
    lines = [r["scheduled_at"] for r in rounds if r["plan"] == "lines-monthly"]
    assert lines == ["2026-03-01T09:30:00+08:00"]
    text = run.invoke(cli, [*base, "inspect", "plan", "--plan", "core-daily"])
    assert "core-daily" in text.output and "due 11:00" in text.output
    for args, words in (
        (["--plan", "nope"], "no inspection plan 'nope'"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "the window is empty"),
        (["--to", "2028-01-01"], "at most a year"),
    ):
        bad = run.invoke(cli, [*base, "inspect", "plan", *args])
        assert bad.exit_code == 1 and words in bad.stderr and bad.stderr.count("\n") == 1
    engine = Engine.open(db=db_path, clock=lambda: at("2026-02-13T08:00"))
    with pytest.raises(InvalidInput, match="no inspection plan"):
        engine.planned(plan="nope")
    engine.close()
