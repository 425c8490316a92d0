"""Maintenance windows: planned work pages nobody and breaks no promise. A night cut-over on a
unit: the 50 alerts Alertmanager fires during it are recorded as planned (no clock, no page),
the escalation already running there pauses, and when the window is over the one alert still
firing opens a ticket under the usual promises while the others close as cleared."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import START, snapshot
from faultflow import Engine, IllegalTransition, InvalidInput
from faultflow.cli.app import cli
from faultflow.network.sheets import example
from test_one_door import chain

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"
CORE = "2102351931DMH4000123"  # cg-gov-core, at site CG-GOV-MAIN of unit CG-GOV
NIGHT = START.replace(hour=22)  # Monday 2 March 2026, 22:00


@pytest.fixture
def engine(db_path: Path, travel: Any) -> Engine:
    e = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)
    assert not e.import_registry(example(), actor="li").problems
    return e


def alerts(status: str, names: range, at: Any) -> dict[str, Any]:
    """An Alertmanager group: one alert per name, all on the unit's core switch."""
    ends = at.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z"
    return {
        "version": "4", "status": status, "receiver": "faultflow",
        "groupKey": "{}:{alertname=\"LinkDown\"}", "groupLabels": {"alertname": "LinkDown"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am.local",
        "alerts": [
            {"status": status, "fingerprint": f"{i:016x}",
             "labels": {"alertname": f"LinkDown-{i}", "severity": "critical",
                        "instance": "cg-gov-core:9100"},
             "annotations": {"summary": f"割接: 端口 {i} down"},
             "startsAt": NIGHT.add(minutes=10).isoformat(), "endsAt": ends}
            for i in names
        ],
    }  # fmt: skip


def pages(engine: Engine, tid: str) -> int:
    return sum(1 for e in engine.history(tid) if e.trigger == "page")


def test_a_night_cut_over_pages_nobody_and_what_still_fires_opens_after(
    engine: Engine, travel: Any, db_path: Path
) -> None:
    w = engine.maintenance_add(NIGHT, NIGHT.add(hours=4), "unit:CG-GOV", "核心交换机割接",
                               actor="li")  # fmt: skip
    assert w.status == "upcoming"
    travel(hours=12, minutes=30)  # 21:30: a fault at the unit before the work, its chain runs
    before = engine.intake("hotline", {"title": "OA 慢", "tier": "A", "unit": "CG-GOV"}, "desk")
    travel(minutes=16)
    engine.tick()
    assert chain(db_path, before.id) == ("A", "running") and pages(engine, before.id) == 1
    travel(minutes=14)  # 22:00: the window begins
    assert engine.tick() == []
    assert chain(db_path, before.id) == ("A", "paused")
    travel(minutes=10)  # 22:10: the cut-over starts; the monitoring sees fifty ports go down
    results = engine.intake_all("alertmanager", alerts("firing", range(50), pendulum.now()), "am")
    planned = [r.ticket for r in results]
    assert len(planned) == 50 and {r.outcome for r in results} == {"opened"}
    assert all(t.history[0].trigger == "planned" and not t.clocks for t in planned)
    assert all(t.unit == "CG-GOV" and t.device == CORE for t in planned)
    for _ in range(6):  # the night goes on: nothing falls due, nobody is paged
        travel(minutes=30)
        assert engine.tick() == []
    assert pages(engine, before.id) == 1  # the chain that ran before waits
    resolved = alerts("resolved", range(49), pendulum.now())  # 01:10: all but one come back
    engine.intake_all("alertmanager", resolved, "am")
    travel(minutes=50)  # 02:00: the window is over
    engine.tick()
    still = engine.get(planned[49].id)
    assert [e.trigger for e in still.history] == ["planned", "intake"]
    assert still.clocks["response"].started_at == NIGHT.add(hours=4)  # its promise runs now
    assert still.clocks["response"].status == "running"
    assert {engine.get(t.id).state for t in planned[:49]} == {"cancelled"}
    assert all(engine.history(t.id)[-1].trigger == "cleared" for t in planned[:3])
    assert chain(db_path, before.id) == ("A", "running")  # paged again from now on
    engine.tick()
    assert pages(engine, before.id) == 2
    assert sum(pages(engine, t.id) for t in planned) == 0
    assert not any(e.trigger == "breach" for t in planned for e in engine.history(t.id))
    shown = engine.maintenance_window(w.id)
    assert (shown.status, len(shown.planned), shown.paused) == ("over", 50, (before.id,))
    month = engine.report(start=START.subtract(days=1), end=START.add(days=2)).to_dict()
    (line,) = month["maintenance"]
    assert (line["planned"], line["opened"], line["cleared"], line["paused"]) == (50, 1, 49, 1)
    found = engine.verify()
    assert found.ok and found.maintenance == 3  # scheduled, begun, over: its own log
    # a breach the unplanned ticket meets later pages as any other
    travel(minutes=16)
    engine.tick()
    assert chain(db_path, still.id) == ("A", "running")


def test_a_window_refuses_what_cannot_be_and_changes_nothing(
    engine: Engine, travel: Any, db_path: Path
) -> None:
    engine.maintenance_add(NIGHT, NIGHT.add(hours=4), "unit:CG-GOV", "割接", actor="li")
    before = snapshot(db_path)
    for start, end, scope, words in (
        (START.subtract(hours=1), NIGHT, "all", "in the past"),
        (NIGHT.add(hours=1), NIGHT.add(hours=2), "site:CG-GOV-MAIN", "window 1 on unit:CG-GOV"),
        (NIGHT.add(hours=1), NIGHT.add(hours=2), f"device:{CORE}", "overlaps it"),
        (NIGHT.add(hours=1), NIGHT.add(hours=2), "all", "overlaps it"),
        (NIGHT, NIGHT.add(hours=25), "unit:CG-FIN", "allows at most 1 d"),
        (NIGHT, NIGHT.subtract(hours=1), "unit:CG-FIN", "ends"),
        (NIGHT, NIGHT.add(hours=1), "unit:NOPE", "the registry has no unit 'NOPE'"),
        (NIGHT, NIGHT.add(hours=1), "room:12", "give unit:CODE"),
    ):
        with pytest.raises(InvalidInput, match=words):
            engine.maintenance_add(start, end, scope, "x", actor="li")
    with pytest.raises(InvalidInput, match="needs a reason"):
        engine.maintenance_add(NIGHT, NIGHT.add(hours=1), "unit:CG-FIN", " ")
    assert snapshot(db_path) == before
    # back to back is not an overlap; another unit at the same time is not either
    engine.maintenance_add(NIGHT.add(hours=4), NIGHT.add(hours=5), "unit:CG-GOV", "b", "li")
    engine.maintenance_add(NIGHT, NIGHT.add(hours=4), "unit:CG-FIN", "c", actor="li")


def test_calling_a_window_off(engine: Engine, travel: Any) -> None:
    ahead = engine.maintenance_add(NIGHT, NIGHT.add(hours=2), "unit:CG-GOV", "a", actor="li")
    assert engine.maintenance_cancel(ahead.id, "推迟", actor="li").status == "cancelled"
    with pytest.raises(IllegalTransition, match="cancelled already"):
        engine.maintenance_cancel(ahead.id, "again")
    now = engine.maintenance_add(START.add(minutes=5), START.add(hours=3), "all", "b", "li")
    travel(minutes=10)
    planned = engine.intake("web", {"title": "网络不通", "tier": "B"}, "portal")
    assert planned.history[0].trigger == "planned"
    ended = engine.maintenance_cancel(now.id, "提前完成", actor="li")
    assert ended.status == "over" and "提前完成" in ended.reason
    engine.tick()
    opened = engine.get(planned.id)
    assert [e.trigger for e in opened.history] == ["planned", "intake"]  # a person's report
    assert opened.clocks["response"].started_at == pendulum.now()
    assert [w.id for w in engine.maintenance()] == [now.id]  # the cancelled one is left out
    assert len(engine.maintenance(cancelled=True)) == 2


def test_the_cli_the_api_the_board_and_the_portal(
    engine: Engine, travel: Any, db_path: Path
) -> None:
    from test_http import Served, client

    run = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE), "--now", pendulum.now().isoformat()]
    made = run.invoke(cli, [*base, "maintenance", "add", "--from", "22:00", "--to", "23:30",
                            "--scope", "site:CG-GOV-MAIN", "--reason", "线路割接", "--as", "li",
                            "--json"])  # fmt: skip
    assert made.exit_code == 0, made.stderr
    w = json.loads(made.output)
    assert (w["scope"], w["status"], w["from"]) == ("site:CG-GOV-MAIN", "upcoming",
                                                    NIGHT.isoformat())  # fmt: skip
    listed = run.invoke(cli, [*base, "maintenance", "list"])
    assert f"#{w['id']}  upcoming" in listed.output and "线路割接" in listed.output
    clash = run.invoke(cli, [*base, "maintenance", "add", "--from", "23:00", "--to", "23:10",
                             "--scope", "all", "--reason", "x"])  # fmt: skip
    assert clash.exit_code == 1 and clash.stderr.count("\n") == 1 and "overlaps" in clash.stderr
    token = engine.create_token("desk", ["operate"], "li")[1]
    served = Served(engine)
    try:
        with client(served, token) as c:
            seen = c.get("/v1/maintenance").json()["windows"]
            assert [x["id"] for x in seen] == [w["id"]]
            asked = {"from": "2026-03-03T22:00+08:00", "to": "2026-03-03T23:00+08:00",
                     "scope": "unit:CG-FIN", "reason": "换电源"}  # fmt: skip
            more = c.post("/v1/maintenance", json=asked)
            assert more.status_code == 201, more.text
            bad = c.post("/v1/maintenance", json={"from": "21:00", "to": "20:00",
                                                  "scope": "all", "reason": "x"})  # fmt: skip
            assert bad.status_code == 422
            off = c.request("DELETE", f"/v1/maintenance/{more.json()['id']}",
                            json={"reason": "改期"})  # fmt: skip
            assert off.json()["status"] == "cancelled"
            portal = c.get("/", headers={"Accept-Language": "zh-CN"}).text
            assert "计划内维护" in portal and "线路割接" in portal
            assert "长葛市人民政府办公室" in portal  # the unit the site belongs to
    finally:
        served.stop()


