"""The library API: every path of SPEC §4, every guard, refusals that change nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from conftest import START, new_ticket, snapshot
from faultflow import (
    ConcurrentUpdate,
    DatabaseError,
    Engine,
    GuardRefused,
    IllegalTransition,
    IntakeError,
    InvalidInput,
    UnknownTicket,
)
from faultflow.audit.chain import event_hash, genesis

TICKET_KEYS = {
    "id",
    "state",
    "tier",
    "kind",
    "channel",
    "owner",
    "title",
    "version",
    "unit",  # SPEC §9: where it is (null when the registry does not know)
    "site",
    "line",
    "device",
    "parent",  # SPEC §9: the outage's ticket it was merged into (null), the reports merged in
    "children",
    "clocks",
    "history",
}
CLOCK_KEYS = {
    "status",
    "started_at",
    "due_at",
    "stopped_at",
    "limit_s",
    "elapsed_s",
    "remaining_s",
    "breached",
}
EVENT_KEYS = {"seq", "trigger", "from", "to", "at", "recorded_at", "actor", "note"}


def run(engine: Engine, ticket_id: str, *steps: str, travel: Any = None, **kw: Any) -> Any:
    t = None
    for step in steps:
        if travel is not None:
            travel(minutes=5)
        t = engine.advance(ticket_id, step, actor="li", **kw)
    return t


def states(t: Any) -> list[str]:
    return [e.to_state for e in t.history]


# -- the paths -----------------------------------------------------------------------------------


def test_remote_path(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "C")
    t = run(engine, t.id, "respond", "remote", "resolve", "report", travel=travel)
    assert states(engine.get(t.id)) == ["received", "responded", "remote", "resolved", "reported"]
    assert t.version == 5
    assert set(t.clocks) == {"response", "report"}
    assert all(c.status == "stopped" and not c.breached for c in t.clocks.values())


def test_on_site_path_after_remote_failed(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "C")
    t = run(
        engine, t.id, "respond", "remote", "dispatch", "arrive", "resolve", "report", travel=travel
    )
    assert states(engine.get(t.id))[-4:] == ["dispatched", "on_site", "resolved", "reported"]
    assert set(t.clocks) == {"response", "arrival", "resolution", "report"}


@pytest.mark.parametrize("tier", ["A", "B"])
def test_tier_a_and_b_go_on_site_directly(engine: Engine, tier: str) -> None:
    t = new_ticket(engine, tier)
    t = run(engine, t.id, "respond", "dispatch")
    assert t.state == "dispatched"
    assert t.clocks["arrival"].status == "running"


@pytest.mark.parametrize("reason", ["emergency", "upgrade", "cause-unknown", "remote-failed"])
def test_tier_c_goes_on_site_directly_with_a_reason(engine: Engine, reason: str) -> None:
    t = new_ticket(engine, "C")
    engine.advance(t.id, "respond", actor="li")
    t = engine.advance(t.id, "dispatch", actor="li", reason=reason)
    assert t.state == "dispatched"
    assert engine.get(t.id).history[-1].reason == reason


@pytest.mark.parametrize("reason", [None, "boredom"])
def test_tier_c_direct_dispatch_refused_without_a_listed_reason(
    engine: Engine, db_path: Path, reason: str | None
) -> None:
    t = new_ticket(engine, "C")
    engine.advance(t.id, "respond", actor="li")
    before = snapshot(db_path)
    with pytest.raises(GuardRefused) as err:
        engine.advance(t.id, "dispatch", actor="li", reason=reason)
    message = str(err.value)
    assert "tier is C, needs A or B" in message and "emergency" in message
    assert snapshot(db_path) == before


def test_substitute_opens_only_after_the_resolution_breach(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(engine, "A")
    run(engine, t.id, "respond", "dispatch", "arrive")
    travel(hours=4, minutes=59)
    before = snapshot(db_path)
    with pytest.raises(GuardRefused, match="resolution clock is not breached"):
        engine.advance(t.id, "substitute", actor="li")
    assert snapshot(db_path) == before
    travel(minutes=2)  # 5h01m after arrival: P9 broken, P10 applies
    t = engine.advance(t.id, "substitute", actor="li", note="spare switch, same model")
    assert t.state == "spare_substituted"
    triggers = [e.trigger for e in engine.get(t.id).history]
    assert triggers[-2:] == ["breach", "substitute"]  # the breach is recorded first, once
    assert t.clocks["resolution"].breached and t.clocks["report"].status == "running"
    t = engine.advance(t.id, "report", actor="li")
    assert t.state == "reported"


@pytest.mark.parametrize(
    "path",
    [
        [],
        ["respond"],
        ["respond", "remote"],
        ["respond", "dispatch"],
        ["respond", "dispatch", "arrive"],
        ["respond", "remote", "resolve"],
    ],
)
def test_cancel_from_every_open_state_needs_a_reason(
    engine: Engine, db_path: Path, path: list[str]
) -> None:
    t = new_ticket(engine, "A")
    run(engine, t.id, *path)
    before = snapshot(db_path)
    with pytest.raises(GuardRefused, match="reason is required"):
        engine.advance(t.id, "cancel", actor="li")
    assert snapshot(db_path) == before
    t = engine.advance(t.id, "cancel", actor="li", reason="duplicate of another ticket")
    assert t.state == "cancelled"
    assert all(c.status == "stopped" for c in t.clocks.values())


def test_nothing_leaves_a_final_state(engine: Engine, db_path: Path) -> None:
    t = new_ticket(engine, "C")
    run(engine, t.id, "respond", "remote", "resolve", "report")
    before = snapshot(db_path)
    with pytest.raises(IllegalTransition, match="reported is final"):
        engine.advance(t.id, "cancel", actor="li", reason="too late")
    assert snapshot(db_path) == before


# -- refusals ------------------------------------------------------------------------------------


def test_unknown_trigger_lists_the_allowed_ones(engine: Engine, db_path: Path) -> None:
    t = new_ticket(engine)
    before = snapshot(db_path)
    with pytest.raises(IllegalTransition) as err:
        engine.advance(t.id, "teleport", actor="li")
    assert "unknown trigger 'teleport'" in str(err.value)
    assert "allowed from received: respond, cancel" in str(err.value)
    assert err.value.allowed == ("respond", "cancel")
    with pytest.raises(IllegalTransition, match="cannot arrive a ticket that is received"):
        engine.advance(t.id, "arrive", actor="li")
    assert snapshot(db_path) == before


def test_unknown_ticket(engine: Engine) -> None:
    with pytest.raises(UnknownTicket, match="no ticket 'NOSUCH1'"):
        engine.advance("NOSUCH1", "respond", actor="li")
    with pytest.raises(UnknownTicket):
        engine.get("NOSUCH1")


def test_at_may_not_lie_in_the_future_nor_before_the_last_event(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(engine)
    travel(minutes=10)
    engine.advance(t.id, "respond", actor="li", at=START + timedelta(minutes=5))
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match="lies in the future of the engine clock"):
        engine.advance(t.id, "remote", actor="li", at=START + timedelta(minutes=11))
    with pytest.raises(InvalidInput, match="before the ticket's latest change \\(respond at"):
        engine.advance(t.id, "remote", actor="li", at=START + timedelta(minutes=4))
    with pytest.raises(InvalidInput, match="cannot read time"):
        engine.advance(t.id, "remote", actor="li", at="yesterday-ish")
    assert snapshot(db_path) == before


def test_a_time_without_offset_is_in_the_contract_time_zone(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine)
    t2 = new_ticket(engine)
    travel(minutes=10)
    t = engine.advance(t.id, "respond", actor="li", at="2026-03-02T09:05")
    assert engine.get(t.id).history[-1].at == START + timedelta(minutes=5)
    t2 = engine.advance(t2.id, "respond", actor="li", at=datetime(2026, 3, 2, 9, 7))  # naive
    assert engine.get(t2.id).history[-1].at == START + timedelta(minutes=7)


def test_stale_version_is_a_conflict_and_writes_nothing(engine: Engine, db_path: Path) -> None:
    t = new_ticket(engine)
    engine.advance(t.id, "respond", actor="li", version=1)
    before = snapshot(db_path)
    with pytest.raises(ConcurrentUpdate, match="not 1"):
        engine.advance(t.id, "remote", actor="wang", version=1)
    assert snapshot(db_path) == before


def test_bad_intake_writes_nothing(engine: Engine, db_path: Path) -> None:
    new_ticket(engine)
    before = snapshot(db_path)
    for channel, payload, words in [
        ("web", {"title": "x", "tier": "Z"}, "unknown tier 'Z'"),
        ("web", {"title": "x", "kind": "bridge"}, "unknown kind 'bridge'"),
        ("web", {}, "title: missing"),
        ("web", "not json", "payload is not JSON"),
        ("web", {"title": "x", "occurred_at": "2099-01-01T00:00"}, "in the future"),
        ("pigeon", {"title": "x"}, "unknown channel 'pigeon' (installed: alertmanager, chat"),
    ]:
        with pytest.raises(IntakeError, match=words.replace("(", r"\(")):
            engine.intake(channel, payload, actor="agent1")
    assert snapshot(db_path) == before


# -- what a ticket is ----------------------------------------------------------------------------


def test_ticket_json_has_exactly_the_spec_fields(engine: Engine) -> None:
    t = new_ticket(engine, "B", "hotline", caller="Wang", number="0374-1234567")
    d = engine.get(t.id).to_dict()
    assert set(d) == TICKET_KEYS
    assert set(d["clocks"]["response"]) == CLOCK_KEYS
    assert set(d["history"][0]) == EVENT_KEYS
    assert d["clocks"]["response"] == {
        "status": "running",
        "started_at": "2026-03-02T09:00:00+08:00",
        "due_at": "2026-03-02T09:30:00+08:00",
        "stopped_at": None,
        "limit_s": 1800,
        "elapsed_s": 0,
        "remaining_s": 1800,
        "breached": False,
    }
    assert d["history"][0] == {
        "seq": 1,
        "trigger": "intake",
        "from": None,
        "to": "received",
        "at": "2026-03-02T09:00:00+08:00",
        "recorded_at": "2026-03-02T09:00:00+08:00",
        "actor": "agent1",
        "note": "fault B",
    }
    assert (d["owner"], d["channel"], d["tier"], d["kind"]) == (
        "agent1",
        "hotline",
        "B",
        "equipment",
    )


def test_the_view_returned_by_a_change_equals_a_fresh_read(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    travel(minutes=3)
    after = engine.advance(t.id, "respond", actor="li")
    travel(minutes=1)
    engine.advance(t.id, "dispatch", actor="li")  # a later change does not leak into `after`
    assert len(after.history) == 2
    assert after.history[-1].trigger == "respond"
    assert [e.to_dict() for e in after.history] == [
        e.to_dict() for e in engine.get(t.id).history[:2]
    ]


def test_ids_are_short_unique_and_forgiving(engine: Engine) -> None:
    ids = {new_ticket(engine).id for _ in range(200)}
    assert len(ids) == 200
    tid = next(iter(ids))
    assert len(tid) == 7 and tid.isalnum() and tid.upper() == tid
    assert not set(tid) & set("ILOU")
    typed = tid.lower().replace("0", "o").replace("1", "l")
    assert engine.get(f"{typed[:3]}-{typed[3:]}").id == tid


def test_the_intake_actor_owns_the_ticket(engine: Engine) -> None:
    t = engine.intake("customer_manager", {"title": "VPN down", "manager": "Zhao"}, actor="zhao")
    assert t.owner == "zhao"
    assert t.clocks["response"].limit == timedelta(minutes=15)  # P3, whatever the tier
    assert t.tier == "C"


def test_idempotent_intake_by_external_id(engine: Engine, db_path: Path) -> None:
    first = engine.intake("web", {"title": "x", "external_id": "F-1"}, actor="a")
    before = snapshot(db_path)
    again = engine.intake("web", {"title": "x again", "external_id": "F-1"}, actor="b")
    assert again.id == first.id and again.title == "x"
    assert snapshot(db_path) == before
    other = engine.intake("hotline", {"title": "x", "external_id": "F-1"}, actor="a")
    assert other.id != first.id  # the same id on another channel is another fault


def test_history_is_hash_chained(engine: Engine, travel: Any) -> None:
    t = new_ticket(engine, "A")
    run(engine, t.id, "respond", "dispatch", travel=travel)
    prev = genesis(t.id)
    for e in engine.get(t.id).history:
        import json

        data = json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data else "{}"
        expected = event_hash(
            prev,
            [
                t.id,
                e.seq,
                e.trigger,
                e.from_state,
                e.to_state,
                _us(e.at),
                _us(e.recorded_at),
                e.actor,
                e.note,
                e.reason,
                data,
            ],
        )
        assert e.hash == expected
        prev = e.hash


def _us(moment: datetime) -> int:
    from faultflow.timekeeping.times import to_us

    return to_us(moment)


def test_list_filters_and_puts_the_most_urgent_first(engine: Engine, travel: Any) -> None:
    c = new_ticket(engine, "C")
    a = new_ticket(engine, "A")
    travel(minutes=20)  # A's 15 minutes are gone
    b = new_ticket(engine, "B")
    ids = [t.id for t in engine.list()]
    assert ids == [a.id, c.id, b.id]  # breached first, then nearest due (09:45, 09:50)
    assert [t.id for t in engine.list(breached=True)] == [a.id]
    assert [t.id for t in engine.list(tier="B")] == [b.id]
    assert engine.list(state="reported") == []
    with pytest.raises(InvalidInput, match="unknown state 'done'"):
        engine.list(state="done")


# -- the store -----------------------------------------------------------------------------------


def test_tickets_survive_reopening(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as e1:
        t = new_ticket(e1, "A")
        e1.advance(t.id, "respond", actor="li")
    with Engine.open(db=f"sqlite:///{db_path}") as e2:
        assert e2.get(t.id).state == "responded"


def test_sqlite_runs_in_wal_with_foreign_keys(engine: Engine, db_path: Path) -> None:
    new_ticket(engine)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with engine.store.unit() as u:
        assert u.cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert u.cursor.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_the_history_refuses_update_and_delete(engine: Engine, db_path: Path) -> None:
    t = new_ticket(engine)
    conn = sqlite3.connect(db_path)
    for statement in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
    conn.close()
    assert engine.get(t.id).history[0].actor == "agent1"


def test_a_missing_database_is_not_created_unless_asked(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=r"no database at .*faultflow init"):
        Engine.open(db=tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()


def test_foreign_tables_are_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="not faultflow's"):
        Engine.open(db=path)


def test_one_machine_serves_every_ticket(engine: Engine) -> None:
    machine = engine.lifecycle._machine
    for _ in range(20):
        t = new_ticket(engine, "A")
        engine.advance(t.id, "respond", actor="li")
    assert engine.lifecycle._machine is machine
    # no model per ticket: only the one probe the board's options ask may_<trigger> of
    assert machine.models == [engine.lifecycle._probe]


def test_the_default_clock_is_pendulum(db_path: Path) -> None:
    with (
        pendulum.travel_to(pendulum.datetime(2027, 1, 1, 12, tz="UTC"), freeze=True),
        Engine.open(db=db_path) as e,
    ):
        t = new_ticket(e)
        assert t.created_at == pendulum.datetime(2027, 1, 1, 20, tz="Asia/Shanghai")


# -- the engine's memory of tickets it wrote is a guess the database confirms ------------------


def test_a_stale_memory_is_corrected_by_the_database(db_path: Path, travel: Any) -> None:
    a, b = Engine.open(db=db_path), Engine.open(db=db_path)  # two processes, in effect
    t = new_ticket(a, "C")
    a.advance(t.id, "respond", actor="li")  # a remembers: responded, version 2
    b.advance(t.id, "remote", actor="wang")  # b moves it on: remote, version 3
    # From `responded` a tier-C dispatch needs a reason; from `remote` it does not. a's guess
    # would refuse; the database says remote, so it succeeds.
    after = a.advance(t.id, "dispatch", actor="li")
    assert (after.state, after.version) == ("dispatched", 4)
    assert [e.trigger for e in a.get(t.id).history] == ["intake", "respond", "remote", "dispatch"]
    b.advance(t.id, "arrive", actor="wang")  # version 5
    with pytest.raises(ConcurrentUpdate, match="at version 5, not 4"):
        a.advance(t.id, "resolve", actor="li", version=4)
    with pytest.raises(IllegalTransition, match="cannot arrive a ticket that is on_site"):
        a.advance(t.id, "arrive", actor="li")  # refused on the database's word, not a guess


def test_the_memory_is_bounded(engine: Engine) -> None:
    from faultflow.tickets.unit import RECENT

    for _ in range(RECENT + 20):
        new_ticket(engine)
    assert len(engine.work._recent) == RECENT


def test_list_open_or_closed_in_the_database(engine: Engine) -> None:
    done = new_ticket(engine)
    run(engine, done.id, "respond", "remote", "resolve", "report")
    still = new_ticket(engine)
    assert [t.id for t in engine.list(final=False)] == [still.id]
    assert [t.id for t in engine.list(final=True)] == [done.id]
    assert {t.id for t in engine.list()} == {done.id, still.id}
