"""Inspection rounds kept (巡检): made a day ahead by the scheduler, each exactly once (racing
schedulers, a scheduler killed again and again, one that was down for days and catches up);
done item by item with every answer in the round's hash-chained log; a finding opens a linked
fault ticket; a round not done by its due time opens one and pages, once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import START, in_threads, snapshot
from faultflow import Engine, IllegalTransition, InvalidInput
from faultflow.cli.app import cli
from faultflow.contract.compile import default_contract_path

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"

# Monday 2026-03-02 09:00 (START): core-daily falls at 09:00 on working days (2 h), hall-weekly
# on Mondays at 10:00 (a day), lines-monthly on the 1st at 09:30 (three days).


@pytest.fixture
def kept(db_path: Path, travel: Any) -> Engine:
    """An engine with the seed's people (chains page), its clock pendulum's."""
    return Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)


def _inspection(engine: Engine) -> list[Any]:
    """The tickets rounds opened (findings, missed rounds)."""
    return [t for t in engine.list(limit=10_000) if t.channel == "inspection"]


def _ids(engine: Engine, start: str, end: str) -> list[str]:
    return [r.id for r in engine.rounds(start, end)]


def test_rounds_are_made_a_day_ahead_once(kept: Engine, travel: Any) -> None:
    first = kept.keep_rounds()
    assert (first.made, first.late, first.missed) == (2, 0, ())  # [Mon 09:00, Tue 09:00)
    assert _ids(kept, "2026-03-02", "2026-03-04") == [
        "core-daily/20260302T0900", "hall-weekly/20260302T1000"
    ]  # fmt: skip
    assert kept.keep_rounds().made == 0  # the same pass again makes nothing
    travel(hours=12)
    assert kept.keep_rounds().made == 1  # Tuesday 09:00's, a day ahead
    assert kept.keep_rounds().made == 0
    travel(hours=12, minutes=1)
    assert kept.keep_rounds().made == 1  # Wednesday's
    planned = {r.id: r for r in kept.rounds("2026-03-02", "2026-03-05")}
    hall = planned["hall-weekly/20260302T1000"]
    assert hall.due_at.isoformat() == "2026-03-03T10:00:00+08:00" and not hall.caught_up
    assert hall.targets == ("unit:CG-HALL",) and hall.role == "duty-engineer"
    assert [a.item for a in hall.checklist][:2] == ["switch-room-temperature-c", "ups-on-mains"]


def test_a_round_done_item_by_item_with_who_and_when(kept: Engine, travel: Any) -> None:
    kept.keep_rounds()
    rid = "core-daily/20260302T0900"
    assert kept.round(rid).status == "due"
    travel(minutes=5)
    running = kept.inspect_start(rid, actor="li")
    assert (running.status, running.started_by) == ("running", "li")
    with pytest.raises(IllegalTransition, match="running already"):
        kept.inspect_start(rid, actor="wang")
    kept.inspect_record(rid, "core-switch-cpu-percent", "41", actor="li")
    kept.inspect_record(rid, "all-lines-up", "正常", actor="li")
    with pytest.raises(InvalidInput, match="no answer yet for overnight-alarms-reviewed"):
        kept.inspect_finish(rid, actor="li")
    travel(minutes=30)
    kept.inspect_record(rid, "overnight-alarms-reviewed", "ok", actor="wang")
    done = kept.inspect_finish(rid, actor="li", note="all quiet")
    assert done.status == "done" and done.finished_by == "li" and not done.findings
    answers = {a.item: (a.value, a.by) for a in done.checklist}
    assert answers == {
        "core-switch-cpu-percent": (41, "li"), "all-lines-up": (True, "li"),
        "overnight-alarms-reviewed": (True, "wang"),
    }  # fmt: skip
    history = kept.round_history(rid)
    assert [(e["action"], e["actor"]) for e in history] == [
        ("started", "li"), ("answered", "li"), ("answered", "li"), ("answered", "wang"),
        ("finished", "li"),
    ]  # fmt: skip
    assert history[-1]["note"] == "all quiet" and history[-1]["late"] is False
    for refused in (
        lambda: kept.inspect_record(rid, "all-lines-up", "ok", actor="li"),
        lambda: kept.inspect_skip(rid, "too late", actor="li"),
        lambda: kept.inspect_finish(rid, actor="li"),
    ):
        with pytest.raises(IllegalTransition, match="is done"):
            refused()
    travel(hours=3)
    assert kept.keep_rounds().missed == ()  # done in time: no breach
    assert kept.verify().ok and kept.verify().rounds == 5


def test_bad_answers_are_refused_and_change_nothing(kept: Engine, db_path: Path) -> None:
    kept.keep_rounds()
    rid = "hall-weekly/20260302T1000"
    before = snapshot(db_path)
    for item, value, words in (
        ("switch-room-temperature-c", "warm", "a number, please"),
        ("switch-room-temperature-c", "nan", "a number, please"),
        ("ups-on-mains", "maybe", "answer ok or 'not ok'"),
        ("remarks", "  ", "the answer is empty"),
        ("fan-speed", "3", "has no checklist item 'fan-speed'"),
    ):
        with pytest.raises(InvalidInput, match=words):
            kept.inspect_record(rid, item, value, actor="li")
    with pytest.raises(InvalidInput, match="needs a reason"):
        kept.inspect_skip(rid, " ", actor="li")
    with pytest.raises(InvalidInput, match="target 'room:1'"):
        kept.inspect_record(rid, "ups-on-mains", "not ok", actor="li", target="room:1")
    assert snapshot(db_path) == before


def test_a_finding_opens_a_ticket_linked_to_the_round(kept: Engine, travel: Any) -> None:
    from faultflow.network.sheets import example

    kept.import_registry(example(), actor="li")
    kept.keep_rounds()
    rid = "hall-weekly/20260302T1000"
    travel(hours=1, minutes=10)
    r = kept.inspect_record(rid, "switch-room-temperature-c", "31.5", actor="li",
                            note="空调停机")  # fmt: skip
    (finding,) = r.findings
    ticket = kept.get(finding["ticket"])
    assert ticket.channel == "inspection" and ticket.tier == "C"  # the plan's (default) tier
    assert ticket.unit == "CG-HALL"  # the round's one target
    assert "switch-room-temperature-c = 31.5" in ticket.title and "10–28" in ticket.description
    assert "空调停机" in ticket.description
    # answered again (a second reading): the same open ticket, not another
    again = kept.inspect_record(rid, "switch-room-temperature-c", "32", actor="li")
    assert [f["ticket"] for f in again.findings] == [ticket.id]
    kept.inspect_record(rid, "ups-on-mains", "异常", actor="li", target="device:NOPE-1")
    r = kept.round(rid)
    assert len(r.findings) == 2 and r.findings[1]["item"] == "ups-on-mains"
    second = kept.get(r.findings[1]["ticket"])
    assert second.id != ticket.id and second.device is None  # no such device in the registry
    assert len(_inspection(kept)) == 2


def test_a_missed_round_opens_a_ticket_and_pages_once(kept: Engine, travel: Any) -> None:
    kept.keep_rounds()
    travel(hours=2, minutes=1)  # core-daily of 09:00 was due by 11:00
    found = kept.keep_rounds()
    assert [r for r, _ in found.missed] == ["core-daily/20260302T0900"]
    tid = found.missed[0][1]
    r = kept.round("core-daily/20260302T0900")
    assert r.status == "missed" and r.ticket == tid and r.breached_at is not None
    ticket = kept.get(tid)
    assert ticket.tier == "B" and "巡检逾期未完成" in ticket.title
    pages = [e for e in kept.history(tid) if e.trigger == "page"]
    assert len(pages) == 1
    assert "inspection round core-daily/20260302T0900" in (pages[0].reason or "")
    assert kept.keep_rounds().missed == ()  # found once
    assert kept.tick() is not None
    # done after all, late: the round counts as done late, the breach stays on record
    rid = "core-daily/20260302T0900"
    for item, value in (("core-switch-cpu-percent", 50), ("all-lines-up", "ok"),
                        ("overnight-alarms-reviewed", "ok")):  # fmt: skip
        kept.inspect_record(rid, item, value, actor="li")
    late = kept.inspect_finish(rid, actor="li")
    assert late.status == "late" and late.ticket == tid
    assert kept.verify().ok


def test_a_skipped_round_is_not_missed(kept: Engine, travel: Any) -> None:
    kept.keep_rounds()
    kept.inspect_skip("core-daily/20260302T0900", "机房断电检修", actor="li")
    travel(hours=3)
    assert kept.keep_rounds().missed == ()
    assert kept.round("core-daily/20260302T0900").status == "skipped"
    assert kept.rounds(status=["skipped"])[0].reason == "机房断电检修"


def test_a_scheduler_down_for_three_days_catches_up(kept: Engine, travel: Any) -> None:
    kept.keep_rounds()  # Monday 09:00: Monday's rounds
    travel(days=3, hours=4)  # Thursday 13:00: nobody kept rounds since Monday
    caught = kept.keep_rounds()
    made = kept.rounds("2026-03-03", "2026-03-07")
    assert [r.id for r in made] == [
        "core-daily/20260303T0900", "core-daily/20260304T0900", "core-daily/20260305T0900",
        "core-daily/20260306T0900",
    ]  # fmt: skip
    assert [r.caught_up for r in made] == [True, True, True, False]  # Friday's made in time
    assert caught.made == 4 and caught.late == 3
    missed = [r for r, _ in caught.missed]
    assert missed == [
        "core-daily/20260302T0900", "hall-weekly/20260302T1000", "core-daily/20260303T0900",
        "core-daily/20260304T0900", "core-daily/20260305T0900",
    ]  # fmt: skip
    assert len({t for _, t in caught.missed}) == 5  # one ticket each


RACER = r"""
import json, sys
from faultflow import Engine
from faultflow.inspections.api import Kept
people = args[0]
engine = Engine.open(db=db, clock=lambda: now, create=False, people=people)
kept = engine.keep_rounds()
print(json.dumps([kept.made, [t for _, t in kept.missed]]))
"""


def test_four_racing_schedulers_make_each_round_and_page_once(db_path: Path) -> None:
    _racing_schedulers(str(db_path))


@pytest.mark.postgres
def test_four_racing_schedulers_on_postgresql(pg_url: str) -> None:
    _racing_schedulers(pg_url)


def _racing_schedulers(db_path: str) -> None:
    from conftest import race

    Engine.open(db=db_path, clock=lambda: START, people=PEOPLE).keep_rounds()
    later = START.add(days=2, hours=3)  # Wednesday 12:00: four rounds missed since
    out = race(db_path, later, RACER, [[str(PEOPLE)]] * 4)
    assert sum(made for made, _ in out) == 3  # core-daily of Tue, Wed (late) and Thu, once
    opened = [t for _, tickets in out for t in tickets]
    assert len(opened) == len(set(opened)) == 4  # each missed round found by one racer
    engine = Engine.open(db=db_path, clock=lambda: later, people=PEOPLE)
    tickets = _inspection(engine)
    assert len(tickets) == 4
    for t in tickets:
        assert [e.trigger for e in engine.history(t.id)].count("page") == 1
    assert engine.verify().ok


def test_threads_keeping_rounds_at_once(db_path: Path) -> None:
    Engine.open(db=db_path).close()
    moment = START.add(days=1, hours=3)
    engines = [Engine.open(db=db_path, clock=lambda: moment, people=PEOPLE) for _ in range(4)]
    errors = in_threads(lambda: engines.pop().keep_rounds(), 4)
    assert errors == []
    engine = Engine.open(db=db_path, clock=lambda: moment, people=PEOPLE)
    made = [r.id for r in engine.rounds(START, moment.add(days=2))]
    assert made == ["core-daily/20260304T0900"]  # the first pass starts at its own time


KILLED = r"""
import sys, time
from datetime import datetime, timedelta
from faultflow import Engine
db, people, contract = sys.argv[1], sys.argv[2], sys.argv[5]
base, wall0 = datetime.fromisoformat(sys.argv[3]), float(sys.argv[4])
# one virtual hour per wall second, the same for every process
clock = lambda: base + timedelta(hours=time.time() - wall0)
engine = Engine.open(db=db, config=contract, clock=clock, create=False, people=people)
print("ready", flush=True)
while True:
    engine.keep_rounds()