@pytest.mark.services
def test_a_cut_over_through_a_real_alertmanager_pages_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty alerts fired through a real Alertmanager to `faultflow serve` while a window is on
    their unit: fifty planned tickets, no clock, no page; forty-nine resolved through it; the
    window called off over the API and one pass by hand (`faultflow maintenance keep`): the
    one still firing opens, the others close as cleared."""
    import os
    from datetime import UTC, datetime

    import httpx
    from test_serve import ALERTMANAGER, Serving, alertmanager, until

    if ALERTMANAGER is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Alertmanager test: .ci/run installs it")
        pytest.skip("no prometheus-alertmanager binary (Debian package prometheus-alertmanager)")
    db = tmp_path / "ff.db"
    engine = Engine.open(db=db, people=PEOPLE)
    assert not engine.import_registry(example(), actor="li").problems
    secret = engine.create_token("alertmanager", ["intake:alertmanager"], "alertmanager")[1]
    desk = engine.create_token("desk", ["operate"], "li")[1]
    now = datetime.now(UTC)
    w = engine.maintenance_add(now, now + timedelta(hours=2), "unit:CG-GOV", "割接", actor="li")
    monkeypatch.setenv("FAULTFLOW_PEOPLE", str(PEOPLE))  # serve pages with the seed's rosters
    server = Serving(db)
    hook = f"{server.url}/v1/intake/alertmanager"
    try:
        with alertmanager(tmp_path, hook, secret, group_by="['...']") as am_port:
            api = f"http://127.0.0.1:{am_port}/api/v2"
            starts = datetime.now(UTC)

            def fire(names: range, ends: datetime | None = None) -> None:
                alerts = [
                    {"labels": {"alertname": f"PortDown-{i}", "instance": "cg-gov-core:9100",
                                "severity": "critical"},
                     "annotations": {"summary": f"割接: 端口 {i} down"},
                     "startsAt": starts.isoformat(),
                     **({"endsAt": ends.isoformat()} if ends else {})}
                    for i in names
                ]  # fmt: skip
                assert httpx.post(f"{api}/alerts", json=alerts, timeout=10).status_code == 200

            fire(range(50))
            planned = until("fifty tickets", lambda: len(engine.list()) == 50 and engine.list(),
                            timeout=60)  # fmt: skip
            assert all(not t.clocks and t.unit == "CG-GOV" for t in planned)
            assert all(engine.history(t.id)[0].trigger == "planned" for t in planned)
            fire(range(49), ends=datetime.now(UTC))
            until("the resolved notes", lambda: sum(
                any(e.trigger == "note" for e in engine.history(t.id)) for t in planned) == 49,
                timeout=60)  # fmt: skip
            desk_header = {"Authorization": f"Bearer {desk}"}
            with httpx.Client(base_url=server.url, headers=desk_header) as c:
                off = c.request("DELETE", f"/v1/maintenance/{w.id}", json={"reason": "提前完成"})
                assert off.status_code == 200 and off.json()["status"] == "over"
            kept = engine.keep_windows()
            assert len(kept.opened) == 1 and len(kept.cleared) == 49
            (still,) = [engine.get(t) for t in kept.opened]
            assert still.clocks["response"].status == "running"
            assert not any(e.trigger in ("page", "breach") for t in planned
                           for e in engine.history(t.id))  # fmt: skip
    finally:
        server.stop()


def test_every_change_of_a_window_is_in_its_log_and_verify_checks_it(
    engine: Engine, travel: Any, db_path: Path
) -> None:
    import sqlite3

    w = engine.maintenance_add(NIGHT, NIGHT.add(hours=1), "unit:CG-GOV", "割接", actor="li")
    engine.maintenance_cancel(w.id, "改期", actor="zhou")
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT action, actor FROM maintenance_log ORDER BY seq").fetchall()
    assert rows == [("scheduled", "li"), ("cancelled", "zhou")]
    assert engine.verify().ok
    conn.execute("UPDATE maintenance_log SET actor = 'nobody' WHERE seq = 1")
    conn.commit()
    conn.close()
    found = engine.verify()
    assert not found.ok and found.maintenance_broken == 1
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert (
        done.exit_code == 1 and "the maintenance windows' log is broken at change 1" in done.stderr
    )


def test_planned_works_own_words_are_said_in_the_readers_language(
    engine: Engine, travel: Any
) -> None:
    from faultflow.words import Words

    engine.maintenance_add(START.add(minutes=1), START.add(hours=1), "all", "割接", actor="li")
    travel(minutes=2)
    t = engine.intake("web", {"title": "网络不通", "tier": "B"}, "portal")
    travel(hours=1)
    engine.tick()
    opened = engine.history(t.id)[-1]
    assert opened.trigger == "intake"
    said = Words("zh").said(engine.contract, opened)
    assert said is not None and said.startswith("维护窗口") and "服务承诺自此起算" in said
    assert Words("zh").said(engine.contract, engine.history(t.id)[0]) is None  # its title
