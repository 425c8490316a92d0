"""Timer guards: every promise of the seed contract enforced by tick, each alarm fired once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, new_ticket, snapshot
from faultflow import Engine, IllegalTransition, InvalidInput


def fired(engine: Engine) -> list[tuple[str, str]]:
    return [(f.clock, f.event) for f in engine.tick()]


def alarms(engine: Engine, tid: str) -> list[tuple[str, str]]:
    return [
        (e.data["clock"], e.trigger)
        for e in engine.get(tid).history
        if e.trigger in ("warning", "breach")
    ]


@pytest.mark.parametrize(("tier", "limit"), [("A", 15), ("B", 30), ("C", 45)])
def test_p2_response_by_tier(engine: Engine, travel: Any, tier: str, limit: int) -> None:
    t = new_ticket(engine, tier)
    warn = round(limit * 0.8 * 60)
    travel(seconds=warn - 1)
    assert fired(engine) == []
    travel(seconds=1)
    assert fired(engine) == [("response", "warning")]
    assert fired(engine) == []  # once
    travel(seconds=limit * 60 - warn)  # exactly due: not yet breached
    assert fired(engine) == []
    travel(seconds=1)
    f = engine.tick()
    assert [(x.ticket, x.clock, x.event) for x in f] == [(t.id, "response", "breach")]
    assert f[0].due_at == START + timedelta(minutes=limit)
    assert fired(engine) == []
    view = engine.get(t.id)
    assert view.clocks["response"].breached
    breach = view.history[-1]
    assert breach.trigger == "breach" and breach.actor == "faultflow"
    assert "escalated to agent1, duty-engineer" in breach.note  # P5: owner and tier contacts


def test_p2_responding_in_time_cancels_the_breach(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    travel(minutes=14)
    engine.advance(t.id, "respond", actor="li")
    travel(hours=2)
    assert fired(engine) == []
    assert not engine.get(t.id).clocks["response"].breached
    assert alarms(engine, t.id) == [("response", "warning")]  # fired on the way, at 12 min


def test_p3_customer_manager_is_answered_in_15_minutes(engine: Engine, travel: Any) -> None:
    engine.intake("customer_manager", {"title": "x", "tier": "C"}, actor="zhao")
    travel(minutes=15, seconds=1)
    assert ("response", "breach") in fired(engine)


@pytest.mark.parametrize(("tier", "limit"), [("A", 60), ("B", 120), ("C", 240)])
def test_p8_arrival_by_tier(engine: Engine, travel: Any, tier: str, limit: int) -> None:
    t = new_ticket(engine, tier)
    engine.advance(t.id, "respond", actor="li")
    engine.advance(t.id, "dispatch", actor="li", reason="emergency")
    travel(minutes=limit)
    assert fired(engine) == [("arrival", "warning")]
    travel(seconds=1)
    assert fired(engine) == [("arrival", "breach")]


@pytest.mark.parametrize(("tier", "hours"), [("A", 5), ("B", 8), ("C", 24)])
def test_p9_p10_resolution_then_spare(engine: Engine, travel: Any, tier: str, hours: int) -> None:
    t = new_ticket(engine, tier)
    for step in ("respond", "dispatch", "arrive"):
        engine.advance(t.id, step, actor="li", reason="emergency")
    travel(hours=hours, seconds=1)
    assert fired(engine) == [("resolution", "breach")]  # the warning is superseded
    t = engine.advance(t.id, "substitute", actor="li", note="spare of the same model")
    assert t.state == "spare_substituted"


def test_p11_report_within_24_hours(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "C")
    for step in ("respond", "remote", "resolve"):
        engine.advance(t.id, step, actor="li")
    travel(hours=24, seconds=1)
    assert fired(engine) == [("report", "breach")]
    assert engine.advance(t.id, "report", actor="li").clocks["report"].breached


def test_p12_line_24_hours_or_7_days_for_external_causes(engine: Engine, travel: Any) -> None:
    line = new_ticket(engine, "C", kind="line")
    storm = new_ticket(engine, "C", kind="line", cause="external")
    assert line.clocks["line_repair"].limit == timedelta(hours=24)
    assert storm.clocks["line_repair"].limit == timedelta(days=7)
    for t in (line, storm):
        engine.advance(t.id, "respond", actor="li")
        engine.advance(t.id, "remote", actor="li")
    travel(hours=24, seconds=1)
    # the storm's warning falls at 80% of 7 days; the line's breach supersedes its warning
    assert [(f.ticket, f.clock, f.event) for f in engine.tick()] == [
        (line.id, "line_repair", "breach")
    ]
    assert engine.get(line.id).clocks["line_repair"].breached
    assert not engine.get(storm.id).clocks["line_repair"].breached
    travel(days=6)
    engine.tick()
    assert engine.get(storm.id).clocks["line_repair"].breached


def test_hold_and_resume_move_the_due_time(engine: Engine, db_path: Path, travel: Any) -> None:
    t = new_ticket(engine, "C")
    engine.advance(t.id, "respond", actor="li")
    engine.advance(t.id, "dispatch", actor="li", reason="upgrade")  # arrival: 4h, pausable
    travel(hours=1)
    t = engine.hold(t.id, reason="customer's machine room closed until 14:00", actor="li")
    assert t.on_hold and t.clocks["arrival"].status == "paused"
    assert t.clocks["arrival"].due_at is None
    travel(hours=5)
    assert fired(engine) == []  # paused clocks do not fire
    t = engine.resume(t.id, actor="li")
    assert t.clocks["arrival"].due_at == START + timedelta(hours=4 + 5)
    assert t.clocks["arrival"].remaining == timedelta(hours=3)
    before = snapshot(db_path)
    with pytest.raises(IllegalTransition, match="not on hold"):
        engine.resume(t.id, actor="li")
    with pytest.raises(InvalidInput, match="needs a reason"):
        engine.hold(t.id, reason="  ")
    assert snapshot(db_path) == before
    engine.hold(t.id, reason="again", actor="li")
    with pytest.raises(IllegalTransition, match="already on hold"):
        engine.hold(t.id, reason="and again", actor="li")
    triggers = [e.trigger for e in engine.get(t.id).history]
    assert triggers[-3:] == ["hold", "resume", "hold"]


def test_hold_needs_a_pausable_clock(engine: Engine) -> None:
    t = new_ticket(engine, "C")  # only the response clock runs: not pausable
    with pytest.raises(IllegalTransition, match="response, which cannot be paused"):
        engine.hold(t.id, reason="waiting")


def test_a_clock_started_on_hold_starts_paused(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    engine.advance(t.id, "respond", actor="li")
    engine.advance(t.id, "dispatch", actor="li")
    engine.hold(t.id, reason="road closed")
    t = engine.advance(t.id, "arrive", actor="li")
    assert t.clocks["resolution"].status == "paused"
    travel(hours=10)
    assert fired(engine) == []


def test_reclassify_recomputes_from_the_original_start(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "C")  # response due 09:45
    travel(minutes=20)
    t = engine.reclassify(t.id, tier="A", reason="whole county offline", actor="li")
    assert t.tier == "A"
    assert t.clocks["response"].due_at == START + timedelta(minutes=15)  # already past
    # the reclassification itself records the breach it makes (no stale warning before it)
    assert alarms(engine, t.id) == [("response", "breach")]
    assert [e.trigger for e in t.history][-2:] == ["reclassify", "breach"]
    assert fired(engine) == []  # once: the next tick finds nothing left to fire
    event = next(e for e in engine.get(t.id).history if e.trigger == "reclassify")
    assert event.note == "tier C → A" and event.reason == "whole county offline"


def test_reclassify_lengthening_lifts_a_breach(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    travel(minutes=16)
    assert fired(engine) == [("response", "breach")]
    t = engine.reclassify(t.id, tier="C", reason="only one office affected", actor="li")
    assert not t.clocks["response"].breached
    travel(minutes=30)  # 46 minutes: broken under tier C too
    assert fired(engine) == [("response", "breach")]


def test_reclassify_kind_adds_or_drops_the_line_clock(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "C")
    travel(hours=2)
    t = engine.reclassify(t.id, kind="line", reason="it is the fibre", actor="li")
    assert t.clocks["line_repair"].started_at == START  # from intake, the original start
    t = engine.reclassify(t.id, cause="external", reason="excavator", actor="li")
    assert t.clocks["line_repair"].limit == timedelta(days=7)
    t = engine.reclassify(t.id, kind="equipment", reason="not the fibre after all")
    assert "line_repair" not in t.clocks


def test_reclassify_refusals(engine: Engine, db_path: Path) -> None:
    t = new_ticket(engine, "C")
    before = snapshot(db_path)
    for kwargs, words in [
        ({"tier": "A"}, "needs a reason"),
        ({"tier": "Z", "reason": "r"}, "unknown tier 'Z'"),
        ({"reason": "r"}, "nothing to reclassify"),
        ({"tier": "C", "reason": "r"}, "nothing changes"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            engine.reclassify(t.id, **kwargs)
    assert snapshot(db_path) == before


def test_advance_fires_overdue_alarms_first_in_time_order(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    travel(hours=1)
    t = engine.advance(t.id, "respond", actor="li")  # nobody ticked meanwhile
    assert [e.trigger for e in engine.get(t.id).history] == ["intake", "breach", "respond"]
    assert [e.at for e in engine.get(t.id).history] == [
        START,
        START + timedelta(minutes=15),
        START + timedelta(hours=1),
    ]
    assert fired(engine) == []


def test_tick_with_an_explicit_now(engine: Engine) -> None:
    new_ticket(engine, "A")
    assert engine.next_due() == START + timedelta(minutes=12)
    assert fired_at(engine, START + timedelta(minutes=13)) == [("response", "warning")]


def fired_at(engine: Engine, now: Any) -> list[tuple[str, str]]:
    return [(f.clock, f.event) for f in engine.tick(now=now)]


def test_alarms_are_events_and_notifications(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "B")
    travel(minutes=31)
    engine.tick()
    with engine.store.unit() as u:
        rows = u.cursor.execute(
            "SELECT kind, payload FROM outbox WHERE ticket_id = ?", (t.id,)
        ).fetchall()
    kinds = [r[0] for r in rows]
    assert kinds == ["breach", "escalation"]  # the warning was superseded by the breach
    import json

    escalation = json.loads(rows[1][1])
    assert escalation["recipients"] == ["agent1", "duty-engineer", "customer-manager"]


def test_a_clock_dropped_from_the_contract_stops_firing_once_tickets_move(
    db_path: Path, travel: Any
) -> None:
    import copy
    import tomllib

    from faultflow.contract.compile import compile_contract, default_contract_path

    with Engine.open(db=db_path) as engine:
        t = new_ticket(engine, "A")
    data = copy.deepcopy(tomllib.loads(default_contract_path().read_text(encoding="utf-8")))
    del data["clocks"]["response"]
    new = compile_contract(data)
    with Engine.open(db=db_path, config=new, pinned=False) as engine:
        engine.apply_contract(new, migrate_open=True)  # the open ticket moves onto it
    with Engine.open(db=db_path, config=new) as engine:
        travel(minutes=20)
        assert engine.tick() == []
        assert engine.store.due(10**18, 10) == []  # its timer was cleared, not left to re-read
        assert "response" not in engine.get(t.id).clocks
        assert engine.get(t.id).history[-1].trigger == "contract"
        assert engine.verify().ok


def test_the_worked_example_of_docs_concepts(engine: Engine, travel: Any) -> None:
    """docs/concepts.md, "A worked example", step by step."""
    t = engine.intake(
        "hotline",
        {"title": "VPN down for two units", "tier": "B", "call_start": "2026-03-02T09:00:00+08:00"},
        actor="agent1",
    )
    assert t.clocks["response"].due_at == START + timedelta(minutes=30)
    travel(minutes=24)
    assert fired(engine) == [("response", "warning")]
    travel(minutes=2)  # 09:26
    t = engine.advance(t.id, "respond", actor="li")
    assert not t.clocks["response"].breached and t.clocks["response"].remaining == timedelta(
        minutes=4
    )
    travel(minutes=14)  # 09:40
    t = engine.advance(t.id, "dispatch", actor="li")
    assert t.clocks["arrival"].due_at == START + timedelta(hours=2, minutes=40)
    travel(minutes=20)  # 10:00
    engine.hold(t.id, reason="the unit's gate is closed", actor="li")
    travel(minutes=45)  # 10:45
    t = engine.resume(t.id, actor="li")
    assert t.clocks["arrival"].due_at == START + timedelta(hours=3, minutes=25)  # 12:25
    travel(hours=1, minutes=25)  # 12:10
    t = engine.advance(t.id, "arrive", actor="wang")
    arrival = t.clocks["arrival"]
    assert not arrival.breached and arrival.elapsed == timedelta(hours=1, minutes=45)
    assert t.clocks["resolution"].due_at == START + timedelta(hours=11, minutes=10)  # 20:10
    travel(hours=8, minutes=1)  # 20:11
    assert fired(engine) == [("resolution", "breach")]  # the 80% warning is long past too
    travel(minutes=29)  # 20:40
    t = engine.advance(t.id, "substitute", actor="wang", note="spare of the same model")
    assert t.clocks["resolution"].remaining == -timedelta(minutes=30)
    assert t.clocks["report"].due_at == START + timedelta(days=1, hours=11, minutes=40)
    travel(minutes=50)  # 21:30
    t = engine.advance(t.id, "report", actor="zhao")
    assert t.state == "reported" and not t.clocks["report"].breached
