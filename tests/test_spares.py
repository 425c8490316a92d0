"""Spare parts (备品备件, P10): the stock by serial and model, each movement in a hash-chained
log; and the remedy's guard doing real work — `substitute` takes a spare of the faulty device's
model from stock (at the ticket's site first) in the ticket's own transaction, or is refused
with where that model's spares are, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import snapshot
from faultflow import Engine, IllegalTransition, InvalidInput, UnknownEntry
from faultflow.cli.app import cli
from faultflow.network.sheets import example

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"
CORE = "2102351931DMH4000123"  # cg-gov-core, an S5720-28X-SI-AC at site CG-GOV-MAIN
MODEL = "S5720-28X-SI-AC"


@pytest.fixture
def stocked(db_path: Path, travel: Any) -> Engine:
    engine = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)
    assert not engine.import_registry(example(), actor="li").problems
    return engine


def _on_site_and_late(engine: Engine, travel: Any, **fields: Any) -> str:
    """A tier-A ticket at the core switch, on site, its resolution promise broken."""
    t = engine.intake("hotline", {"title": "核心交换机宕机", "tier": "A", **fields}, actor="desk")
    for trigger in ("respond", "dispatch", "arrive"):
        engine.advance(t.id, trigger, actor="li")
    travel(hours=5, minutes=1)
    return t.id


def test_the_stock_moves_and_every_movement_is_logged(stocked: Engine) -> None:
    s = stocked.spares_add("SP-001", MODEL, "CG-GOV-MAIN", actor="li", note="新到货")
    assert (s.state, s.location, s.by) == ("in_stock", "CG-GOV-MAIN", "li")
    stocked.spares_add("SP-002", MODEL, "WAREHOUSE", actor="li")
    stocked.spares_add("RP-001", "AR2220", "WAREHOUSE", actor="li", state="in_repair")
    assert stocked.spares_move("SP-002", "CG-FIN-MAIN", actor="wang").location == "CG-FIN-MAIN"
    assert stocked.spares_repair("SP-002", actor="wang").state == "in_repair"
    back = stocked.spares_return("SP-002", "WAREHOUSE", actor="wang", note="修好")
    assert (back.state, back.location, back.note) == ("in_stock", "WAREHOUSE", "修好")
    assert stocked.spares_retire("RP-001", "无法修复", actor="zhou").state == "retired"
    assert [s.serial for s in stocked.spares(model=MODEL, state="in_stock")] == [
        "SP-001", "SP-002"
    ]  # fmt: skip
    moves = [(m["action"], m["actor"]) for m in stocked.spare_history("SP-002")]
    assert moves == [("added", "li"), ("moved", "wang"), ("repair", "wang"),
                     ("returned", "wang")]  # fmt: skip
    status = {m["model"]: m for m in stocked.spares_status()}
    assert status[MODEL]["in_stock"] == 2 and status[MODEL]["devices"] >= 1
    assert status["AR2220"]["retired"] == 1
    found = stocked.verify()
    assert found.ok and found.spares == 7, found.to_dict()


def test_bad_movements_are_refused_and_change_nothing(stocked: Engine, db_path: Path) -> None:
    stocked.spares_add("SP-001", MODEL, "WAREHOUSE", actor="li")
    stocked.spares_retire("SP-001", "报废", actor="li")
    before = snapshot(db_path)
    for refused, kind, words in (
        (lambda: stocked.spares_add("SP-001", MODEL, "X"), InvalidInput, "registered already"),
        (lambda: stocked.spares_add("SP-9", " ", "X"), InvalidInput, "model: one line"),
        (lambda: stocked.spares_move("SP-001", "X"), IllegalTransition, "is retired"),
        (lambda: stocked.spares_return("SP-001"), IllegalTransition, "nothing to return"),
        (lambda: stocked.spares_retire("SP-001", "again"), IllegalTransition, "retired already"),
        (lambda: stocked.spares_retire("SP-001", ""), InvalidInput, "needs a reason"),
        (lambda: stocked.spares_move("NOPE", "X"), UnknownEntry, "no spare NOPE"),
        (lambda: stocked.spares(state="lost"), InvalidInput, "no spare state 'lost'"),
    ):
        with pytest.raises(kind, match=words):
            refused()
    assert snapshot(db_path) == before


def test_substitute_takes_a_spare_of_the_same_model_at_the_site_first(
    stocked: Engine, travel: Any
) -> None:
    stocked.spares_add("SP-FAR", MODEL, "WAREHOUSE", actor="li")
    stocked.spares_add("SP-NEAR", MODEL, "CG-GOV-MAIN", actor="li")
    stocked.spares_add("SP-OTHER", "AR2220", "CG-GOV-MAIN", actor="li")
    tid = _on_site_and_late(stocked, travel, device=CORE)
    t = stocked.advance(tid, "substitute", actor="li", note="换上同型号备件")
    assert t.state == "spare_substituted"
    event = t.history[-1]
    assert event.trigger == "substitute"
    assert event.data["spare"] == {"serial": "SP-NEAR", "model": MODEL, "location": "CG-GOV-MAIN"}
    taken = stocked.spare("SP-NEAR")
    assert (taken.state, taken.ticket, taken.by) == ("taken", tid, "li")
    assert stocked.spare("SP-FAR").state == "in_stock"
    assert [s.serial for s in stocked.spares(state="taken")] == ["SP-NEAR"]
    assert stocked.verify().ok


def test_no_spare_of_the_model_refuses_the_substitution_and_says_where(
    stocked: Engine, travel: Any, db_path: Path
) -> None:
    stocked.spares_add("SP-OTHER", "AR2220", "CG-GOV-MAIN", actor="li")
    stocked.spares_add("SP-BROKEN", MODEL, "VENDOR", actor="li", state="in_repair")
    tid = _on_site_and_late(stocked, travel, device=CORE)
    stocked.tick()  # the breach recorded: what follows is the substitution's alone
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match=f"no spare of model {MODEL} in stock — that model's "
                       "spares: SP-BROKEN in_repair at VENDOR"):  # fmt: skip
        stocked.advance(tid, "substitute", actor="li")
    with pytest.raises(InvalidInput, match="SP-OTHER is a AR2220; the faulty part is a S5720"):
        stocked.advance(tid, "substitute", actor="li", spare="SP-OTHER")
    with pytest.raises(InvalidInput, match="a spare is named only with the remedy"):
        stocked.advance(tid, "resolve", actor="li", spare="SP-OTHER")
    assert snapshot(db_path) == before
    # a ticket whose device is unknown names the model
    stocked.spares_return("SP-BROKEN", "CG-GOV-MAIN", actor="li")
    other = _on_site_and_late(stocked, travel)
    with pytest.raises(InvalidInput, match="at no device of a known model"):
        stocked.advance(other, "substitute", actor="li")
    t = stocked.advance(other, "substitute", actor="li", model=MODEL)
    assert t.history[-1].data["spare"]["serial"] == "SP-BROKEN"


def test_without_a_kept_stock_substitution_is_as_before(stocked: Engine, travel: Any) -> None:
    tid = _on_site_and_late(stocked, travel, device=CORE)
    t = stocked.advance(tid, "substitute", actor="li")
    assert t.state == "spare_substituted" and "spare" not in t.history[-1].data
    with pytest.raises(InvalidInput, match="no spares are kept yet"):
        other = _on_site_and_late(stocked, travel, device=CORE)
        stocked.advance(other, "substitute", actor="li", spare="SP-1")


RACER = r"""
import json
from faultflow import Engine, FaultflowError
engine = Engine.open(db=db, clock=lambda: now, create=False)
try:
    t = engine.advance(args[0], "substitute", actor="racer")
    print(json.dumps(t.history[-1].data["spare"]["serial"]))
