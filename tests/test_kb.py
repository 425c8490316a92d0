"""The experience base (经验库): entries drafted from reported tickets and approved by people,
found again in Chinese and English — two-character words, model names whole or by prefix, the
trade's synonyms — suggested at intake, linked to the tickets they helped, every change in a
hash-chained log that verify checks. Recall is measured on realistic fault texts, on both
databases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner
from faultflow import Engine, IllegalTransition, InvalidInput
from faultflow.cli.app import cli
from faultflow.kb.text import terms, widened
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
CASES = json.loads((ROOT / "tests" / "fixtures" / "experience.json").read_text("utf-8"))
PEOPLE = ROOT / "people.toml"


@pytest.fixture
def kb(db_path: Path, travel: Any) -> Engine:
    return Engine.open(db=db_path, clock=pendulum.now, people=PEOPLE)


def load(engine: Engine) -> dict[str, int]:
    """The 42 entries of the fixture, approved; their ids by key."""
    ids = {}
    for case in CASES["entries"]:
        values = {k: v for k, v in case.items() if k != "key"}
        entry = engine.kb_add(values, actor="li")
        engine.kb_approve(entry.id, actor="zhou")
        ids[case["key"]] = entry.id
    return ids


def recall(engine: Engine, ids: dict[str, int]) -> tuple[float, list[str]]:
    missed = []
    for q in CASES["queries"]:
        top = [f.entry.id for f in engine.kb_search(q["query"], 3)]
        if ids[q["expect"]] not in top:
            missed.append(q["query"])
    return 1 - len(missed) / len(CASES["queries"]), missed


def test_realistic_faults_are_found_again(kb: Engine) -> None:
    ids = load(kb)
    assert len(ids) >= 40 and len(CASES["queries"]) >= 20
    found, missed = recall(kb, ids)
    assert found >= 0.9, f"recall@3 {found:.2f}; missed: {missed}"


def test_words_a_search_relies_on() -> None:
    words = terms("核心交换机S5720-28X光纤中断，光猫掉线")
    assert "s5720-28x" in words and "s5720" in words and "28x" in words  # whole, and parts
    assert "光纤" in words and "交换" in words and "光猫" in words  # two-character words
    said = widened("光猫掉线")
    assert said[0][0] == "光猫" and "onu" in said[0]  # a synonym of the trade
    assert "断网" in said[1]
    [wall] = [g for g in widened("防火墙", [("防火墙", "FW")]) if g[0] == "防火墙"]
    assert "fw" in wall and "firewall" in wall  # the contract's own, and the built-in


@given(st.text(max_size=60))
def test_any_text_gives_words_without_spaces(text: str) -> None:
    for word in terms(text):
        assert word and not any(c.isspace() for c in word)


def test_a_model_is_found_by_its_prefix_and_english_finds_chinese(kb: Engine) -> None:
    ids = load(kb)
    assert ids["sw-firmware"] in [f.entry.id for f in kb.kb_search("S5720", 10)]
    assert [f.entry.id for f in kb.kb_search("AR22", 5)][:1] in ([ids["ar-reboot"]],
            [ids["ar-nat"]], [ids["ar-ospf"]], [ids["ar-pppoe"]])  # fmt: skip
    assert ids["sw-fan"] in [f.entry.id for f in kb.kb_search("switch fan", 5)]


def test_an_entry_lives_draft_approved_retired(kb: Engine) -> None:
    e = kb.kb_add({"symptom": "光猫掉线", "cause": "光纤松动", "fix": "重插"}, actor="li")
    assert e.state == "draft" and kb.kb_search("光猫") == []  # not suggested unreviewed
    assert [f.entry.id for f in kb.kb_search("光猫", all_states=True)] == [e.id]
    approved = kb.kb_approve(e.id, actor="zhou")
    assert approved.state == "approved" and kb.kb_search("光猫")[0].entry.id == e.id
    edited = kb.kb_edit(e.id, {"fix": "清洁接头后重插光纤"}, actor="li")
    assert edited.state == "approved" and edited.version == 3
    assert kb.kb_search("清洁接头")[0].entry.id == e.id  # the edit is what is found
    with pytest.raises(IllegalTransition, match="cannot be approved now"):
        kb.kb_approve(e.id)
    kb.kb_retire(e.id, actor="zhou")
    assert kb.kb_search("光猫") == []
    with pytest.raises(InvalidInput, match="retired"):
        kb.kb_edit(e.id, {"fix": "x"})
    with pytest.raises(InvalidInput, match="needs its cause"):
        kb.kb_add({"symptom": "x", "fix": "y"})
    with pytest.raises(InvalidInput, match="unknown field 'colour'"):
        kb.kb_add({"symptom": "x", "cause": "y", "fix": "z", "colour": "red"})
    log = kb.kb_log()
    assert [x.action for x in log] == ["created", "approved", "edited", "retired"]
    assert kb.verify().ok and kb.verify().kb == 4


def test_reporting_a_fault_drafts_an_entry_for_an_engineer(kb: Engine, travel: Any) -> None:
    kb.import_registry(_example())
    t = kb.intake("alertmanager", _alert("cg-gov-core:9100"), actor="monitor")
    travel(minutes=5)
    for trigger in ("respond", "remote"):
        kb.advance(t.id, trigger, actor="li")
    travel(minutes=40)
    kb.advance(t.id, "resolve", actor="li", note="回退交换机固件后恢复")
    assert kb.kb_entries(["draft"]) == []  # resolved is not closed yet
    kb.advance(t.id, "report", actor="li")
    [draft] = kb.kb_entries(["draft"])
    d = draft.to_dict()
    assert d["tickets"] == [t.id] and d["fix"] == "回退交换机固件后恢复"
    assert d["models"] == ["S5720-28X-SI-AC"] and d["fix_s"] == 45 * 60
    assert d["author"] == "faultflow" and d["symptom"].startswith(t.title)
    kb.kb_edit(draft.id, {"cause": "新固件缺陷"}, actor="li")
    kb.kb_approve(draft.id, actor="zhou")
    # the next similar fault is suggested it, at intake
    results = kb.with_suggestions(kb.intake_all("alertmanager", _alert("cg-fin-sw:9100", "f2"),
                                                actor="monitor"))  # fmt: skip
    said = results[0].to_dict()["suggestions"]
    assert [s["id"] for s in said] == [draft.id] and said[0]["fix_s"] == 2700
    # an operator says it helped: an event, and the entry knows the ticket
    other = results[0].ticket
    used = kb.kb_use(other.id, draft.id, actor="li")
    assert used.history[-1].trigger == "kb" and used.history[-1].data == {"entry": draft.id}
    assert kb.kb_entry(draft.id).tickets == (t.id, other.id)
    with pytest.raises(InvalidInput, match="already used"):
        kb.kb_use(other.id, draft.id)
    # did it help? the report compares the time to fix with an entry and without
    for trigger in ("respond", "remote"):
        kb.advance(other.id, trigger, actor="li")
    travel(minutes=10)
    kb.advance(other.id, "resolve", actor="li", note="按经验库回退固件")
    report = kb.report("2026-03-01", "2026-03-03")
    assert report.to_dict()["fix_times"] == [
        {"tier": "A", "kb_used": False, "tickets": 1, "mean_fix_s": 2700},
        {"tier": "A", "kb_used": True, "tickets": 1, "mean_fix_s": 3300},  # since its startsAt
    ]
    assert report.to_dict()["kb_most_used"] == [{"entry": draft.id, "uses": 1, "symptom": t.title}]
    from faultflow.reports import html, render

    assert "tier A: 55m over 1 / 45m over 1" in render.table(report)
    assert "经验库是否有帮助" in html.render(
        report,
        lifecycle="",
        contract=kb.contract,
        words=__import__("faultflow.words").words.Words("zh"),
    )
    assert kb.verify().ok


def test_list_search_finds_tickets_by_title_and_notes(kb: Engine) -> None:
    a = kb.intake("hotline", {"summary": "财政局光猫掉线"}, actor="desk")
    b = kb.intake("hotline", {"summary": "打印机卡纸"}, actor="desk")
    assert [t.id for t in kb.search_tickets("光猫")] == [a.id]
    kb.note(b.id, "换了 S5130S 交换机的光模块", actor="li")
    assert [t.id for t in kb.search_tickets("S5130")] == [b.id]  # a note, indexed by the search
    assert [t.id for t in kb.search_tickets("断网")] == [a.id]  # 掉线 = 断网


def test_the_command_line(kb: Engine, db_path: Path) -> None:
    kb.close()
    run = CliRunner()

    def ff(*args: str) -> Any:
        return run.invoke(cli, ["--db", str(db_path), *args])

    added = ff("kb", "add", "--symptom", "交换机风扇告警", "--cause", "风扇坏", "--fix", "换风扇",
               "--model", "S5720-28X-SI-AC", "--as", "li", "--json")  # fmt: skip
    assert added.exit_code == 0, added.output
    entry = json.loads(added.output)
    assert entry["state"] == "draft" and entry["models"] == ["S5720-28X-SI-AC"]
    assert ff("kb", "approve", str(entry["id"])).exit_code == 0
    found = json.loads(ff("kb", "search", "S5720", "风扇", "--json").output)["results"]
    assert [r["id"] for r in found] == [entry["id"]] and set(found[0]) >= {
        "id", "symptom", "cause", "fix", "models", "score"}  # fmt: skip
    opened = json.loads(ff("intake", "--channel", "hotline", "--title", "交换机风扇坏了",
                           "--json").output)  # fmt: skip
    assert [s["id"] for s in opened["suggestions"]] == [entry["id"]]
    listed = json.loads(ff("list", "--search", "风扇", "--json").output)
    assert [t["id"] for t in listed] == [opened["ticket"]["id"]]
    for args, words in (
        (("kb", "show", "99"), "no experience entry 99"),
        (("kb", "show", "x"), "an entry's id is a number"),
        (("kb", "approve", "99"), "no experience entry 99"),
        (("kb", "add", "--symptom", "x"), "needs its cause"),
    ):
        done = ff(*args)
        assert done.exit_code == 1 and words in done.stderr and done.stderr.count("\n") == 1


def test_a_tampered_log_is_found(kb: Engine, db_path: Path) -> None:
    load(kb)
    kb.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE kb_log SET actor = 'mallory' WHERE seq = 5")
    found = Engine.open(db=db_path).verify()
    assert not found.ok and found.kb_broken == 5
    done = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert done.exit_code == 1 and "the experience base's log is broken at change 5" in done.stderr


def test_recall_on_postgresql(pg_url: str, travel: Any) -> None:
    engine = Engine.open(db=pg_url, create=True, clock=pendulum.now, people=PEOPLE)
    ids = load(engine)
    found, missed = recall(engine, ids)
    assert found >= 0.9, f"recall@3 {found:.2f}; missed: {missed}"
    t = engine.intake("hotline", {"summary": "财政局光猫掉线"}, actor="desk")
    assert [x.id for x in engine.search_tickets("光猫")] == [t.id]
    engine.kb_use(t.id, ids["onu-loose"], actor="li")
    used = engine.report("2026-03-01", "2026-03-03").to_dict()["kb_most_used"]
    assert used[0]["entry"] == ids["onu-loose"]
    assert engine.verify().ok
    engine.close()


def _example() -> list[Any]:
    from faultflow.network.sheets import example

    return example()


def _alert(instance: str, fingerprint: str = "f1") -> dict[str, Any]:
    return {
        "version": "4", "receiver": "faultflow", "status": "firing",
        "alerts": [{"status": "firing", "fingerprint": fingerprint,
                    "labels": {"alertname": "SwitchDown", "instance": instance,
                               "severity": "critical"},
                    "annotations": {"summary": "核心交换机升级固件后反复重启"},
                    "startsAt": "2026-03-02T01:00:00Z"}],
    }  # fmt: skip


def test_the_experience_base_over_http(kb: Engine) -> None:
    import httpx
    from test_http import Served

    _, reader = kb.create_token("wall", ["read"])
    _, editor = kb.create_token("editor", ["kb"], actor="li")
    _, desk = kb.create_token("desk", ["operate"], actor="wang")
    site = Served(kb)
    try:
        with httpx.Client(base_url=site.url, timeout=10) as c:

            def as_(secret: str) -> dict[str, str]:
                return {"authorization": f"Bearer {secret}"}

            body = {
                "symptom": "光猫掉线",
                "cause": "光纤松动",
                "fix": "重插光纤",
                "models": ["HG8245H"],
            }
            assert c.post("/v1/kb", json=body, headers=as_(desk)).status_code == 403
            made = c.post("/v1/kb", json=body, headers=as_(editor))
            assert made.status_code == 201 and made.json()["state"] == "draft"
            eid = made.json()["id"]
            assert (
                c.post("/v1/kb", json={**body, "colour": "red"}, headers=as_(editor)).status_code
                == 422
            )
            assert (
                c.post(f"/v1/kb/{eid}/approve", headers=as_(editor)).json()["state"] == "approved"
            )
            found = c.get("/v1/kb", params={"q": "ONU 断网"}, headers=as_(reader)).json()
            assert [r["id"] for r in found["results"]] == [eid]
            assert c.get("/v1/kb/999", headers=as_(reader)).status_code == 404
            opened = c.post("/v1/intake/hotline", json={"summary": "光猫红灯"},
                            headers=as_(kb.create_token("line", ["intake:*"])[1]))  # fmt: skip
            assert [s["id"] for s in opened.json()["suggestions"]] == [eid]
            tid = opened.json()["ticket"]["id"]
            used = c.post(f"/v1/tickets/{tid}/kb", json={"entry": eid}, headers=as_(desk))
            assert used.status_code == 200 and used.json()["history"][-1]["trigger"] == "kb"
            edited = c.patch(f"/v1/kb/{eid}", json={"fix": "清洁并重插"}, headers=as_(editor))
            assert edited.json()["tickets"] == [tid] and edited.json()["fix"] == "清洁并重插"
    finally:
        site.stop()


def test_the_board_suggests_and_records_what_helped(kb: Engine) -> None:
    from test_http import Served
    from test_web import browser, csrf_of, login

    ids = load(kb)
    t = kb.intake("hotline", {"summary": "光猫红灯闪，单位断网"}, actor="desk")
    secret = kb.create_token("desk", ["operate"], "li")[1]
    site = Served(kb)
    try:
        with login(site, secret) as c:
            page = c.get(f"/tickets/{t.id}").text
            assert "From the experience base" in page and "重新插拔并清洁光纤跳线接头" in page
            done = c.post(f"/tickets/{t.id}", data={"csrf": csrf_of(page), "action": "kb",
                                                    "entry": str(ids["onu-loose"])})  # fmt: skip
            assert done.status_code == 303
            assert "it helped with this ticket" in c.get(f"/tickets/{t.id}").text
        with browser(site, "zh") as c:
            token = csrf_of(c.get("/login").text)
            c.post("/login", data={"csrf": token, "token": secret, "next": "/board"})
            assert "经验库建议" in c.get(f"/tickets/{t.id}").text
    finally:
        site.stop()
    assert kb.get(t.id).history[-1].trigger == "kb"


def test_a_contracts_synonyms_are_checked_and_used(tmp_path: Path, travel: Any) -> None:
    from faultflow.contract.compile import default_contract_path

    text = default_contract_path().read_text("utf-8")
    good = tmp_path / "good.toml"
    good.write_text(text + '\n[kb]\nsynonyms = [["政务外网", "外网专线"]]\n', "utf-8")
    engine = Engine.open(db=tmp_path / "k.db", config=good, clock=pendulum.now)
    e = engine.kb_add({"symptom": "外网专线中断", "cause": "运营商故障", "fix": "报修"})
    engine.kb_approve(e.id)
    assert [f.entry.id for f in engine.kb_search("政务外网")] == [e.id]
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[kb]\nsynonyms = [["只有一个"]]\n', "utf-8")
    done = CliRunner().invoke(cli, ["check", str(bad)])
    assert done.exit_code == 1 and "kb.synonyms[0]: two or more words" in done.stderr


RACERS = """
for i in range(5):
    entry = engine.kb_add({"symptom": f"光猫掉线 {args[0]}-{i}", "cause": "c", "fix": "f"},
                          actor=args[0])
    engine.kb_approve(entry.id, actor=args[0])
    engine.add_entry("vendors", {"code": f"V{args[0]}{i}", "name": "x"}, actor=args[0])
print(json.dumps("done"))
"""


def test_racing_writers_keep_each_log_one_chain(pg_url: str) -> None:
    _racers(pg_url)


def test_racing_writers_on_sqlite(db_path: Path) -> None:
    _racers(str(db_path))


def _racers(db: str) -> None:
    """8 processes add and approve entries and add vendors at once: every write lands, and each
    log stays one chain (two writers reading the same head would fork it)."""
    from conftest import START, race

    Engine.open(db=db, create=True).close()
    assert race(db, START, RACERS, [[f"p{n}"] for n in range(8)]) == ["done"] * 8
    engine = Engine.open(db=db)
    found = engine.verify()
    assert (found.kb, found.registry) == (80, 40) and found.ok, found.to_dict()
    engine.close()
