"""A 5x8 contract with China's holidays (docs/examples/office-hours.toml) drives tickets across
the 2026 Spring Festival and National Day: due times, alarms, holds, reclassification and what
`show` says, through the engine and a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from faultflow import Engine

OFFICE = Path(__file__).parent.parent / "docs" / "examples" / "office-hours.toml"
SH = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, *at: int) -> None:
        self.now = datetime(*at, tzinfo=SH)  # type: ignore[misc]

    def __call__(self) -> datetime:
        return self.now

    def to(self, *at: int) -> None:
        self.now = datetime(*at, tzinfo=SH)  # type: ignore[misc]


@pytest.fixture
def office(tmp_path: Path) -> Any:
    def open_at(*at: int) -> tuple[Engine, Clock]:
        clock = Clock(*at)
        return Engine.open(db=tmp_path / "office.db", config=OFFICE, clock=clock), clock

    return open_at


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(SH).replace(tzinfo=None) if value is not None else None


def test_spring_festival(office: Any) -> None:
    """Friday Feb 13, 16:00; Saturday Feb 14 is a working day; Feb 15-23 are not."""
    engine, clock = office(2026, 2, 13, 16, 0)
    t = engine.intake("hotline", {"title": "打印机故障", "tier": "C"}, actor="desk")
    response = t.clocks["response"]
    assert response.calendar == "office" and response.limit == timedelta(hours=4)
    # 1.5 h on Friday, 2.5 h on the make-up Saturday
    assert local(response.due_at) == datetime(2026, 2, 14, 11, 0)
    clock.to(2026, 2, 13, 20, 0)  # Friday evening: the clock waits for Saturday morning
    evening = engine.get(t.id).clocks["response"]
    assert local(evening.opens_at) == datetime(2026, 2, 14, 8, 30)
    assert evening.elapsed == timedelta(hours=1, minutes=30) and not evening.breached
    assert engine.tick() == []
    clock.to(2026, 2, 14, 10, 0)
    engine.advance(t.id, "respond", actor="li")
    clock.to(2026, 2, 14, 10, 30)
    t = engine.advance(t.id, "dispatch", actor="li", reason="emergency")
    # 8 working hours: 5.5 h left on Saturday, then the holiday, then 2.5 h on Tuesday Feb 24
    assert local(t.clocks["arrival"].due_at) == datetime(2026, 2, 24, 11, 0)
    clock.to(2026, 2, 20, 12, 0)  # in the middle of the holiday: nothing is due
    assert engine.tick() == [] and not engine.get(t.id).breached
    clock.to(2026, 2, 24, 10, 0)  # 80% of 8 working hours used: 09:24 on Tuesday
    fired = engine.tick()
    assert [(f.clock, f.event) for f in fired] == [("arrival", "warning")]
    clock.to(2026, 2, 24, 11, 0)
    assert engine.tick() == []  # due at 11:00 exactly is still met
    clock.to(2026, 2, 24, 11, 0, 1)
    fired = engine.tick()
    assert [(f.clock, f.event) for f in fired] == [("arrival", "breach")]
    assert local(fired[0].due_at) == datetime(2026, 2, 24, 11, 0)
    # the report counts working time: at 14:00 the overrun is 1.5 h (not 12:00-13:30, lunch)
    clock.to(2026, 2, 24, 14, 0)
    report = engine.report("2026-02-01", "2026-02-28")
    lines = {(x.clock, x.tier): x for x in report.lines}
    assert (lines[("response", "C")].met, lines[("arrival", "C")].breached) == (1, 1)
    assert lines[("response", "C")].median == timedelta(hours=3)  # Fri 1.5 h + Sat 1.5 h
    (breach,) = report.breaches
    assert (breach.clock, local(breach.due_at)) == ("arrival", datetime(2026, 2, 24, 11, 0))
    assert breach.overrun == timedelta(hours=1, minutes=30) and breach.stopped_at is None


def test_national_day_with_a_hold_and_a_reclassification(office: Any) -> None:
    engine, clock = office(2026, 9, 30, 17, 0)
    t = engine.intake("hotline", {"title": "core switch", "tier": "B"}, actor="desk")
    # B: 2 working hours; 30 minutes on Sep 30, then Oct 1-7 off, 1.5 h on Thursday Oct 8
    assert local(t.clocks["response"].due_at) == datetime(2026, 10, 8, 10, 0)
    clock.to(2026, 10, 3, 9, 0)
    t = engine.reclassify(t.id, tier="A", reason="the whole county is down", actor="li")
    assert local(t.clocks["response"].due_at) == datetime(2026, 10, 8, 9, 0)  # A: 1 h
    clock.to(2026, 10, 8, 8, 45)
    engine.advance(t.id, "respond", actor="li")
    clock.to(2026, 10, 8, 9, 0)
    t = engine.advance(t.id, "dispatch", actor="li")
    assert local(t.clocks["arrival"].due_at) == datetime(2026, 10, 8, 11, 0)  # A: 2 h
    clock.to(2026, 10, 8, 10, 0)
    engine.hold(t.id, reason="the unit's building is locked", actor="li")
    clock.to(2026, 10, 9, 10, 0)  # a day later: 7.5 h of working time were paused
    t = engine.resume(t.id, actor="li")
    arrival = t.clocks["arrival"]
    assert arrival.elapsed == timedelta(hours=1) and local(arrival.due_at) == datetime(
        2026, 10, 9, 11, 0
    )
    # Saturday Oct 10 is a make-up workday: hold over Friday evening, resume on Saturday
    clock.to(2026, 10, 9, 10, 30)
    engine.hold(t.id, reason="again", actor="li")
    clock.to(2026, 10, 10, 9, 0)
    t = engine.resume(t.id, actor="li")
    assert local(t.clocks["arrival"].due_at) == datetime(2026, 10, 10, 9, 30)
    report = engine.verify()
    assert report.ok, report.broken


def test_the_fibre_line_clock_stays_around_the_clock(office: Any) -> None:
    engine, _ = office(2026, 2, 13, 16, 0)
    t = engine.intake("hotline", {"title": "fibre cut", "kind": "line"}, actor="desk")
    line = t.clocks["line_repair"]
    assert line.calendar is None and local(line.due_at) == datetime(2026, 2, 14, 16, 0)


def test_show_and_the_handling_report_say_working_time(office: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from faultflow.cli.app import cli

    engine, _ = office(2026, 2, 13, 18, 0)
    t = engine.intake("hotline", {"title": "printer", "tier": "C"}, actor="desk")
    engine.close()
    env = {"FAULTFLOW_DB": str(tmp_path / "office.db"), "FAULTFLOW_CONFIG": str(OFFICE),
           "FAULTFLOW_NOW": "2026-02-13T18:00:00+08:00"}  # fmt: skip
    shown = CliRunner().invoke(cli, ["show", t.id], env=env, prog_name="faultflow")
    assert shown.exit_code == 0, shown.output
    assert "4 working hours" in shown.output
    assert "paused until Sat 02-14 08:30 (outside working hours)" in shown.output
    period = ["--from", "2026-02-01", "--to", "2026-02-28"]
    report = CliRunner().invoke(cli, ["report", *period], env=env, prog_name="faultflow")
    assert report.exit_code == 0, report.output
    office = "office: Mon–Fri 08:30–12:00, 13:30–17:30 (Asia/Shanghai), CN holidays"
    assert f"response, arrival, resolution, report count working time: {office}" in report.output
    handling = CliRunner().invoke(cli, ["report", "--ticket", t.id], env=env, prog_name="faultflow")
    assert handling.exit_code == 0, handling.output
    # in the contract's language
    assert f"- 工作时间：{office}（承诺按工作时间计算）" in handling.output
    assert "| 4 小时工作时间（office） |" in handling.output
    english = CliRunner().invoke(cli, ["report", "--ticket", t.id, "--lang", "en"], env=env)
    assert f"- Working time: {office}" in english.output
    assert "| 4 h of working time (office) |" in english.output
    as_html = CliRunner().invoke(cli, ["report", "--ticket", t.id, "--format", "html"], env=env,
                                 prog_name="faultflow")  # fmt: skip
    assert as_html.exit_code == 0, as_html.output
    assert "<td>4 小时工作时间（office）</td>" in as_html.output  # the limit counts working time
