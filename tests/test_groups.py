"""One outage, many reports: merge a report into its outage's ticket (the parent's promises
run from the first report; the report's clocks stop and it closes with the parent), take it
out again (its own clocks back), link tickets, offer candidates at intake — each a unit of
work over both tickets, refused whole when it cannot be, checked by verify."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from conftest import START, race, snapshot
from faultflow import Engine, IllegalTransition, InvalidInput, UnknownTicket
from faultflow.cli.app import cli
from faultflow.network.sheets import example
from test_one_door import chain

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "people.toml"
CORE = "2102351931DMH4000123"  # cg-gov-core, at site CG-GOV-MAIN of unit CG-GOV
FIN = "2102351931DMH4000456"  # cg-fin-sw, at unit CG-FIN


def _open(db: Path | str, config: Path | None = None) -> Engine:
    engine = Engine.open(db=db, clock=pendulum.now, people=PEOPLE, config=config)
    assert not engine.import_registry(example(), actor="li").problems
    return engine


@pytest.fixture
def engine(db_path: Path, travel: Any) -> Engine:
    return _open(db_path)


def _told(db_path: Path, tmp_path: Path) -> Engine:
    """The seed contract, its log notifier told of transitions too (a reporter's channel)."""
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    told = '[notifiers.log]\nevents = ["warning", "breach", "escalation"]'
    assert told in text
    config = tmp_path / "told.toml"
    config.write_text(text.replace(told, told.replace('["', '["transition", "')), "utf-8")
    return _open(db_path, config)


def report(engine: Engine, channel: str, title: str, **fields: Any) -> Any:
    (r,) = engine.intake_all(channel, {"title": title, "tier": "A", **fields}, actor="desk")
    return r


def test_a_merged_outage_runs_from_its_first_report_and_its_reports_close_with_it(
    travel: Any, db_path: Path, tmp_path: Path
) -> None:
    engine = _told(db_path, tmp_path)
    hotline = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket  # 09:00
    travel(minutes=5)
    portal = report(engine, "web", "政府大楼网络不通", site="CG-GOV-MAIN")
    assert [c.id for c in portal.candidates] == [hotline.id]  # the same site, 5 minutes ago
    assert portal.to_dict()["candidates"][0]["site"] == "CG-GOV-MAIN"
    # the hotline's report goes into the portal's ticket: the promise runs from 09:00
    parent = engine.merge(hotline.id, portal.ticket.id, actor="li", reason="同一故障")
    assert parent.id == portal.ticket.id and parent.parent == parent.id
    assert parent.clocks["response"].started_at == START
    assert parent.clocks["response"].due_at == START.add(minutes=15)
    merged = engine.get(hotline.id)
    assert merged.merged_into == parent.id and merged.to_dict()["parent"] == parent.id
    assert parent.to_dict()["children"] == [hotline.id] and parent.to_dict()["parent"] is None
    assert merged.clocks["response"].status == "stopped"
    assert [e.trigger for e in merged.history][-1] == "merge"
    assert [e.trigger for e in parent.history][-1] == "group"
    group = engine.group(hotline.id)
    assert (group.parent, group.reports, group.origin) == (parent.id, (hotline.id,), START)
    # a report takes no step of its own: refused, nothing written
    before = snapshot(db_path)
    for refused in (
        lambda: engine.advance(hotline.id, "respond", actor="li"),
        lambda: engine.hold(hotline.id, reason="等待", actor="li"),
        lambda: engine.reclassify(hotline.id, tier="B", reason="x", actor="li"),
        lambda: engine.assign(hotline.id, "wang", reason="x", actor="li"),
    ):
        with pytest.raises(IllegalTransition, match=f"merged into {parent.id}"):
            refused()
    assert snapshot(db_path) == before
    assert chain(db_path, hotline.id) in (None, ("A", "finished"))
    # the parent's steps carry the group; its report attached closes every report with it
    travel(minutes=5)
    for trigger in ("respond", "dispatch", "arrive", "resolve"):
        engine.advance(parent.id, trigger, actor="li")
    engine.advance(parent.id, "report", actor="li", attach_report=True)
    closed = engine.get(hotline.id)
    assert closed.state == "reported"
    follow = closed.history[-1]
    assert (follow.trigger, follow.data["parent"]) == ("follow", parent.id)
    assert "handling_report" in follow.data  # the reporter's own channel tells them of it
    conn = sqlite3.connect(db_path)
    told = [json.loads(p) for (p,) in conn.execute(
        "SELECT payload FROM outbox WHERE ticket_id = ? ORDER BY seq", (hotline.id,))]  # fmt: skip
    conn.close()
    assert told and told[-1]["parent"] == parent.id and told[-1]["event"] == "follow"
    assert engine.verify().ok


def test_unmerge_gives_a_report_its_own_promises_back_and_withdraws_what_no_longer_holds(
    engine: Engine, travel: Any, db_path: Path
) -> None:
    first = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket  # 09:00
    travel(minutes=10)
    later = report(engine, "web", "网络慢", device=CORE).ticket  # 09:10: due 09:25
    travel(minutes=6)  # 09:16
    parent = engine.merge(first.id, later.id, actor="li")
    assert [e.data["clock"] for e in parent.history if e.trigger == "breach"] == ["response"]
    assert chain(db_path, later.id) == ("A", "running")  # the first report's promise broke
    travel(minutes=1)
    back = engine.unmerge(first.id, actor="li", reason="两个不同的故障")
    assert back.merged_into is None and back.parent is None
    assert back.clocks["response"].status == "running" and back.clocks["response"].breached
    assert chain(db_path, first.id) == ("A", "running")  # its broken promise pages again
    was = engine.get(later.id)
    assert was.parent is None and was.clocks["response"].started_at == START.add(minutes=10)
    withdrawn = [e for e in was.history if e.trigger == "withdrawn"]
    assert [e.data["alarm"] for e in withdrawn] == ["breach"]
    assert "first report moved" in (withdrawn[0].note or "")
    assert engine.group(later.id).reports == ()
    found = engine.verify()
    assert found.ok, found.to_dict()


def test_impossible_merges_are_refused_and_change_nothing(
    engine: Engine, travel: Any, db_path: Path, tmp_path: Path
) -> None:
    a = report(engine, "hotline", "A", device=CORE).ticket
    b = report(engine, "web", "B", device=CORE).ticket
    c = report(engine, "chat", "C", device=CORE).ticket
    done = report(engine, "web", "closed", device=FIN).ticket
    for trigger in ("respond", "cancel"):
        engine.advance(done.id, trigger, actor="li", reason="误报")
    engine.merge(b.id, a.id, actor="li")  # a is the parent of b
    before = snapshot(db_path)
    for refused, kind, words in (
        (lambda: engine.merge(a.id, a.id), InvalidInput, "cannot be merged into itself"),
        (lambda: engine.merge(a.id, b.id), InvalidInput, "one of .* own reports"),
        (lambda: engine.merge(c.id, b.id), InvalidInput, f"itself merged into {a.id}"),
        (lambda: engine.merge(b.id, c.id), InvalidInput, f"merged into {a.id} already"),
        (lambda: engine.merge(b.id, a.id), InvalidInput, f"merged into {a.id} already"),
        (lambda: engine.merge(a.id, c.id), InvalidInput, "has reports merged into it"),
        (lambda: engine.merge(c.id, done.id), IllegalTransition, "merge into an open ticket"),
        (lambda: engine.merge(done.id, c.id), IllegalTransition, "a closed ticket is not"),
        (lambda: engine.merge(c.id, "ZZZZZZZ"), UnknownTicket, "ZZZZZZZ"),
        (lambda: engine.unmerge(c.id), InvalidInput, "is not merged into any ticket"),
        (lambda: engine.unmerge(a.id), InvalidInput, "parent of its group"),
        (lambda: engine.link(a.id, c.id, "sibling"), InvalidInput, "unknown link"),
    ):
        with pytest.raises(kind, match=words):
            refused()
    assert snapshot(db_path) == before
    # tickets under contract versions that cannot be reconciled
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    stricter = tmp_path / "v2.toml"
    stricter.write_text(text.replace('limit = { A = "15m"', 'limit = { A = "10m"'), "utf-8")
    engine.apply_contract(stricter)
    newer = report(engine, "web", "D", device=CORE).ticket
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match="different contract versions"):
        engine.merge(newer.id, c.id, actor="li")
    assert snapshot(db_path) == before