"""

HOURLY = """
[inspections.hourly]
rrule = "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0"
role = "duty-engineer"
due_within = "30m"
targets = ["units"]
checklist = [{ item = "ok", kind = "ok" }]
tier = "A"
"""


@pytest.mark.fault_injection
def test_schedulers_killed_again_and_again_make_each_round_and_page_once(tmp_path: Path) -> None:
    contract = tmp_path / "c.toml"
    contract.write_text(default_contract_path().read_text("utf-8") + HOURLY, "utf-8")
    db = str(tmp_path / "ff.db")
    wall0 = time.time()
    Engine.open(db=db, config=contract, clock=lambda: START, people=PEOPLE).keep_rounds()
    rng = random.Random(26)

    def start() -> subprocess.Popen[str]:
        args = [sys.executable, "-c", KILLED, db, str(PEOPLE), START.isoformat(), str(wall0),
                str(contract)]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, cwd=tmp_path)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return proc

    procs = [start() for _ in range(4)]
    kills = 0
    while kills < 12 and time.time() - wall0 < 120:  # however slow the machine is today
        time.sleep(rng.uniform(0.05, 0.3))
        i = rng.randrange(len(procs))
        procs[i].send_signal(signal.SIGKILL)
        procs[i].wait()
        kills += 1
        procs[i] = start()
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    end = START.add(seconds=int((time.time() - wall0) * 3600) + 1)
    engine = Engine.open(db=db, config=contract, clock=lambda: end, people=PEOPLE)
    engine.keep_rounds()  # a last pass, not killed
    made = [r.id for r in engine.rounds(START, end.add(days=1, hours=1))]
    planned = [r.plan + "/" + r.scheduled_at.strftime("%Y%m%dT%H%M")
               for r in engine.planned(START, end.add(days=1))]  # fmt: skip
    assert len(made) == len(set(made)) and set(planned) <= set(made), (kills, planned, made)
    assert set(made) - set(planned) <= {
        r.id for r in engine.rounds(end.add(days=1), end.add(days=1, hours=1))
    }  # nothing but what the last racers planned a little further ahead
    missed = [r for r in engine.rounds(START, end) if r.status == "missed"]
    assert len(missed) >= 5 and all(r.ticket for r in missed)
    tickets = Counter(t.external_id for t in _inspection(engine))
    assert all(n == 1 for n in tickets.values())
    assert {f"round:{r.id}" for r in missed} == set(tickets)
    for r in missed:
        pages = [e for e in engine.history(r.ticket) if e.trigger == "page"]
        assert len([e for e in pages if "inspection round" in (e.reason or "")]) == 1, r.id
    assert engine.verify().ok
    assert kills == 12


def test_the_cli_does_a_round(db_path: Path) -> None:
    run = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE)]
    at = ["--now", "2026-03-02T10:05+08:00"]
    assert run.invoke(cli, [*base, "init"]).exit_code == 0
    kept = run.invoke(cli, [*base, "--now", "2026-03-02T08:55+08:00", "inspect", "keep", "--json"])
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.output)["made"] == 2
    listed = run.invoke(cli, [*base, *at, "inspect", "list"])
    assert "hall-weekly/20260302T1000" in listed.output and "due" in listed.output
    rid = "hall-weekly/20260302T1000"
    said = run.invoke(cli, [*base, *at, "inspect", "record", rid, "ups-on-mains", "not ok",
                            "--as", "li"])  # fmt: skip
    assert said.exit_code == 0 and "a finding" in said.output and "ticket" in said.output
    shown = run.invoke(cli, [*base, *at, "inspect", "show", rid, "--json"])
    round_ = json.loads(shown.output)
    assert round_["status"] == "running" and round_["findings"][0]["item"] == "ups-on-mains"
    for args, words in (
        (["record", rid, "ups-on-mains", "perhaps"], "answer ok or 'not ok'"),
        (["record", "nope/1", "x", "1"], "no inspection round nope/1"),
        (["finish", rid], "no answer yet for switch-room-temperature-c, terminals-working"),
        (["skip", rid, "--reason", ""], "needs a reason"),
        (["list", "--plan", "nope"], "no inspection plan 'nope'"),
    ):
        bad = run.invoke(cli, [*base, *at, "inspect", *args])
        assert bad.exit_code == 1 and words in bad.stderr, (args, bad.stderr)
        assert bad.stderr.count("\n") == 1
    skipped = run.invoke(cli, [*base, *at, "inspect", "skip", rid, "--reason", "停电"])
    assert skipped.exit_code == 0 and "skipped" in skipped.output


def test_the_run_loop_keeps_the_rounds(db_path: Path) -> None:
    import threading

    engine = Engine.open(db=db_path, clock=lambda: START.add(hours=3), people=PEOPLE)
    loop = threading.Thread(target=engine.run, kwargs={"max_sleep": 0.05, "handle_signals": False})
    loop.start()
    try:
        for _ in range(200):  # the loop's first pass, however loaded the machine
            if engine.rounds(START, START.add(days=2)):
                break
            time.sleep(0.05)
    finally:
        engine.stop()
        loop.join(timeout=30)
    assert [r.id for r in engine.rounds(START, START.add(days=2))] == ["core-daily/20260303T0900"]


def test_the_compliance_report_counts_rounds_and_lists_findings(kept: Engine, travel: Any) -> None:
    from faultflow.network.sheets import example

    kept.import_registry(example(), actor="li")
    kept.keep_rounds()
    kept.inspect_skip("core-daily/20260302T0900", "机房停电", actor="li")
    hall = "hall-weekly/20260302T1000"
    kept.inspect_record(hall, "ups-on-mains", "异常", actor="li")
    travel(hours=12)
    kept.keep_rounds()  # Tuesday's core-daily is made
    travel(days=1, hours=1)  # Tuesday 22:00: hall (due Tue 10:00) and Tuesday's core missed
    kept.keep_rounds()
    report = kept.report("2026-03-02", "2026-03-04")
    lines = {x.plan: x.to_dict() for x in report.inspections}
    assert lines["core-daily"] == {
        "plan": "core-daily", "target": "devices", "planned": 2, "done": 0, "late": 0,
        "missed": 1, "skipped": 1, "open": 0, "kept_pct": 0.0,
    }  # fmt: skip
    assert lines["hall-weekly"]["missed"] == 1 and lines["hall-weekly"]["target"] == "CG-HALL"
    (finding,) = report.findings
    assert (finding.round, finding.item, finding.answer) == (hall, "ups-on-mains", "not ok")
    assert kept.get(finding.ticket).channel == "inspection"
    from faultflow.reports.render import table

    text = table(report)
    assert "core-daily (devices)" in text and "ups-on-mains = not ok" in text
    assert [
        x.plan for x in kept.report("2026-03-02", "2026-03-04", unit="CG-HALL").inspections
    ] == ["hall-weekly"]


def test_rounds_over_http_need_the_scope(kept: Engine, travel: Any) -> None:
    import httpx
    from test_http import Served

    kept.keep_rounds()
    _, reader = kept.create_token("wall", ["read"])
    _, inspector = kept.create_token("field", ["inspect"], actor="li")
    _, desk = kept.create_token("desk", ["operate"], actor="wang")
    rid = "hall-weekly/20260302T1000"
    site = Served(kept)
    try:
        with httpx.Client(base_url=site.url, timeout=10) as c:

            def as_(secret: str) -> dict[str, str]:
                return {"authorization": f"Bearer {secret}"}

            listed = c.get("/v1/inspections", headers=as_(reader)).json()["rounds"]
            assert [r["id"] for r in listed] == ["core-daily/20260302T0900", rid]
            answer = {"item": "ups-on-mains", "value": "not ok", "note": "市电中断"}
            refused = c.post(f"/v1/inspections/{rid}/answers", json=answer, headers=as_(reader))
            assert refused.status_code == 403 and kept.round(rid).status == "planned"
            done = c.post(f"/v1/inspections/{rid}/answers", json=answer, headers=as_(inspector))
            assert done.status_code == 200, done.text
            assert done.json()["findings"][0]["item"] == "ups-on-mains"
            bad = c.post(f"/v1/inspections/{rid}/answers", json={"item": "ups-on-mains",
                         "value": "maybe"}, headers=as_(desk))  # fmt: skip
            assert bad.status_code == 422 and "answer ok or 'not ok'" in bad.text
            assert c.post(f"/v1/inspections/{rid}/finish", headers=as_(desk)).status_code == 422
            skipped = c.post(f"/v1/inspections/{rid}/skip", json={"reason": "停电"},
                             headers=as_(desk))  # fmt: skip
            assert skipped.json()["status"] == "skipped" and skipped.json()["finished_by"] == "wang"
            late = c.post(f"/v1/inspections/{rid}/answers", json=answer, headers=as_(inspector))
            assert late.status_code == 422 and "is skipped" in late.text
            one = c.get(f"/v1/inspections/{rid}", headers=as_(reader)).json()
            assert [e["action"] for e in one["history"]] == ["answered", "skipped"]
            assert c.get("/v1/inspections/nope/1", headers=as_(reader)).status_code == 404
            plans = c.get("/v1/inspections/plans", headers=as_(reader),
                          params={"from": "2026-03-02", "to": "2026-03-03"}).json()  # fmt: skip
            assert len(plans["rounds"]) == 2
    finally:
        site.stop()


def test_the_board_shows_todays_rounds_and_does_one(kept: Engine, travel: Any) -> None:
    from test_http import Served
    from test_web import browser, csrf_of, login

    kept.keep_rounds()
    travel(hours=3)  # core-daily (due 11:00) is missed, hall-weekly is due
    kept.keep_rounds()
    secret = kept.create_token("field", ["inspect"], "li")[1]
    rid = "hall-weekly/20260302T1000"
    site = Served(kept)
    try:
        with login(site, secret) as c:
            board = c.get("/board").text
            assert "inspection rounds" in board and f'href="/rounds/{rid}"' in board
            assert "missed" in board and "on-site round of the administrative" in board
            page = c.get(f"/rounds/{rid}").text
            for item, value in (("switch-room-temperature-c", "33"), ("ups-on-mains", "ok"),
                                ("terminals-working", "ok")):  # fmt: skip
                done = c.post(f"/rounds/{rid}", data={"csrf": csrf_of(page), "action": "record",
                                                      "item": item, "value": value})  # fmt: skip
                assert done.status_code == 303, done.text
                page = c.get(f"/rounds/{rid}").text
            assert "33" in page and "/tickets/" in page  # the finding's ticket, linked
            tid = kept.round(rid).findings[0]["ticket"]
            assert f'href="/rounds/{rid}"' in c.get(f"/tickets/{tid}").text  # and back
            form = {"csrf": csrf_of(page), "action": "record", "item": "ups-on-mains", "value": "?"}
            wrong = c.post(f"/rounds/{rid}", data=form)
            assert wrong.status_code == 422 and "answer ok or" in wrong.text
            page = wrong.text
            done = c.post(f"/rounds/{rid}", data={"csrf": csrf_of(page), "action": "finish"})
            assert done.status_code == 303
            assert "done" in c.get(f"/rounds/{rid}").text
        with browser(site, "zh") as c:
            token = csrf_of(c.get("/login").text)
            c.post("/login", data={"csrf": token, "token": secret, "next": "/board"})
            board = c.get("/board").text
            assert "今日巡检" in board and "逾期未完成" in board and "按时完成" in board
    finally:
        site.stop()
    assert kept.round(rid).status == "done" and len(kept.round(rid).findings) == 1


def test_the_calendar_feed_of_rounds_and_shifts(kept: Engine, travel: Any, db_path: Path) -> None:
    import httpx
    from icalendar import Calendar
    from test_http import Served

    feed = Calendar.from_ical(kept.calendar_feed("li", days=7, lang="en"))
    events = [e for e in feed.walk("VEVENT")]
    shifts = [e for e in events if "On duty" in str(e["summary"])]
    rounds = [e for e in events if "Inspection round" in str(e["summary"])]
    assert shifts and all("李工" in str(e["summary"]) for e in shifts)
    held = {(s[0], s[1]) for rows in kept.shifts(START, START.add(days=7)).values()
            for s in rows if "li" in s[2]}  # fmt: skip
    assert {(e.decoded("dtstart"), e.decoded("dtend")) for e in shifts} == held
    for e in rounds:  # only rounds of a role li holds at their time
        at = e.decoded("dtstart")
        assert any(a <= at < b for a, b in held), at
    everyone = Calendar.from_ical(kept.calendar_feed(days=7))
    uids = [str(e["uid"]) for e in everyone.walk("VEVENT")]
    assert len(uids) == len(set(uids)) and "core-daily/20260302T090000@faultflow" in uids
    with pytest.raises(InvalidInput, match="no person 'nobody'"):
        kept.calendar_feed("nobody")
    link = kept.feed_link("li")
    assert kept.feed_person(link.split("/")[-1].removesuffix(".ics")) == "li"
    site = Served(kept)
    try:
        with httpx.Client(base_url=site.url, timeout=10) as c:
            got = c.get(link, params={"days": 7})
            assert got.status_code == 200 and got.headers["content-type"].startswith(
                "text/calendar"
            )
            assert Calendar.from_ical(got.content).walk("VEVENT")
            forged = link.replace("p-li.", "p-wang.")
            assert c.get(forged).status_code == 404
    finally:
        site.stop()
    run = CliRunner().invoke(cli, ["--db", str(db_path), "--people", str(PEOPLE),
                                   "inspect", "feed", "--person", "li", "--link"])  # fmt: skip
    assert run.exit_code == 0 and run.output.strip() == link


def test_skipping_after_the_due_time_is_still_a_miss(kept: Engine, travel: Any) -> None:
    kept.keep_rounds()
    travel(hours=2, minutes=5)
    kept.keep_rounds()  # core-daily of 09:00 missed: its ticket opened
    r = kept.inspect_skip("core-daily/20260302T0900", "忘了", actor="li")
    assert r.status == "missed" and r.reason == "忘了" and r.ticket is not None


def test_check_refuses_a_target_the_registry_does_not_have(tmp_path: Path) -> None:
    from faultflow.network.sheets import example

    db = tmp_path / "ff.db"
    plan = (
        '\n[inspections.ghost]\nevery = "week"\nrole = "duty-engineer"\ndue_within = "1d"\n'
        'targets = ["unit:CG-HALL", "device:NO-SUCH-SERIAL"]\n'
        'checklist = [{ item = "x", kind = "ok" }]\n'
    )
    path = tmp_path / "c.toml"
    path.write_text(default_contract_path().read_text("utf-8") + plan, "utf-8")
    run = CliRunner()
    Engine.open(db=db).close()
    empty = run.invoke(cli, ["--db", str(db), "check", str(path)])
    assert empty.exit_code == 0, empty.stderr  # an empty registry names nothing yet
    engine = Engine.open(db=db, people=PEOPLE)
    assert not engine.import_registry(example(), actor="li").problems
    engine.close()
    done = run.invoke(cli, ["--db", str(db), "check", str(path)])
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    assert done.exit_code == 1 and len(errors) == 1, done.stderr
    assert (
        "inspections.ghost.targets[1]: device:NO-SUCH-SERIAL is not in the database's"
        in (errors[0])
    )
    assert run.invoke(cli, ["--db", str(db), "check"]).exit_code == 0  # the seed's targets exist


def test_a_round_of_a_device_counts_at_its_unit(tmp_path: Path, travel: Any) -> None:
    from faultflow.network.sheets import example

    plan = (
        '\n[inspections.gov-core]\nevery = "day"\nat = "10:00"\nrole = "duty-engineer"\n'
        'due_within = "2h"\ntargets = ["device:2102351931DMH4000123"]\n'
        'checklist = [{ item = "cpu", kind = "number", max = 80 }]\n'
    )
    path = tmp_path / "c.toml"
    path.write_text(default_contract_path().read_text("utf-8") + plan, "utf-8")
    engine = Engine.open(db=tmp_path / "d.db", config=path, clock=pendulum.now, people=PEOPLE)
    engine.import_registry(example(), actor="li")
    engine.keep_rounds()
    r = engine.inspect_record("gov-core/20260302T1000", "cpu", "95", actor="li")
    assert engine.get(r.findings[0]["ticket"]).unit == "CG-GOV"  # placed by its device
    travel(hours=3)
    engine.keep_rounds()
    report = engine.report("2026-03-02", "2026-03-03", unit="CG-GOV")
    assert [(x.plan, x.target, x.missed) for x in report.inspections] == [("gov-core", "CG-GOV", 1)]


def test_the_board_streams_a_round_done_within_two_seconds(kept: Engine, travel: Any) -> None:
    from test_http import Served
    from test_web import login

    kept.keep_rounds()
    secret = kept.create_token("wall", ["read"], "li")[1]
    rid = "core-daily/20260302T0900"
    site = Served(kept)
    try:
        with login(site, secret) as c, c.stream("GET", "/board/events") as events:
            lines = events.iter_lines()

            def next_rounds(deadline: float) -> str:
                event, data = None, []
                for line in lines:
                    assert time.monotonic() < deadline, "no update in time"
                    if line.startswith("event: "):
                        event, data = line[7:], []
                    elif line.startswith("data: ") and event == "rounds":
                        data.append(line[6:])
                    elif line == "" and event == "rounds":
                        return "\n".join(data)
                raise AssertionError("the stream ended")

            first = next_rounds(time.monotonic() + 5)
            assert 'class="round due"' in first
            began = time.monotonic()
            kept.inspect_skip(rid, "机房停电", actor="li")  # a round's change, no ticket's
            assert 'class="round skipped"' in next_rounds(began + 2)
    finally:
        site.stop()
