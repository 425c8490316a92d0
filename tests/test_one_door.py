"""Every writer goes through the one unit of work: a breach that falls due inside any change —
an operator's step, a hold, a note, an ack, an intake follow-up, a contract migration — is
recorded once and starts the same escalation chain, paging the same people, as when the timer
sweep finds it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import START, new_ticket
from faultflow import Engine
from faultflow.bulk import BulkTicket, load
from faultflow.contract.compile import default_contract_path
from faultflow.intake import IntakeRecord
from test_mail_reading import mail

SEED_PEOPLE = Path(__file__).parent.parent / "people.toml"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def paged(db_path: Path, travel: Any) -> Engine:
    import pendulum

    return Engine.open(db=db_path, clock=pendulum.now, people=SEED_PEOPLE)


def chain(db: Path, tid: str) -> tuple[str, str] | None:
    """The ticket's escalation chain as the database holds it: (chain, status)."""
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT chain, status FROM escalations WHERE ticket_id = ?", (tid,))
    found = row.fetchone()
    conn.close()
    return (found[0], found[1]) if found else None


def paged_people(engine: Engine, tid: str) -> list[list[str]]:
    pages = [e for e in engine.history(tid) if e.trigger == "page"]
    return [[p["person"] for p in e.data["paged"]] for e in pages]


def breaches(engine: Engine, tid: str) -> list[str]:
    return [e.data["clock"] for e in engine.history(tid) if e.trigger == "breach"]


# -- each writer, on a tier A ticket whose response promise (15 min) broke at 09:15 -------------
# A writer gets the engine, the travel fixture and a folder; it returns the ticket it changed.

Writer = Callable[[Engine, Any, Path], str]