except FaultflowError as err:
    print(json.dumps(str(err)))
"""


def test_eight_racing_substitutions_never_take_a_spare_twice(
    stocked: Engine, travel: Any, db_path: Path
) -> None:
    from conftest import race

    for i in range(3):
        stocked.spares_add(f"SP-{i}", MODEL, "WAREHOUSE", actor="li")
    tickets = []
    for _ in range(8):
        t = stocked.intake("hotline", {"title": "宕机", "tier": "A", "device": CORE}, actor="d")
        for trigger in ("respond", "dispatch", "arrive"):
            stocked.advance(t.id, trigger, actor="li")
        tickets.append(t.id)
    travel(hours=5, minutes=1)
    stocked.tick()
    out = race(db_path, pendulum.now(), RACER, [[tid] for tid in tickets])
    taken = [x for x in out if x.startswith("SP-")]
    assert sorted(taken) == ["SP-0", "SP-1", "SP-2"]  # each once
    assert all("no spare of model" in x for x in out if not x.startswith("SP-"))
    assert [s.ticket for s in stocked.spares(state="taken")] and stocked.verify().ok
    assert len({s.ticket for s in stocked.spares(state="taken")}) == 3


def test_the_cli_keeps_the_stock(stocked: Engine, db_path: Path, travel: Any) -> None:
    run = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE)]
    added = run.invoke(cli, [*base, "spares", "add", "SP-1", "--model", MODEL, "--location",
                             "CG-GOV-MAIN", "--as", "li", "--json"])  # fmt: skip
    assert added.exit_code == 0 and json.loads(added.output)["state"] == "in_stock"
    twice = run.invoke(cli, [*base, "spares", "add", "SP-1", "--model", MODEL, "--location", "X"])
    assert twice.exit_code == 1 and "registered already" in twice.stderr
    assert twice.stderr.count("\n") == 1
    listed = run.invoke(cli, [*base, "spares", "list"])
    assert "SP-1" in listed.output and "in_stock at CG-GOV-MAIN" in listed.output
    status = json.loads(run.invoke(cli, [*base, "spares", "status", "--json"]).output)
    assert any(m["model"] == MODEL and m["in_stock"] == 1 for m in status["models"])
    tid = _on_site_and_late(stocked, travel, device=CORE)
    at = ["--now", pendulum.now().isoformat()]
    done = run.invoke(cli, [*base, *at, "advance", tid, "substitute", "--as", "li", "--json"])
    assert done.exit_code == 0, done.stderr
    shown = json.loads(run.invoke(cli, [*base, "spares", "show", "SP-1", "--json"]).output)
    assert shown["state"] == "taken" and shown["ticket"] == tid
    assert [m["action"] for m in shown["history"]] == ["added", "taken"]


def test_the_report_lists_the_spares_taken_and_how_long_they_were_out(
    stocked: Engine, travel: Any
) -> None:
    from faultflow.reports.render import table

    stocked.spares_add("SP-1", MODEL, "CG-GOV-MAIN", actor="li")
    stocked.spares_add("SP-2", MODEL, "CG-GOV-MAIN", actor="li")
    for _ in range(2):
        tid = _on_site_and_late(stocked, travel, device=CORE)
        stocked.advance(tid, "substitute", actor="li")
    travel(hours=3)
    stocked.spares_return("SP-1", actor="li", note="故障件修复后换回")
    travel(hours=1)
    report = stocked.report("2026-03-02", "2026-03-04")
    out = {x.serial: x for x in report.spares_out}
    assert out["SP-1"].back_at is not None and out["SP-1"].out.total_seconds() == 8 * 3600 + 60
    assert out["SP-2"].back_at is None and out["SP-2"].out.total_seconds() == 4 * 3600
    assert "spares taken by substitutions (2)" in table(report)
    assert report.to_dict()["spares_out"][0]["serial"] == "SP-1"


def test_the_stock_over_http_needs_the_registry_scope(stocked: Engine) -> None:
    import httpx
    from test_http import Served

    _, reader = stocked.create_token("wall", ["read"])
    _, keeper = stocked.create_token("store", ["registry"], actor="li")
    site = Served(stocked)
    try:
        with httpx.Client(base_url=site.url, timeout=10) as c:

            def as_(secret: str) -> dict[str, str]:
                return {"authorization": f"Bearer {secret}"}

            body = {"serial": "SP-1", "model": MODEL, "location": "备件库"}
            assert c.post("/v1/spares", json=body, headers=as_(reader)).status_code == 403
            made = c.post("/v1/spares", json=body, headers=as_(keeper))
            assert made.status_code == 201 and made.json()["by"] == "li"
            moved = c.post("/v1/spares/SP-1/movements", headers=as_(keeper),
                           json={"action": "move", "location": "CG-GOV-MAIN"})  # fmt: skip
            assert moved.json()["location"] == "CG-GOV-MAIN"
            bad = c.post("/v1/spares/SP-1/movements", json={"action": "steal"},
                         headers=as_(keeper))  # fmt: skip
            assert bad.status_code == 422 and "move, repair, return or retire" in bad.text
            one = c.get("/v1/spares/SP-1", headers=as_(reader)).json()
            assert [m["action"] for m in one["history"]] == ["added", "moved"]
            listed = c.get("/v1/spares", params={"model": MODEL}, headers=as_(reader)).json()
            assert [s["serial"] for s in listed["spares"]] == ["SP-1"]
            assert c.get("/v1/spares/NOPE", headers=as_(reader)).status_code == 404
            models = c.get("/v1/spares/status", headers=as_(reader)).json()["models"]
            assert any(m["model"] == MODEL and m["in_stock"] == 1 for m in models)
    finally:
        site.stop()


def test_spares_come_in_from_a_spreadsheet_all_rows_or_none(
    stocked: Engine, tmp_path: Path, db_path: Path
) -> None:
    from openpyxl import Workbook

    good = tmp_path / "备件.csv"
    good.write_text("序列号,型号,存放地点,状态,备注\nSP-1,S5720-28X-SI-AC,备件库,在库,\n"
                    "SP-2,AR2220,厂商,维修中,返修\n", "utf-8-sig")  # fmt: skip
    dry = stocked.spares_import(good, dry_run=True, actor="li")
    assert dry == {"created": 2, "unchanged": 0, "problems": []} and not stocked.spares()
    assert stocked.spares_import(good, actor="li")["created"] == 2
    assert stocked.spare("SP-2").state == "in_repair" and stocked.spare("SP-2").note == "返修"
    again = stocked.spares_import(good, actor="li")
    assert again == {"created": 0, "unchanged": 2, "problems": []}
    book = Workbook()
    sheet = book.active
    for row in (["serial", "model", "location"], ["SP-3", "AR2220", "WAREHOUSE"],
                ["SP-3", "AR2220", "WAREHOUSE"], ["SP-1", "AR2220", "X"],
                ["SP-4", "AR2220", "X", "lost"]):  # fmt: skip
        sheet.append(row)
    sheet.cell(1, 4, "state")
    bad = tmp_path / "spares.xlsx"
    book.save(bad)
    before = snapshot(db_path)
    found = stocked.spares_import(bad, actor="li")
    assert found["created"] == 0 and [p.split(": ", 2)[1:] for p in found["problems"]] == [
        ["row 3", "serial SP-3 twice in the file"],
        ["row 4", "spare SP-1 is registered as a S5720-28X-SI-AC, not a AR2220"],
        ["row 5", "state: in_stock or in_repair, not 'lost'"],
    ]
    assert snapshot(db_path) == before
    headless = tmp_path / "x.csv"
    headless.write_text("serial,model\nSP-9,AR2220\n", "utf-8")
    assert stocked.spares_import(headless)["problems"] == ["x.csv: row 1: no column location"]
    run = CliRunner().invoke(cli, ["--db", str(db_path), "spares", "import", str(bad)])
    assert run.exit_code == 1 and run.stderr.startswith("error: spares.xlsx/Sheet: row 3")


def test_verify_finds_a_movement_changed_behind_faultflows_back(
    stocked: Engine, db_path: Path
) -> None:
    import sqlite3

    stocked.spares_add("SP-1", MODEL, "备件库", actor="li")
    stocked.spares_move("SP-1", "CG-GOV-MAIN", actor="li")
    stocked.spares_retire("SP-1", "报废", actor="li")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE spare_log SET actor = 'nobody' WHERE seq = 2")
    found = stocked.verify()
    assert not found.ok and found.spares_broken == 2
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1
    assert "the spares' log is broken at movement 2" in done.stderr


def _kept(db_path: Path, tmp_path: Path, extra: str) -> Engine:
    """The seed contract with a [spares] table, and the example registry."""
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    config = tmp_path / "spares.toml"
    config.write_text(text + "\n[spares]\n" + extra, "utf-8")
    engine = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE, config=config)
    assert not engine.import_registry(example(), actor="li").problems
    return engine


def test_a_tier_a_dispatch_reserves_a_spare_and_a_close_without_it_releases_it(
    db_path: Path, tmp_path: Path, travel: Any
) -> None:
    engine = _kept(db_path, tmp_path, 'reserve = ["A"]\n')
    engine.spares_add("SP-FAR", MODEL, "WAREHOUSE", actor="li")
    engine.spares_add("SP-HERE", MODEL, "CG-GOV-MAIN", actor="li")
    t = engine.intake("hotline", {"title": "宕机", "tier": "A", "device": CORE}, actor="desk")
    engine.advance(t.id, "respond", actor="li")
    sent = engine.advance(t.id, "dispatch", actor="li")
    assert sent.history[-1].data["spare_reserved"]["serial"] == "SP-HERE"  # at its site first
    assert (engine.spare("SP-HERE").state, engine.spare("SP-HERE").ticket) == ("reserved", t.id)
    engine.advance(t.id, "arrive", actor="li")
    travel(hours=5, minutes=1)
    done = engine.advance(t.id, "substitute", actor="li")
    assert done.history[-1].data["spare"]["serial"] == "SP-HERE"  # the one it took along
    # a second outage resolved on site: its reserved spare goes back when it closes
    other = engine.intake("hotline", {"title": "又宕机", "tier": "A", "device": CORE}, actor="d")
    for trigger in ("respond", "dispatch"):
        engine.advance(other.id, trigger, actor="li")
    assert engine.spare("SP-FAR").state == "reserved"
    for trigger in ("arrive", "resolve", "report"):
        engine.advance(other.id, trigger, actor="li")
    back = engine.spare("SP-FAR")
    assert (back.state, back.ticket) == ("in_stock", None)
    assert [m["action"] for m in engine.spare_history("SP-FAR")] == [
        "added", "reserved", "released"
    ]  # fmt: skip
    # nothing in stock: the dispatch goes on and says so
    third = engine.intake("hotline", {"title": "三宕", "tier": "A", "device": CORE}, actor="d")
    engine.spares_retire("SP-FAR", "报废", actor="li")
    engine.advance(third.id, "respond", actor="li")
    said = engine.advance(third.id, "dispatch", actor="li").history[-1].data
    assert said["spare_wanted"].startswith(f"no spare of model {MODEL} in stock")
    assert engine.verify().ok


def test_the_faulty_part_goes_to_repair_and_comes_back_to_stock(
    stocked: Engine, travel: Any
) -> None:
    stocked.spares_add("SP-1", MODEL, "CG-GOV-MAIN", actor="li")
    tid = _on_site_and_late(stocked, travel, device=CORE)
    t = stocked.advance(tid, "substitute", actor="li")
    assert t.history[-1].data["faulty"] == {"serial": CORE, "state": "in_repair"}
    part = stocked.spare(CORE)
    assert (part.state, part.model, part.ticket) == ("in_repair", MODEL, tid)
    assert stocked.spares_return(CORE, "WAREHOUSE", actor="wang", note="修好").state == "in_stock"
    # a part named by hand, of a device the registry does not know
    other = _on_site_and_late(stocked, travel)
    took = stocked.advance(other, "substitute", actor="li", model=MODEL, faulty="OLD-77")
    assert took.history[-1].data["spare"]["serial"] == CORE  # the repaired one, in stock again
    assert stocked.spare("OLD-77").state == "in_repair"
    with pytest.raises(InvalidInput, match="only with the remedy"):
        stocked.advance(_on_site_and_late(stocked, travel), "resolve", actor="li", faulty="X")


def test_a_stock_below_the_contracts_ratio_warns_the_role_it_names(
    db_path: Path, tmp_path: Path, travel: Any
) -> None:
    engine = _kept(db_path, tmp_path, 'ratio = 0.5\nnotify = "duty-engineer"\n')
    installed = engine.spares_status()
    (row,) = [m for m in installed if m["model"] == MODEL]
    assert row["devices"] == 6 and row["wanted"] == 3 and row["low"] is True
    for i in range(4):
        engine.spares_add(f"SP-{i}", MODEL, "WAREHOUSE", actor="li")
    assert not next(m for m in engine.spares_status() if m["model"] == MODEL)["low"]
    tid = _on_site_and_late(engine, travel, device=CORE)
    quiet = engine.advance(tid, "substitute", actor="li")  # 3 left of the 3 wanted: enough
    assert not any("spares_low" in e.data for e in quiet.history)
    second = _on_site_and_late(engine, travel, device=CORE)
    warned = engine.advance(second, "substitute", actor="li")
    low = [e for e in warned.history if "spares_low" in e.data]
    assert len(low) == 1 and low[0].data["spares_low"] == {
        "model": MODEL, "in_stock": 2, "devices": 6, "wanted": 3
    }  # fmt: skip
    assert low[0].data["told"] == ["li"]  # the duty engineer of Monday 2 March
    import sqlite3

    conn = sqlite3.connect(db_path)
    asked = "SELECT payload FROM outbox WHERE ticket_id = ? AND kind = 'escalation'"
    told = [json.loads(p) for (p,) in conn.execute(asked, (second,))]
    conn.close()
    assert any(p.get("recipients") == ["li"] and p.get("model") == MODEL for p in told)
    assert next(m for m in engine.spares_status() if m["model"] == MODEL)["low"]
    assert engine.verify().ok
