"""Another contract really is another file: docs/examples/service-desk.toml (English, five
states, tiers P1–P4, clocks ack and fix, its own remedy and cancelled state) through intake,
steps, alarms, the compliance report and the handling report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from faultflow import Engine, GuardRefused
from faultflow.cli.app import cli

CONTRACT = Path(__file__).parent.parent / "docs" / "examples" / "service-desk.toml"
MONDAY = pendulum.datetime(2026, 3, 2, 9, 0, tz="Europe/Berlin")


@pytest.fixture
def desk(tmp_path: Path) -> tuple[Engine, list[Any]]:
    now = [MONDAY]
    engine = Engine.open(db=tmp_path / "desk.db", config=CONTRACT, clock=lambda: now[0])
    return engine, now


def test_the_file_checks(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["check", str(CONTRACT)])
    assert done.exit_code == 0, done.output
    assert "tiers P1, P2, P3, P4; 5 states, 4 transitions; clocks ack, fix" in done.output


def test_a_p1_through_its_life_alarms_remedy_report(desk: tuple[Engine, list[Any]]) -> None:
    engine, now = desk
    t = engine.intake("web", {"title": "ERP down for all", "tier": "p1"}, actor="anna")
    assert (t.state, t.tier, list(t.clocks)) == ("new", "P1", ["ack"])
    assert t.clocks["ack"].limit == timedelta(minutes=10)
    now[0] = MONDAY + timedelta(minutes=8)  # 75% of 10 min used at 09:07:30
    assert [(f.clock, f.event) for f in engine.tick()] == [("ack", "warning")]
    t = engine.advance(t.id, "acknowledge", actor="anna")
    assert t.clocks["ack"].breached is False and t.clocks["fix"].limit == timedelta(hours=4)
    with pytest.raises(GuardRefused):  # the remedy only once the fix promise is broken
        engine.advance(t.id, "work_around", actor="anna")
    now[0] = MONDAY + timedelta(hours=4, minutes=30)
    assert [(f.clock, f.event) for f in engine.tick()] == [("fix", "breach")]
    t = engine.advance(t.id, "work_around", actor="anna", note="failed over to the DR site")
    t = engine.advance(t.id, "close", actor="ben", note="root cause fixed")
    assert t.state == "resolved"
    report = engine.report("2026-03-01", "2026-03-03")
    totals = report.totals()
    assert (totals["ack"].met, totals["ack"].breached) == (1, 0)
    assert (totals["fix"].met, totals["fix"].breached) == (0, 1)
    handling = engine.handling_report(t.id)
    assert handling.startswith("# Handling report")  # its language = "en"
    assert "## Remedy: service restored by a workaround" in handling
    assert "at 2026-03-02 13:30: failed over to the DR site" in handling
    assert "anna" not in handling  # the customer's report names no one of the staff
    assert "Status: fixed and confirmed with the user" in handling
    assert engine.verify().ok


def test_the_cancelled_role_leaves_a_rejected_ticket_out_of_the_figures(
    desk: tuple[Engine, list[Any]],
) -> None:
    engine, now = desk
    t = engine.intake("email", {"title": "printer jam", "tier": "P4"}, actor="anna")
    now[0] = MONDAY + timedelta(days=2)  # its ack promise (1 day) is broken
    engine.tick()
    engine.advance(t.id, "reject", actor="anna", reason="duplicate of a known request")
    report = engine.report("2026-03-01", "2026-03-05")
    assert report.cancelled == 1 and report.totals() == {}


def test_the_channel_rule_of_this_contract(desk: tuple[Engine, list[Any]]) -> None:
    """This contract says: a web form's id seen again on a closed ticket is a note."""
    engine, _ = desk
    first = engine.intake("web", {"title": "VPN", "external_id": "f-9"}, actor="anna")
    engine.advance(first.id, "reject", actor="anna", reason="user error")
    (again,) = engine.intake_all("web", {"title": "VPN again", "external_id": "f-9"}, "anna")
    assert (again.outcome, again.ticket.id) == ("note", first.id)


def test_late_entries_follow_this_contracts_backdate_limit(
    desk: tuple[Engine, list[Any]],
) -> None:
    from faultflow import InvalidInput

    engine, now = desk
    t = engine.intake("web", {"title": "mail slow", "tier": "P2"}, actor="anna")
    now[0] = MONDAY + timedelta(hours=9)
    with pytest.raises(InvalidInput, match="more than 8 h 00 min before now"):
        engine.advance(t.id, "acknowledge", actor="anna", at=MONDAY + timedelta(minutes=5))