def by_the_sweep(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A")
    travel(minutes=16)
    return t.id  # nothing but the tick below


def by_advance(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A")
    travel(minutes=16)
    return e.advance(t.id, "respond", actor="li").id


def by_note(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A")
    travel(minutes=16)
    return e.note(t.id, "the unit called again", actor="agent1").id


def by_assign(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A")
    travel(minutes=16)
    return e.assign(t.id, "wang", reason="li is on site elsewhere", actor="agent1").id


def by_reclassify(e: Engine, travel: Any, folder: Path) -> str:
    """Tier C at 09:00 (45 min to respond); at 09:16 it is found to be tier A: the promise of
    15 minutes is broken already, and the reclassification itself fires the breach."""
    t = new_ticket(e, "C")
    travel(minutes=16)
    return e.reclassify(t.id, tier="A", reason="the whole hall is down", actor="agent1").id


def by_hold(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A", kind="line")  # line_repair is pausable; response is not
    travel(minutes=16)
    return e.hold(t.id, reason="the unit asks to wait for its electrician", actor="li").id


def by_resume(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A", kind="line")
    travel(minutes=5)
    e.hold(t.id, reason="the unit asks to wait", actor="li")
    travel(minutes=11)
    return e.resume(t.id, actor="li").id


def by_escalate(e: Engine, travel: Any, folder: Path) -> str:
    t = new_ticket(e, "A")
    travel(minutes=16)
    return e.escalate(t.id, reason="the director asks", actor="agent1").id


def by_alertmanager_resolved(e: Engine, travel: Any, folder: Path) -> str:
    """The alert (critical: tier A, started 08:58:30) resolves at 09:16, before the scheduler's
    next pass found the broken 15 minutes: the note records the breach and starts the chain."""
    firing = json.loads((FIXTURES / "alertmanager_firing.json").read_text())
    firing["alerts"] = firing["alerts"][:1]
    (opened,) = e.intake_all("alertmanager", firing, actor="alertmanager")
    travel(minutes=16)
    resolved = json.loads((FIXTURES / "alertmanager_resolved.json").read_text())
    resolved["alerts"] = [a for a in resolved["alerts"] if a["fingerprint"] == "c4b5e3a1f09d2b77"]
    (noted,) = e.intake_all("alertmanager", resolved, actor="alertmanager")
    assert (noted.outcome, noted.ticket.id) == ("note", opened.ticket.id)
    return noted.ticket.id


def by_email_reply(e: Engine, travel: Any, folder: Path) -> str:
    (first,) = e.intake_all("email", mail("交换机宕机", "d1@czj.example"), "agent1")
    assert first.ticket.tier == "A"
    travel(minutes=16)
    reply = mail("回复：交换机宕机", "d2@czj.example", "还没人来", In_Reply_To="<d1@czj.example>")
    (noted,) = e.intake_all("email", reply, "agent1")
    assert (noted.outcome, noted.ticket.id) == ("note", first.ticket.id)
    return noted.ticket.id


def by_contract_apply(e: Engine, travel: Any, folder: Path) -> str:
    """At 09:12 a new version promises tier A a response in 10 minutes; moving the open ticket
    onto it breaks that promise at once (due 09:10)."""
    t = new_ticket(e, "A")
    travel(minutes=12)
    seed = default_contract_path().read_text(encoding="utf-8")
    assert 'A = "15m"' in seed
    path = folder / "states-v2.toml"
    path.write_text(seed.replace('A = "15m"', 'A = "10m"', 1), encoding="utf-8")
    _, moved = e.apply_contract(path, migrate_open=True, actor="ops")
    assert moved == [t.id]
    return t.id


def by_bulk_load(e: Engine, travel: Any, folder: Path) -> str:
    """A bulk load opens tickets as intake does and fires nothing: the sweep finds the breach."""
    record = IntakeRecord(title="imported fault", tier="A")
    load(e, [BulkTicket("hotline", record, at=START)])
    travel(minutes=16)
    (t,) = e.list()
    return t.id


def by_merge(e: Engine, travel: Any, folder: Path) -> str:
    """The 09:00 report is merged at 09:16 into a ticket opened at 09:10: the parent's promise
    runs from 09:00 and broke at 09:15 — found by the merge."""
    first = new_ticket(e, "A")
    travel(minutes=10)
    parent = new_ticket(e, "A")
    travel(minutes=6)
    return e.merge(first.id, parent.id, actor="li").id


WRITERS = [
    by_the_sweep, by_advance, by_note, by_assign, by_reclassify, by_hold, by_resume,
    by_escalate, by_alertmanager_resolved, by_email_reply, by_contract_apply, by_bulk_load,
    by_merge,
]  # fmt: skip


@pytest.mark.parametrize("writer", WRITERS, ids=[w.__name__ for w in WRITERS])
def test_a_breach_inside_any_writer_pages_as_the_sweep_does(
    writer: Writer, paged: Engine, db_path: Path, travel: Any
) -> None:
    tid = writer(paged, travel, db_path.parent)
    inside = writer not in (by_the_sweep, by_bulk_load)
    if inside:  # recorded by the writer's own transaction, and its chain already running
        assert breaches(paged, tid) == ["response"]
        assert chain(db_path, tid) == ("A", "running")
    paged.tick()  # the escalation sweep pages whoever the chain's first step names
    assert breaches(paged, tid) == ["response"]  # once, whoever found it
    assert paged_people(paged, tid) == [["li"]]  # Monday 2 March 09:16: li's shift
    assert chain(db_path, tid) == ("A", "running")
    assert paged.verify().ok


def test_an_ack_acknowledges_the_chain_its_own_breach_started(
    paged: Engine, db_path: Path, travel: Any
) -> None:
    """The breach that fell due before the ack is recorded first and starts its chain; the ack
    then stops it (the one acknowledging has the ticket in hand): nobody is paged."""
    t = new_ticket(paged, "A")
    travel(minutes=16)
    acked = paged.ack(t.id, actor="li")
    assert [e.trigger for e in acked.history][-2:] == ["breach", "ack"]
    assert chain(db_path, t.id) == ("A", "acknowledged")
    travel(hours=1)
    paged.tick()
    assert paged_people(paged, t.id) == []
    assert paged.verify().ok


def test_the_escalate_writer_pages_once_not_twice(paged: Engine, travel: Any) -> None:
    """By hand at 09:16: the chain the breach starts is moved on by the escalation itself (its
    first step pages li), and the sweep right after does not page li again."""
    t = new_ticket(paged, "A")
    travel(minutes=16)
    paged.escalate(t.id, reason="the director asks", actor="agent1")
    paged.tick()
    assert paged_people(paged, t.id) == [["li"]]
    travel(minutes=5, seconds=1)  # the first step waits 5 minutes, then the second pages
    paged.tick()
    assert paged_people(paged, t.id) == [["li"], ["zhou", "wu"]]


def test_a_late_step_is_refused_on_a_ticket_the_caller_saw_at_another_version(
    paged: Engine, travel: Any
) -> None:
    """The one retry policy: a change decided on a version the caller saw is refused when the
    ticket moved (here: the sweep recorded a breach); without a version it is tried again on
    the fresh ticket."""
    from faultflow import ConcurrentUpdate

    t = new_ticket(paged, "A")
    travel(minutes=16)
    paged.tick()
    with pytest.raises(ConcurrentUpdate):
        paged.advance(t.id, "respond", actor="li", version=t.version)
    assert paged.advance(t.id, "respond", actor="li").state == "responded"


def test_the_remembered_rows_are_shared_safely_between_threads(engine: Engine) -> None:
    """The run loop's lanes share one unit of work: the sweeps and delivery (recording whether
    a page arrived) remember and take rows at once, beyond the memory's bound (it once failed
    with 'dictionary changed size during iteration')."""
    from conftest import in_threads
    from faultflow.tickets.unit import RECENT

    t = new_ticket(engine, "C")
    record, clocks = engine.work._recent[t.id]
    fakes = [record._replace(id=f"X{i:06d}") for i in range(RECENT * 4)]

    def churn() -> None:
        for fake in fakes:
            engine.work.remember(fake, clocks)
            with engine.work._recent_lock:
                engine.work._recent.pop(fake.id, None)
            engine.work.remember(fake, clocks)

    for _ in range(5):  # without the lock, one round in five or so raised RuntimeError
        assert in_threads(churn, 4) == []
    assert len(engine.work._recent) <= RECENT


def test_a_breach_inside_a_report_with_its_handling_report_attached_starts_its_chain(
    paged: Engine, db_path: Path, travel: Any
) -> None:
    """`advance ID report --attach-report` renders the report outside the transaction and
    writes in a second one: the breach that fell due and its chain are written together there."""
    t = new_ticket(paged, "A")
    for step in ("respond", "remote", "resolve"):
        travel(minutes=1)
        paged.advance(t.id, step, actor="li")
    travel(hours=25)  # the report promise (24 h) broke
    done = paged.advance(t.id, "report", actor="li", attach_report=True)
    assert [e.trigger for e in done.history][-2:] == ["breach", "report"]
    assert breaches(paged, t.id) == ["report"]
    assert chain(db_path, t.id) == ("A", "running")
    assert paged.verify().ok