def test_links_are_events_on_both_tickets(engine: Engine, db_path: Path) -> None:
    a = report(engine, "hotline", "A").ticket
    b = report(engine, "web", "B").ticket
    group = engine.link(b.id, a.id, "caused-by", actor="li", note="上游断电")
    assert [(k.other, k.kind) for k in group.links] == [(a.id, "caused-by")]
    assert [(k.other, k.kind) for k in engine.group(a.id).links] == [(b.id, "causes")]
    assert engine.get(a.id).history[-1].data["link"] == {"from": b.id, "as": "caused-by"}
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match="linked already"):
        engine.link(a.id, b.id, "duplicate")
    assert snapshot(db_path) == before
    assert engine.unlink(a.id, b.id, actor="li").links == ()
    with pytest.raises(InvalidInput, match="not linked"):
        engine.unlink(a.id, b.id)
    assert engine.get(b.id).state == "received" and engine.verify().ok


def test_candidates_are_open_tickets_at_the_same_place_within_the_window(
    engine: Engine, travel: Any
) -> None:
    old = report(engine, "hotline", "三小时前", device=CORE).ticket
    travel(hours=3)
    elsewhere = report(engine, "hotline", "财政局", device=FIN).ticket
    gone = report(engine, "hotline", "已撤销", device=CORE).ticket
    engine.advance(gone.id, "respond", actor="li")
    engine.advance(gone.id, "cancel", actor="li", reason="误报")
    first = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket
    second = report(engine, "chat", "同一机房", site="CG-GOV-MAIN").ticket
    engine.merge(second.id, first.id, actor="li")
    travel(minutes=30)
    r = report(engine, "web", "政府网站打不开", device=CORE)
    # the outage's ticket once (its report stands for it), nothing closed, nothing too old,
    # nothing of another unit
    assert [c.id for c in r.candidates] == [first.id]
    assert r.candidates[0].where == ("device", CORE)
    assert {old.id, gone.id, elsewhere.id, second.id}.isdisjoint(c.id for c in r.candidates)
    assert [c.id for c in engine.candidates(r.ticket.id)] == [first.id]
    assert report(engine, "web", "无处可寻").candidates == ()  # placed nowhere


