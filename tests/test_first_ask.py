"""First-ask responsibility (P5): whoever answers a ticket owns it — a portal report, an alert
or a login's ticket becomes the responder's — unless a person of the people file took the fault
in (asked first, they keep it), or the contract says ``owner = "intake"``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pendulum
from faultflow import Engine
from faultflow.contract.compile import compile_contract, default_contract_path

SEED_PEOPLE = Path(__file__).parent.parent / "people.toml"


def test_the_responder_owns_a_ticket_nobody_of_the_staff_took_in(engine: Engine) -> None:
    t = engine.intake("web", {"title": "网络中断", "tier": "B"}, actor="portal")
    assert t.owner == "portal"
    t = engine.advance(t.id, "respond", actor="li")
    assert t.owner == "li"
    assert t.history[-1].data["owner"] == {"from": "portal", "to": "li"}  # in the audit chain
    t = engine.advance(t.id, "remote", actor="wang")
    assert t.owner == "li"  # only the first answer takes it over
    assert engine.verify().ok  # the replay finds the owner the history gives


def test_a_person_who_took_the_call_keeps_it(db_path: Path, travel: Any) -> None:
    engine = Engine.open(db=db_path, clock=pendulum.now, people=SEED_PEOPLE)
    t = engine.intake("hotline", {"summary": "交换机宕机", "tier": "A"}, actor="zhou")
    t = engine.advance(t.id, "respond", actor="li")
    assert t.owner == "zhou" and "owner" not in t.history[-1].data
    other = engine.intake("hotline", {"summary": "打印机", "tier": "C"}, actor="root")
    assert engine.advance(other.id, "respond", actor="li").owner == "li"  # root: no person
    assert engine.verify().ok
    engine.close()


def test_the_contract_may_keep_the_intake_owner(db_path: Path, travel: Any) -> None:
    data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
    data["contract"]["owner"] = "intake"
    engine = Engine.open(db=db_path, config=compile_contract(data), clock=pendulum.now)
    t = engine.intake("web", {"title": "网络中断", "tier": "B"}, actor="portal")
    assert engine.advance(t.id, "respond", actor="li").owner == "portal"
    engine.close()
