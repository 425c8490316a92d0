"""Tickets know where they are: intake finds the unit, site, line and device in what the channel
carries (a caller's number or mail among a unit's contacts, a unit named on the portal, an
alert's labels naming a device); an operator corrects it with `locate`, an event like any
other, replayed by `verify`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from faultflow import Engine, InvalidInput
from faultflow.cli.app import cli
from faultflow.db.records import PLACES
from faultflow.intake import IntakeRecord
from faultflow.network.places import Directory
from faultflow.network.sheets import read
from hypothesis import given
from hypothesis import strategies as st
from test_network import EXAMPLE, KINDS, PEOPLE

CORE = "2102351931DMH4000123"  # cg-gov-core, at CG-GOV-MAIN of CG-GOV (the example)


@pytest.fixture
def net(db_path: Path, travel: Any) -> Engine:
    engine = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)
    engine.import_registry([s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")], actor="li")
    return engine


def where(t: Any) -> tuple[Any, ...]:
    return tuple(getattr(t, p) for p in PLACES)


def opened(net: Engine, channel: str, payload: dict[str, Any]) -> Any:
    return net.intake(channel, payload, actor="agent1")


def alert(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "version": "4", "receiver": "faultflow", "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "Down", **labels},
                    "annotations": {"summary": "down"}, "fingerprint": "f1",
                    "startsAt": "2026-03-02T01:00:00Z"}],
    }  # fmt: skip


def test_intake_finds_the_unit_from_what_each_channel_carries(net: Engine) -> None:
    call = opened(
        net, "hotline", {"caller": "张主任", "number": "0374 610 0001", "summary": "断网"}
    )
    assert where(call) == ("CG-GOV", None, None, None)
    mail = opened(net, "web", {"title": "x", "contact": "ZHANG@cg-gov.example"})
    assert mail.unit == "CG-GOV"
    mobile = opened(net, "hotline", {"number": "+86 138 0000 1001", "summary": "慢"})
    assert mobile.unit == "CG-GOV"  # the country code is not part of the number
    named = opened(net, "web", {"title": "x", "unit": "长葛市财政局"})  # the portal's choice
    assert named.unit == "CG-FIN"
    by_code = opened(net, "customer_manager", {"title": "x", "unit": "cg-fin"})
    assert by_code.unit == "CG-FIN"
    nobody = opened(net, "hotline", {"number": "0374-9999999", "summary": "?"})
    assert where(nobody) == (None, None, None, None)
    # the history records where intake found it, and the ticket JSON says it
    assert call.history[0].data["place"] == {"unit": "CG-GOV"}
    assert "place" not in nobody.history[0].data
    assert call.to_dict()["unit"] == "CG-GOV" and call.to_dict()["device"] is None


def test_an_alert_names_its_device_and_the_device_its_site_and_unit(net: Engine) -> None:
    hit = opened(net, "alertmanager", alert({"instance": "cg-gov-core:9100"}))
    assert where(hit) == ("CG-GOV", "CG-GOV-MAIN", None, CORE)
    line = alert({"circuit": "CGZW-0002"})
    line["alerts"][0]["fingerprint"] = "f2"
    circuit = opened(net, "alertmanager", line)
    assert where(circuit) == ("CG-FIN", "CG-FIN-MAIN", "CGZW-0002", None)


def test_the_contract_maps_labels_of_its_own(net: Engine, tmp_path: Path) -> None:
    contract = (
        Path(net.contract.source)
        .read_text(encoding="utf-8")
        .replace(
            "[channels.alertmanager]\n",
            '[channels.alertmanager]\nlocate = { device = ["hostname"] }\n',
        )
    )
    path = tmp_path / "states.toml"
    path.write_text(contract, encoding="utf-8")
    engine = Engine.open(db=tmp_path / "other.db", clock=pendulum.now, config=path, people=PEOPLE)
    engine.import_registry([s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")])
    hit = engine.intake("alertmanager", alert({"hostname": "CG-FIN-SW"}), actor="am")
    assert hit.device == "2102351931DMH4000456" and hit.unit == "CG-FIN"
    bad = contract.replace('locate = { device = ["hostname"] }', 'locate = { room = ["x"] }')
    path.write_text(bad, encoding="utf-8")
    done = CliRunner().invoke(cli, ["check", str(path)])
    assert done.exit_code == 1
    assert "channels.alertmanager.locate.room: unknown place" in done.stderr


def test_intake_sees_a_registry_change_made_elsewhere(net: Engine, db_path: Path) -> None:
    other = Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)  # another process
    other.add_entry("units", {"code": "CG-EDU", "name": "长葛市教育局",
                              "contacts": "钱主任 0374-6100009"})  # fmt: skip
    net.places.invalidate()  # a second later, as far as net's directory is concerned
    t = opened(net, "hotline", {"number": "0374-6100009", "summary": "断网"})
    assert t.unit == "CG-EDU"
    other.close()


def test_locate_corrects_the_place_as_an_event(net: Engine, db_path: Path) -> None:
    t = opened(net, "web", {"title": "core switch down"})
    assert t.unit is None
    moved = net.locate(t.id, device=CORE, actor="li")
    assert where(moved) == ("CG-GOV", "CG-GOV-MAIN", None, CORE)
    last = moved.history[-1]
    assert (last.trigger, last.actor, last.note) == (
        "locate",
        "li",
        f"located at CG-GOV / CG-GOV-MAIN / {CORE}",
    )
    assert last.data["place"] == {"from": {}, "to": {"unit": "CG-GOV", "site": "CG-GOV-MAIN",
                                                     "device": CORE}}  # fmt: skip
    assert net.verify().ok
    # refusals: unknown, contradicting, no change — nothing written
    before = net.get(t.id).version
    for kwargs, words in (
        ({"unit": "CG-NOPE"}, "no such unit: 'CG-NOPE' (see `faultflow units list`)"),
        ({"unit": "CG-FIN", "device": CORE}, f"device {CORE} is in unit CG-GOV, not CG-FIN"),
        ({"device": CORE}, "is there already"),
        ({}, "say where it is"),
    ):
        with pytest.raises(InvalidInput, match=words.replace("(", r"\(").replace(")", r"\)")):
            net.locate(t.id, **kwargs, actor="li", lang="en")
    assert net.get(t.id).version == before
    # an edit of the row behind the engine's back is found by verify
    net.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE tickets SET unit = 'CG-FIN' WHERE id = ?", (t.id,))
    found = Engine.open(db=db_path).verify()
    assert not found.ok
    assert "placed at {'unit': 'CG-FIN', 'site': 'CG-GOV-MAIN'" in found.broken[0].reason


def test_locate_from_the_command_line(net: Engine, db_path: Path) -> None:
    t = opened(net, "web", {"title": "line down"})
    net.close()
    run = CliRunner()
    done = run.invoke(cli, ["--db", str(db_path), "locate", t.id, "--line", "CGZW-0001",
                            "--as", "li", "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert '"line": "CGZW-0001"' in done.output and '"unit": "CG-GOV"' in done.output
    shown = run.invoke(cli, ["--db", str(db_path), "--people", str(PEOPLE), "show", t.id])
    assert "at unit CG-GOV 长葛市人民政府办公室 (manager 周经理 13800000011)" in shown.output
    assert "line CGZW-0001 中国电信 MSTP 100M" in shown.output
    device = run.invoke(cli, ["--db", str(db_path), "locate", t.id, "--device", CORE])
    assert device.exit_code == 0, device.output
    assert (
        f"device {CORE} cg-gov-core S5720-28X-SI-AC · vendor 华为技术有限公司 400-822-9999 · "
        "warranty to 2028-06-30 (in force)" in device.output
    )
    bad = run.invoke(cli, ["--db", str(db_path), "locate", t.id, "--site", "NOWHERE"])
    assert bad.exit_code == 1 and bad.stderr.count("\n") == 1 and "NOWHERE" in bad.stderr


codes = st.sampled_from(["U1", "U2", "U3"])


@given(st.lists(st.tuples(st.sampled_from(["D1", "D2", "D3", "D4"]), codes), max_size=4),
       st.dictionaries(st.sampled_from(PLACES), st.sampled_from(["U1", "U2", "S1", "L1", "D1",
                                                                  "D2", "x"])))  # fmt: skip
def test_a_place_always_agrees_with_itself(
    devices: list[tuple[str, str]], parts: dict[str, str]
) -> None:
    known = {
        "units": {u: {"code": u, "name": u.lower(), "contacts": []} for u in ("U1", "U2", "U3")},
        "sites": {"S1": {"code": "S1", "unit": "U2"}},
        "lines": {"L1": {"code": "L1", "unit": "U1", "site": None}},
        "devices": {d: {"serial": d, "unit": u, "site": "S1" if u == "U2" else None}
                    for d, u in devices},
    }  # fmt: skip
    place = Directory.of(known).place(**parts)
    # every part it names exists, and each narrower part lies within the broader ones
    if "device" in place:
        device = known["devices"][place["device"]]
        assert place["unit"] == device["unit"] and place.get("site") == (
            device["site"] or place.get("site")
        )
    if "line" in place:
        assert place["unit"] == known["lines"]["L1"]["unit"]
    if "site" in place:
        assert place["unit"] == known["sites"][place["site"]]["unit"]
    assert set(place) <= set(PLACES) and (not place or "unit" in place)
    # the narrowest part given that exists is kept as given (the broader ones follow from it)
    exists = {p: v for p, v in parts.items() if v in known[f"{p}s"]}
    if exists:
        narrowest = [p for p in PLACES if p in exists][-1]
        assert place[narrowest] == exists[narrowest]
    else:
        assert place == {}


def test_an_ambiguous_contact_says_nothing() -> None:
    known = {"units": {
        "A": {"code": "A", "name": "a", "contacts": [{"phone": "0374-1111111"}]},
        "B": {"code": "B", "name": "b", "contacts": [{"phone": "03741111111", "email": "x@b.cn"}]},
    }}  # fmt: skip
    d = Directory.of(known)
    assert d.contact("0374-1111111") is None and d.contact("Bee <X@b.cn>") == "B"
    record = IntakeRecord(title="t", contact="0374 1111111")
    assert d.locate(record, {}) == {}


def pages(engine: Engine, tid: str) -> list[list[str]]:
    return [[p["person"] for p in e.data["paged"]] for e in engine.get(tid).history
            if e.trigger == "page"]  # fmt: skip


def test_the_units_own_manager_is_paged_for_its_faults(net: Engine, travel: Any) -> None:
    fin = opened(net, "hotline", {"number": "0374-6100002", "summary": "宕机", "tier": "A"})
    gov = opened(net, "hotline", {"number": "0374-6100001", "summary": "宕机", "tier": "A"})
    nowhere = opened(net, "hotline", {"number": "0374-9999999", "summary": "宕机", "tier": "A"})
    travel(minutes=16)  # the response promise broke: step 1, the duty engineer
    net.tick()
    travel(minutes=5, seconds=1)  # step 2: unit-manager (people.toml)
    net.tick()
    assert pages(net, fin.id) == [["li"], ["wu"]]  # CG-FIN's manager is wu
    assert pages(net, gov.id) == [["li"], ["zhou"]]
    assert pages(net, nowhere.id) == [["li"], ["zhou", "wu"]]  # no unit: the role of the file
    # the registry changes the unit's manager: the next page follows it
    net.edit_entry("units", "CG-FIN", {"manager": "zhou"})
    travel(minutes=10, seconds=1)
    net.tick()
    assert pages(net, fin.id)[-1] == ["zheng"]  # step 3: the project director
    net.escalate(fin.id, reason="again", actor="li")  # round 2 starts over: step 1
    net.escalate(fin.id, reason="again", actor="li")
    assert pages(net, fin.id)[-1] == ["zhou"]
    assert net.verify().ok


def test_without_a_fallback_role_a_unit_without_manager_is_a_gap(tmp_path: Path) -> None:
    from faultflow.duty.people import compile_people, load

    seed = load(PEOPLE, Engine.open(db=tmp_path / "x.db").contract)
    assert "unit-manager" in seed.roles
    data = {"people": {"li": {"name": "李工"}}, "roles": {"duty-engineer": {"people": ["li"]},
            "customer-manager": {"people": ["li"]}, "project-director": {"people": ["li"]}},
            "escalation": {"A": {"steps": [{"notify": ["unit-manager", "li"]}]}}}  # fmt: skip
    people = compile_people(data, Engine.open(db=tmp_path / "y.db").contract)
    at = pendulum.datetime(2026, 3, 2, 10, tz="Asia/Shanghai")
    assert people.resolve(["unit-manager", "li"], at) == (
        people.on_duty("li", at),
        ["unit-manager"],
    )
    found, gaps = people.resolve(["unit-manager"], at, {"unit-manager": "li"})
    assert [d.person.id for d in found] == ["li"] and gaps == []


def test_the_reporter_is_told_their_units_manager(net: Engine, db_path: Path) -> None:
    import json

    from faultflow.plugins.mailer import message
    from test_http import Served
    from test_web import FORM, browser, csrf_of, tracking_link

    site = Served(net, portal_limit=(50, 60.0))
    try:
        with browser(site) as c:
            form = c.get("/").text
            assert '<option value="长葛市财政局">' in form  # the registry's units, offered
            sent = c.post("/", data={"csrf": csrf_of(form), **FORM, "unit": "长葛市财政局"})
            assert sent.status_code == 201
            assert "贵单位的对口客户经理" in sent.text and "吴经理" in sent.text
            assert "13800000012" in sent.text and "WuJL" not in sent.text  # no internal ids
            assert "吴经理" in c.get(tracking_link(sent.text)).text
            other = c.post("/", data={"csrf": csrf_of(c.get("/").text), **FORM})
            assert other.status_code == 201 and "对口客户经理" not in other.text  # unknown unit
    finally:
        site.stop()
    # a mailed report is acknowledged with the manager's name
    config = db_path.parent / "mailing.toml"
    config.write_text(
        Path(net.contract.source).read_text(encoding="utf-8")
        + '\n[notifiers.mail]\nuse = "email"\nhost = "127.0.0.1"\nevents = ["transition"]\n',
        encoding="utf-8",
    )
    mailing = Engine.open(db=db_path.parent / "mailing.db", config=config, people=PEOPLE)
    mailing.import_registry([s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")])
    mail = mailing.intake("email", {"title": "断网", "contact": "zhang@cg-gov.example",
                                    "external_id": "<m1@cg-gov.example>"})  # fmt: skip
    assert mail.unit == "CG-GOV"
    with sqlite3.connect(db_path.parent / "mailing.db") as conn:
        [(payload,)] = conn.execute(
            "SELECT payload FROM outbox WHERE ticket_id = ? AND seq = 1", (mail.id,)
        ).fetchall()
    said = message(json.loads(payload), {"from": "desk@om.example"})
    assert said is not None
    assert "对口客户经理 your customer manager: 周经理 13800000011 zhou@om.example" in str(
        said.get_content()
    )


def test_status_names_the_units_down_longest_first(net: Engine, db_path: Path, travel: Any) -> None:
    assert net.status().to_dict() == {"at": "2026-03-02T09:00:00+08:00", "down": []}
    gov = opened(net, "hotline", {"number": "0374-6100001", "summary": "宕机", "tier": "A"})
    travel(minutes=10)
    hall = opened(net, "web", {"title": "大厅断网", "unit": "CG-HALL", "tier": "A"})
    opened(net, "hotline", {"number": "0374-6100002", "summary": "慢", "tier": "B"})  # not down
    opened(net, "hotline", {"number": "0374-9999999", "summary": "宕机", "tier": "A"})  # nowhere
    travel(minutes=5)
    gov2 = opened(net, "web", {"title": "又断了", "unit": "CG-GOV", "tier": "A"})
    assert net.status().to_dict() == {
        "at": "2026-03-02T09:15:00+08:00",
        "down": [
            {"unit": "CG-GOV", "name": "长葛市人民政府办公室", "since": "2026-03-02T09:00:00+08:00",
             "tickets": [gov.id, gov2.id]},
            {"unit": "CG-HALL", "name": "长葛市行政服务中心", "since": "2026-03-02T09:10:00+08:00",
             "tickets": [hall.id]},
        ],
    }  # fmt: skip
    for trigger in ("respond", "remote", "resolve"):
        net.advance(
            hall.id, trigger, actor="li", note="换了光模块" if trigger == "resolve" else None
        )
    assert [d.unit for d in net.status().down] == ["CG-GOV"]  # resolved: up again
    net.close()
    run = CliRunner()
    text = run.invoke(cli, ["--db", str(db_path), "status"])
    assert text.exit_code == 0, text.output
    assert "1 unit(s) down" in text.output
    assert (
        f"CG-GOV  长葛市人民政府办公室  down since 09:00 (15 min)  tickets {gov.id}, {gov2.id}"
        in (click_plain(text.output))
    )
    shown = run.invoke(cli, ["--db", str(db_path), "units", "show", "CG-HALL", "--json"])
    [ticket] = json.loads(shown.output)["tickets"]
    assert (ticket["id"], ticket["open"], ticket["outage"], ticket["duration_s"]) == (
        hall.id, True, True, 300
    )  # resolved after 5 minutes, open until reported  # fmt: skip
    plain = run.invoke(cli, ["--db", str(db_path), "units", "show", "CG-GOV"])
    assert f"{gov2.id}  09:15  tier A outage  received" in plain.output
    none = run.invoke(cli, ["--db", str(db_path), "vendors", "show", "HUAWEI", "--json"])
    assert "tickets" not in json.loads(none.output)


def click_plain(text: str) -> str:
    import click

    return click.unstyle(text)


def test_the_registry_and_places_over_http(net: Engine, tmp_path: Path) -> None:
    import httpx
    from test_http import Served

    _, reader = net.create_token("wall", ["read"])
    _, operator = net.create_token("desk", ["operate"], actor="li")
    _, keeper = net.create_token("keeper", ["registry"], actor="li")
    site = Served(net)
    try:
        with httpx.Client(base_url=site.url, timeout=10) as c:

            def as_(secret: str) -> dict[str, str]:
                return {"authorization": f"Bearer {secret}"}

            units = c.get("/v1/units", headers=as_(reader)).json()["units"]
            assert [u["code"] for u in units][:3] == ["CG-EDB", "CG-FIN", "CG-GOV"]
            assert len(units) == 11
            assert c.get("/v1/units").status_code == 401
            # the registry scope changes entries; read and operate may not
            new = {"code": "CG-EDU", "name": "长葛市教育局", "manager": "wu"}
            assert c.post("/v1/units", json=new, headers=as_(operator)).status_code == 403
            made = c.post("/v1/units", json=new, headers=as_(keeper))
            assert made.status_code == 201 and made.json()["manager"] == "wu"
            bad = c.post("/v1/units", json={**new, "code": "X", "manager": "nobody"},
                          headers=as_(keeper))  # fmt: skip
            assert bad.status_code == 422 and "nobody" in bad.text
            edited = c.patch("/v1/units/CG-EDU", json={"address": "教育大楼"}, headers=as_(keeper))
            assert edited.json()["address"] == "教育大楼"
            # a spreadsheet, dry and then for real; a bad one refused whole
            csv = "编码,单位,名称,地址\nCG-EDU-MAIN,CG-EDU,教育局机房,\n".encode()
            dry = c.post("/v1/registry/import?name=sites.csv&dry_run=true", content=csv,
                         headers=as_(keeper))  # fmt: skip
            assert dry.json() == {"created": 1, "updated": 0, "unchanged": 0, "dry_run": True}
            assert c.get("/v1/sites/CG-EDU-MAIN", headers=as_(reader)).status_code == 404
            done = c.post("/v1/registry/import?name=sites.csv", content=csv, headers=as_(keeper))
            assert done.status_code == 200 and done.json()["created"] == 1
            broken = c.post("/v1/registry/import?name=sites.csv", headers=as_(keeper),
                            content="编码,单位,名称\nS9,NOPE,x\n".encode())  # fmt: skip
            assert broken.status_code == 422 and "NOPE" in str(broken.json()["problems"])
            # locate a ticket (operate), and see the unit down (read)
            t = net.intake("web", {"title": "断网", "tier": "A"}, actor="desk")
            placed = c.post(f"/v1/tickets/{t.id}/locate", json={"unit": "CG-EDU"},
                            headers=as_(operator))  # fmt: skip
            assert placed.status_code == 200 and placed.json()["unit"] == "CG-EDU"
            down = c.get("/v1/status", headers=as_(reader)).json()["down"]
            assert [(d["unit"], d["tickets"]) for d in down] == [("CG-EDU", [t.id])]
            unit = c.get("/v1/units/CG-EDU", headers=as_(reader)).json()
            assert [x["id"] for x in unit["tickets"]] == [t.id]
            assert c.delete("/v1/units/CG-EDU", headers=as_(keeper)).status_code == 422
            assert c.post("/v1/units/CG-EDU/archive", headers=as_(keeper)).json()["archived"]
            # the other /v1 routes are not shadowed
            assert c.get("/v1/tickets", headers=as_(reader)).status_code == 200
    finally:
        site.stop()


def test_the_report_by_unit_and_of_one_unit(net: Engine, db_path: Path, travel: Any) -> None:
    gov = opened(net, "hotline", {"number": "0374-6100001", "summary": "宕机", "tier": "A"})
    fin = opened(net, "hotline", {"number": "0374-6100002", "summary": "慢", "tier": "B"})
    opened(net, "web", {"title": "咨询", "unit": "CG-GOV", "tier": "C"})
    opened(net, "hotline", {"number": "0374-9999999", "summary": "?"})  # nowhere: not by unit
    travel(minutes=10)
    net.advance(gov.id, "respond", actor="li")  # kept (15 min)
    travel(minutes=30)
    net.advance(fin.id, "respond", actor="li")  # broken (30 min for B)
    report = net.report("2026-03-01", "2026-03-03")
    by = {u.unit: u.to_dict() for u in report.units}
    assert list(by) == ["CG-GOV", "CG-FIN"]  # most tickets first
    # the tier C ticket's response (45 min) is still open after 40: not decided yet
    assert by["CG-GOV"] == {
        "unit": "CG-GOV",
        "name": "长葛市人民政府办公室",
        "tickets": 2,
        "outages": 1,
        "met": 1,
        "breached": 0,
        "compliance_pct": 100.0,
    }
    assert (by["CG-FIN"]["met"], by["CG-FIN"]["breached"], by["CG-FIN"]["outages"]) == (0, 1, 0)
    # a fault at a device counts for its model, one at a line for the line's kind
    net.locate(gov.id, device=CORE, actor="li")
    net.locate(fin.id, line="CGZW-0002", actor="li")
    kinds = net.report("2026-03-01", "2026-03-03").to_dict()
    assert kinds["models"] == [{"model": "S5720-28X-SI-AC", "tickets": 1, "outages": 1}]
    assert kinds["line_kinds"] == [{"kind": "MSTP 50M", "tickets": 1, "outages": 0}]
    one = net.report("2026-03-01", "2026-03-03", unit="CG-FIN").to_dict()
    assert one["unit"] == "CG-FIN" and one["tickets"] == 1
    assert [b["ticket"] for b in one["breaches"]] == [fin.id]
    with pytest.raises(InvalidInput, match="no unit 'NOPE'"):
        net.report(unit="NOPE")
    net.close()
    run = CliRunner()
    text = run.invoke(cli, ["--db", str(db_path), "report", "--from", "2026-03-01"])
    assert "by unit (tickets, outages, promises met / broken, compliance):" in text.output
    assert "CG-GOV     2 tickets    1 outages     1 met    0 broken  100.0%" in text.output
    assert "tickets by device model: S5720-28X-SI-AC 1 (1 outages)" in text.output
    html = run.invoke(cli, ["--db", str(db_path), "report", "--from", "2026-03-01",
                            "--unit", "CG-FIN", "--format", "html"])  # fmt: skip
    assert html.exit_code == 0 and "长葛市财政局 (CG-FIN)" in html.output
    assert "按单位" not in html.output  # one unit: no table by unit
    whole = run.invoke(cli, ["--db", str(db_path), "report", "--from", "2026-03-01",
                             "--format", "html"])  # fmt: skip
    assert "按单位" in whole.output and "长葛市人民政府办公室" in whole.output
    assert "按设备型号" in whole.output and "按线路类型" in whole.output


def test_the_board_shows_what_is_down_and_filters_by_unit(net: Engine, travel: Any) -> None:
    from test_http import Served
    from test_web import login

    gov = opened(net, "hotline", {"number": "0374-6100001", "summary": "宕机", "tier": "A"})
    fin = opened(net, "hotline", {"number": "0374-6100002", "summary": "慢", "tier": "B"})
    net.locate(gov.id, device=CORE, actor="li")
    _, secret = net.create_token("duty", ["operate"], actor="li")
    travel(minutes=20)
    site = Served(net, live_interval=0.2)
    try:
        with login(site, secret) as c:
            board = c.get("/board").text
            assert "Down now: 1 unit(s)" in board
            assert "长葛市人民政府办公室 <small>CG-GOV</small></a> · since 09:00 (20 min)" in board
            only = c.get("/board?unit=CG-FIN").text
            assert fin.id in only and gov.id not in only
            page = c.get(f"/tickets/{gov.id}").text
            assert 'id="place"' in page and "S5720-28X-SI-AC" in page
            assert "华为技术有限公司 400-822-9999" in page and "2028-06-30" in page
            assert "周经理 13800000011" in page  # the unit's customer manager
    finally:
        site.stop()


def test_places_on_postgresql(pg_url: str, travel: Any) -> None:
    engine = Engine.open(db=pg_url, create=True, clock=pendulum.now, people=PEOPLE)
    engine.import_registry([s for k in KINDS for s in read(EXAMPLE / f"{k}.csv")])
    down = alert({"instance": "cg-gov-core:9100", "severity": "critical"})  # tier A
    t = engine.intake("alertmanager", down, actor="am")
    assert where(t) == ("CG-GOV", "CG-GOV-MAIN", None, CORE)
    other = engine.intake("web", {"title": "x", "unit": "CG-FIN", "tier": "C"}, actor="desk")
    engine.locate(other.id, line="CGZW-0002", actor="li")
    travel(minutes=30)
    assert [(d.unit, d.tickets) for d in engine.status().down] == [("CG-GOV", [t.id])]
    report = engine.report("2026-03-01", "2026-03-03").to_dict()
    assert [u["unit"] for u in report["units"]] == ["CG-GOV", "CG-FIN"]  # a broken promise first
    assert report["models"][0]["model"] == "S5720-28X-SI-AC"
    assert [s.id for s in engine.served("devices", CORE)] == [t.id]
    assert engine.list(unit="CG-FIN", final=False)[0].id == other.id
    assert engine.verify().ok
    engine.close()


def test_a_place_with_tickets_is_archived_not_removed(net: Engine) -> None:
    net.add_entry("units", {"code": "CG-NEW", "name": "新单位"})
    t = opened(net, "web", {"title": "x", "unit": "CG-NEW"})
    with pytest.raises(InvalidInput, match=r"'CG-NEW' is still named by 1 tickets: archive it"):
        net.remove_entry("units", "CG-NEW", lang="en")
    assert net.archive_entry("units", "CG-NEW")["archived_us"] is not None
    assert net.get(t.id).unit == "CG-NEW"  # the ticket keeps its place