def test_the_contract_may_merge_a_channels_reports_at_once(
    db_path: Path, travel: Any, tmp_path: Path
) -> None:
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    config = tmp_path / "auto.toml"
    config.write_text(text + '\n[merge]\nwindow = "1h"\nauto = ["alertmanager", "web"]\n', "utf-8")
    engine = _open(db_path, config)
    first = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket
    travel(minutes=3)
    r = report(engine, "web", "政府网站打不开", device=CORE)
    assert r.outcome == "opened" and r.ticket.merged_into == first.id
    parent = engine.get(first.id)
    assert parent.parent == first.id and parent.history[-1].actor == "faultflow"
    assert report(engine, "hotline", "又一个", device=CORE).ticket.merged_into is None
    assert engine.verify().ok


def test_the_report_counts_an_outage_once_and_lists_its_reports(
    engine: Engine, travel: Any
) -> None:
    a = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket
    travel(minutes=2)
    b = report(engine, "web", "网络不通", device=CORE).ticket
    travel(minutes=20)  # the hotline's promise broke at 09:15; b's would at 09:17
    engine.merge(b.id, a.id, actor="li")
    found = engine.report(start=START.subtract(days=1), end=START.add(days=1)).to_dict()
    (line,) = [x for x in found["clocks"] if x["clock"] == "response" and x["tier"] == "A"]
    assert (line["total"], line["breached"]) == (1, 1)  # one outage, one broken promise
    (outage,) = found["outages"]
    assert outage["ticket"] == a.id and [r["ticket"] for r in outage["reports"]] == [b.id]
    assert found["tickets"] == 2  # two reports came in


RACER = r"""
import json
from faultflow import Engine, FaultflowError
engine = Engine.open(db=db, clock=lambda: now, create=False)
try:
    engine.merge(args[0], args[1], actor="racer")
    print(json.dumps("merged"))
except FaultflowError as err:
    print(json.dumps(str(err)))
"""


def _race(engine: Engine, db: Any) -> None:
    a = report(engine, "hotline", "A", device=CORE).ticket.id
    b = report(engine, "web", "B", device=CORE).ticket.id
    out = race(db, pendulum.now(), RACER, [[a, b], [b, a]] * 4)
    assert out.count("merged") == 1, out  # one wins; the others are refused, each in words
    assert all("merged into" in x or "own reports" in x or "has reports" in x
               for x in out if x != "merged"), out  # fmt: skip
    parents = {engine.get(a).parent, engine.get(b).parent}
    assert parents in ({a}, {b})  # one group, whichever way it went
    assert engine.verify().ok


def test_eight_racing_merges_make_one_group(engine: Engine, db_path: Path) -> None:
    _race(engine, db_path)


@pytest.mark.postgres
def test_eight_racing_merges_make_one_group_on_postgresql(pg_url: str, travel: Any) -> None:
    _race(_open(pg_url), pg_url)


