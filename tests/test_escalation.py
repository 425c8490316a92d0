"""Escalation chains reach people: pages resolved from the rosters when each step fires, once
across racing schedulers, until someone acknowledges; by hand upward; handovers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import START, new_ticket, race
from faultflow import Engine, IllegalTransition, InvalidInput
from faultflow.contract.compile import compile_contract, default_contract_path
from faultflow.duty.people import load

SEED_PEOPLE = Path(__file__).parent.parent / "people.toml"


@pytest.fixture
def paged(db_path: Path, travel: Any) -> Engine:
    import pendulum

    return Engine.open(db=db_path, clock=pendulum.now, people=SEED_PEOPLE)


def pages(engine: Engine, tid: str) -> list[dict[str, Any]]:
    return [e.data for e in engine.history(tid) if e.trigger == "page"]


def outbox(db: Path, kind: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT payload FROM outbox WHERE kind = ? ORDER BY id", (kind,))
    found = [json.loads(p) for (p,) in rows]
    conn.close()
    return found


def test_a_breach_pages_the_people_on_duty_step_by_step_until_acknowledged(
    paged: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(paged, "A")
    travel(minutes=16)  # 09:16: the response promise (15 min) broke at 09:15
    paged.tick()
    first = pages(paged, t.id)
    assert [(p["step"], p["round"], [x["person"] for x in p["paged"]]) for p in first] == [
        (1, 1, ["li"])  # Monday 2 March: li's shift
    ]
    assert first[0]["paged"][0]["contacts"] == {"wecom": "LiGong", "mobile": "13800000001"}
    sent = outbox(db_path, "escalation")
    assert sent[-1]["people"][0]["person"] == "li" and sent[-1]["event"] == "page"
    travel(minutes=4)
    paged.tick()
    assert len(pages(paged, t.id)) == 1  # step 2 waits 5 minutes
    travel(minutes=1, seconds=1)
    paged.tick()
    assert [x["person"] for x in pages(paged, t.id)[-1]["paged"]] == ["zhou", "wu"]
    acked = paged.ack(t.id, actor="zhou", note="calling the unit now")
    assert acked.history[-1].trigger == "ack" and acked.history[-1].actor == "zhou"
    travel(hours=3)
    paged.tick()
    assert len(pages(paged, t.id)) == 2  # acknowledged: no more pages
    with pytest.raises(IllegalTransition, match="no escalation running"):
        paged.ack(t.id, actor="zhou")
    assert paged.verify().ok


def test_a_step_resolves_overrides_in_force_when_it_fires(paged: Engine, travel: Any) -> None:
    paged.override("duty-engineer", "zhao", "09:10", "12:00", "li at the dentist", actor="zhou")
    t = new_ticket(paged, "A")
    travel(minutes=16)
    paged.tick()
    assert [x["person"] for x in pages(paged, t.id)[0]["paged"]] == ["zhao"]
    with pytest.raises(InvalidInput, match="overlaps override 1"):
        paged.override("duty-engineer", "wang", "11:00", "13:00", "another swap")


def test_a_chain_survives_a_restart_between_steps(db_path: Path, travel: Any) -> None:
    """Nothing is in memory only: a new process picks the chain up where it was."""
    import pendulum

    first = Engine.open(db=db_path, clock=pendulum.now, people=SEED_PEOPLE)
    t = new_ticket(first, "A")
    travel(minutes=16)
    first.tick()
    first.close()  # the process dies here
    travel(minutes=6)
    second = Engine.open(db=db_path, clock=pendulum.now, people=SEED_PEOPLE)
    second.tick()
    assert [p["step"] for p in pages(second, t.id)] == [1, 2]


RACER = r"""
engine = Engine.open(db=db, clock=lambda: now, create=False, people=args[0])
engine.tick(deliver=False)
print(json.dumps(len([1 for e in engine.history(args[1]) if e.trigger == "page"])))
"""


def test_four_racing_schedulers_fire_each_step_once(
    paged: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(paged, "A")
    travel(minutes=16)
    paged.tick()  # the breach and the first page
    travel(minutes=6)  # step 2 is due: four schedulers at once
    now = START.add(minutes=22)
    race(db_path, now, RACER, [[str(SEED_PEOPLE), t.id]] * 4)
    assert [p["step"] for p in pages(paged, t.id)] == [1, 2]


def test_escalate_by_hand_goes_upward_from_where_it_stopped(paged: Engine, travel: Any) -> None:
    t = new_ticket(paged, "A")
    travel(minutes=16)
    paged.tick()  # step 1: the duty engineer
    paged.ack(t.id, actor="li")
    travel(minutes=30)
    up = paged.escalate(t.id, reason="needs the managers", actor="li")
    last = [e for e in up.history if e.trigger == "page"][-1]
    assert last.data["step"] == 2 and last.reason == "needs the managers"
    assert [x["person"] for x in last.data["paged"]] == ["zhou", "wu"]


def test_assign_hands_over_and_keeps_the_first_owner(paged: Engine, travel: Any) -> None:
    t = new_ticket(paged, "B")  # agent1 took it in
    moved = paged.assign(t.id, "wang", reason="wang is on site", actor="zhou")
    assert moved.owner == "wang"
    assert moved.history[0].actor == "agent1"  # who took it in (P5) stays
    assert moved.history[-1].data == {"from": "agent1", "to": "wang"}
    with pytest.raises(InvalidInput, match="unknown person 'nobody'"):
        paged.assign(t.id, "nobody", reason="x")
    assert paged.verify().ok


def test_without_people_the_contract_roles_are_named_as_before(
    engine: Engine, db_path: Path, travel: Any
) -> None:
    t = new_ticket(engine, "A")
    travel(minutes=16)
    engine.tick()
    assert pages(engine, t.id) == []
    sent = outbox(db_path, "escalation")
    assert "duty-engineer" in sent[-1]["recipients"]


def test_the_wecom_message_mentions_the_people_paged(db_path: Path, travel: Any) -> None:
    """A real local HTTP server stands in for the WeCom robot URL."""
    import tomllib

    from test_notify import Receiver

    receiver = Receiver()
    try:
        data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
        data["notifiers"] = {"group": {"use": "webhook", "url": receiver.url,
                                       "format": "wecom", "events": ["escalation"]}}  # fmt: skip
        contract = compile_contract(data)
        import pendulum

        engine = Engine.open(db=db_path, config=contract, clock=pendulum.now,
                             people=load(SEED_PEOPLE, contract))  # fmt: skip
        new_ticket(engine, "A")
        travel(minutes=16)
        engine.tick()
        content = receiver.bodies[-1]["markdown"]["content"]
        assert "<@LiGong>" in content and "李工" in content
        # whether the page reached its people is in the ticket's history
        (t,) = engine.list()
        delivered = [e for e in engine.history(t.id) if e.trigger == "delivered"]
        page = next(e for e in engine.history(t.id) if e.trigger == "page")
        assert [(e.data["page"], e.data["ok"], e.data["notifier"]) for e in delivered] == [
            (page.seq, True, "group")
        ]
        # and the duty board says where the chain stands, in the reader's words
        from faultflow.http.board import on_duty, rows
        from faultflow.words import Words

        (p,) = engine.paging([t.id]).values()
        assert (p.chain, p.status, p.step, p.steps, p.round) == ("A", "running", 1, 3, 1)
        li = ("李工",)
        assert (p.paged, p.by, p.delivered) == (li, ("mobile", "wecom"), True)
        (row,), _ = rows(engine, {}, Words("zh"))
        assert row["paging"]["step"] == "第 1/3 步 · 第 1 轮"
        assert row["paging"]["paged"] == "已呼叫 李工（电话、企业微信）"
        assert row["paging"]["delivery"] == "已送达" and row["paging"]["outcome"] == "下一步 09:21"
        engine.ack(t.id, actor="zhou")
        (row,), _ = rows(engine, {}, Words("en"))
        assert row["paging"]["outcome"] == "acknowledged by 周经理 at 09:16"
        duty = {d["role"]: d["people"] for d in on_duty(engine, Words("zh"))}
        assert duty["值班工程师"] == "李工 至 03-03 09:00"
        assert duty["客户经理"] == "周经理、吴经理"
        assert engine.verify().ok
    finally:
        receiver.close()


def test_a_long_wecom_message_is_cut_on_a_character_boundary() -> None:
    from faultflow.plugins.webhook import WECOM_LIMIT, wecom_markdown

    body = wecom_markdown({"kind": "escalation", "ticket": "X", "title": "宕机" * 3000})
    content = body["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_LIMIT and content.endswith("…")


def test_the_example_sms_plugin_texts_the_people_paged(db_path: Path, travel: Any) -> None:
    """docs/examples/faultflow-sms: a notifier a plugin author adds, against a real local HTTP
    server standing in for the SMS gateway."""
    import sys
    import tomllib

    import pendulum
    from faultflow.registry import discover
    from test_notify import Receiver

    sys.path.insert(0, str(Path(__file__).parent.parent / "docs" / "examples" / "faultflow-sms"))
    try:
        import faultflow_sms
    finally:
        sys.path.pop(0)
    gateway = Receiver()
    try:
        data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
        data["notifiers"] = {"sms": {"url": gateway.url, "events": ["escalation"]}}
        contract = compile_contract(data)
        engine = Engine.open(db=db_path, config=contract, clock=pendulum.now,
                             registry=discover(extra=(faultflow_sms,)),
                             people=load(SEED_PEOPLE, contract))  # fmt: skip
        t = new_ticket(engine, "A")
        travel(minutes=16)
        engine.tick()
        assert [b["to"] for b in gateway.bodies] == ["13800000001"]
        assert gateway.bodies[0]["text"].startswith(f"[{t.id}] fault A: escalation A, step 1")
    finally:
        gateway.close()


def test_a_step_that_reaches_nobody_records_the_gap_and_goes_on_at_once(
    db_path: Path, travel: Any
) -> None:
    """The people file changed under a running chain (its duty role is gone): never silence."""
    import dataclasses

    import pendulum

    people = load(SEED_PEOPLE, Engine.open(db=db_path).contract)
    gone = dataclasses.replace(
        people, roles={k: v for k, v in people.roles.items() if k != "duty-engineer"}
    )
    engine = Engine.open(db=db_path, clock=pendulum.now, people=gone)
    t = new_ticket(engine, "A")
    travel(minutes=16)
    engine.tick()
    engine.tick()  # the same moment: the next step is due at once
    first, second = pages(engine, t.id)[:2]
    assert first["paged"] == [] and first["gaps"] == ["duty-engineer"]
    assert [x["person"] for x in second["paged"]] == ["zhou", "wu"]  # the next step, at once


KILLED = r"""
import os, signal, sys
from datetime import datetime
from faultflow import Engine
db, people, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
engine = Engine.open(db=db, clock=lambda: now, create=False, people=people)
engine.tick(deliver=False)  # the breach, the chain, its first page: committed
os.kill(os.getpid(), signal.SIGKILL)  # and the process dies, mid-run
"""


def test_a_scheduler_killed_between_steps_loses_nothing(
    db_path: Path, paged: Engine, travel: Any
) -> None:
    import signal
    import subprocess
    import sys

    t = new_ticket(paged, "A")
    at = START.add(minutes=16)
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(db_path), str(SEED_PEOPLE), at.isoformat()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    travel(minutes=22)  # step 2 is due (5 min after the first page)
    paged.tick()
    paged.tick()
    assert [p["step"] for p in pages(paged, t.id)] == [1, 2]
    assert paged.verify().ok