def test_the_cli_merges_and_links(engine: Engine, db_path: Path, travel: Any) -> None:
    a = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket.id
    b = report(engine, "web", "网络不通", device=CORE).ticket.id
    run = CliRunner()
    base = ["--db", str(db_path), "--people", str(PEOPLE), "--now", pendulum.now().isoformat()]
    done = run.invoke(cli, [*base, "merge", b, "into", a, "--as", "li", "--reason", "同一故障"])
    assert done.exit_code == 0, done.stderr
    assert f"merged {b} into {a}" in done.output
    shown = run.invoke(cli, [*base, "show", b, "--json"])
    assert json.loads(shown.output)["group"]["parent"] == a
    twice = run.invoke(cli, [*base, "merge", b, a])
    assert twice.exit_code == 1 and twice.stderr.count("\n") == 1
    assert "already" in twice.stderr
    linked = run.invoke(cli, [*base, "link", a, b, "--as", "duplicate", "--by", "wang"])
    assert linked.exit_code == 0 and f"{a} duplicate {b}" in linked.output
    text = run.invoke(cli, [*base, "show", a]).output
    assert f"parent of 1 report(s): {b}" in text and f"has-duplicate {b}" not in text
    assert f"duplicate {b}" in text
    out = run.invoke(cli, [*base, "unmerge", b, "--as", "li", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["parent"] is None
    usage = run.invoke(cli, [*base, "merge", b, "onto", a])
    assert usage.exit_code == 2 and "merge ID --into PARENT" in usage.stderr
    spec = run.invoke(cli, [*base, "merge", b, "--into", a, "--as", "li", "--json"])
    assert spec.exit_code == 0 and json.loads(spec.output)["children"] == [b]


def test_merges_and_links_over_http(engine: Engine, travel: Any) -> None:
    from test_http import Served, client

    desk = engine.create_token("desk", ["intake:*", "operate"], "li")[1]
    viewer = engine.create_token("viewer", ["read"], "auditor")[1]
    served = Served(engine)
    try:
        with client(served, desk) as c:
            a = c.post("/v1/intake/hotline", json={"title": "宕机", "tier": "A", "device": CORE})
            b = c.post("/v1/intake/web", json={"title": "不通", "tier": "A", "device": CORE})
            pa, pb = a.json()["ticket"]["id"], b.json()["ticket"]["id"]
            assert [x["id"] for x in b.json()["candidates"]] == [pa]
            merged = c.post(f"/v1/tickets/{pb}/merge", json={"into": pa, "reason": "同一故障"})
            assert merged.status_code == 200 and merged.json()["children"] == [pb]
            again = c.post(f"/v1/tickets/{pb}/merge", json={"into": pa})
            assert again.status_code == 422 and "already" in again.json()["error"]
            linked = c.post(f"/v1/tickets/{pa}/links", json={"other": pb, "as": "duplicate"})
            assert linked.status_code == 201 and linked.json()["links"][0]["as"] == "duplicate"
            assert c.delete(f"/v1/tickets/{pa}/links/{pb}").json()["links"] == []
            out = c.request("DELETE", f"/v1/tickets/{pb}/merge", json={"reason": "两回事"})
            assert out.status_code == 200 and out.json()["parent"] is None
        with client(served, viewer) as c:
            assert c.get(f"/v1/tickets/{pa}/links").json()["reports"] == []
            assert c.post(f"/v1/tickets/{pb}/merge", json={"into": pa}).status_code == 403
    finally:
        served.stop()


def test_check_refuses_an_automatic_merge_of_a_channel_not_installed(tmp_path: Path) -> None:
    text = (ROOT / "states.toml").read_text(encoding="utf-8")
    config = tmp_path / "auto.toml"
    config.write_text(text + '\n[merge]\nauto = ["telegraph"]\n', "utf-8")
    done = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "check", str(config)])
    assert done.exit_code == 1 and done.stderr.count("\n") == 1
    assert "merge.auto[0]: no channel 'telegraph' is installed" in done.stderr


def test_the_engines_own_words_on_a_merge_are_said_in_the_readers_language(
    engine: Engine, travel: Any
) -> None:
    from faultflow.words import Words

    a = report(engine, "hotline", "核心交换机宕机", device=CORE).ticket
    b = report(engine, "web", "网络不通", device=CORE).ticket
    engine.link(b.id, a.id, "duplicate", actor="li")
    engine.merge(b.id, a.id, actor="li")
    zh, en, c = Words("zh"), Words("en"), engine.contract
    parent = {e.trigger: e for e in engine.history(a.id)}
    child = {e.trigger: e for e in engine.history(b.id)}
    assert zh.said(c, child["merge"]) == f"并入主工单 {a.id}，服务承诺以主工单为准"
    assert en.said(c, child["merge"]) == f"merged into {a.id}: its promises are {a.id}'s"
    assert (zh.said(c, parent["group"]) or "").startswith(f"并入报修 {b.id}；承诺时限自首次报修")
    assert zh.said(c, child["link"]) == f"重复于 {a.id}"
    assert zh.said(c, parent["link"]) == f"有重复报修 {b.id}"
    noted = engine.link(a.id, report(engine, "chat", "X").ticket.id, "related", "li", "同一机房")
    said_by_a_person = engine.history(a.id)[-1]
    assert noted.links and zh.said(c, said_by_a_person) is None  # a person's note, as written
