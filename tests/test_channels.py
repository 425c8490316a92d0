"""The six built-in channels on realistic samples (tests/fixtures), fuzzed, and raced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import START, race, snapshot
from faultflow import Engine, IntakeError
from faultflow.registry import discover
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_hotline_call_record(engine: Engine) -> None:
    t = engine.intake("hotline", sample("hotline.json"), actor="agent1")
    assert t.title == "社保经办大厅所有窗口无法连接业务系统"
    assert t.reporter == "刘科长 / 市人社局" and t.contact == "0374-6213377"
    assert t.external_id == "400-20260302-0815-0042"
    # the call start is when the fault was reported: the response clock starts there
    assert t.clocks["response"].started_at.isoformat() == "2026-03-02T08:52:10+08:00"
    assert t.history[0].data["channel_data"]["agent_extension"] == "8012"


def test_customer_manager_entry(engine: Engine) -> None:
    t = engine.intake("customer_manager", sample("customer_manager.json"), actor="zhao")
    assert (t.tier, t.owner, t.reporter) == ("B", "zhao", "赵经理")
    assert t.clocks["response"].limit.total_seconds() == 15 * 60  # P3 beats tier B's 30 min


def test_web_form_is_tier_c_unless_given(engine: Engine) -> None:
    t = engine.intake("web", sample("web.json"), actor="web")
    assert t.tier == "C" and t.contact == "chen@changshe.example"
    urgent = engine.intake("web", {"title": "x", "tier": "B"}, actor="web")
    assert urgent.tier == "B"


def test_chat_message_tier_from_keywords(engine: Engine) -> None:
    t = engine.intake("chat", sample("chat.json"), actor="zhao")
    assert t.tier == "A"  # 中断 / 宕机 are tier-A keywords in states.toml
    assert t.reporter == "市财政局-王工" and t.external_id == "wxwork-msg-5c7f01e2"
    assert t.clocks["response"].started_at.isoformat() == "2026-03-02T08:57:00+08:00"
    plain = engine.intake(
        "chat", {"message_id": "m2", "sender": "x", "text": "打印机卡纸"}, actor="zhao"
    )
    assert plain.tier == "C"


def test_email_gb2312_header_and_gbk_body(engine: Engine) -> None:
    t = engine.intake("email", sample("email_gb2312.eml"), actor="agent1")
    assert t.title == "【紧急】核心交换机宕机"
    assert t.reporter == "市卫健委 信息科" and t.contact == "xxk@wjw.changge.example"
    assert t.external_id == "20260302084712.4411@wjw.changge.example"
    assert "全部业务中断" in t.description
    assert t.clocks["response"].started_at.isoformat() == "2026-03-02T08:47:12+08:00"


def test_email_multipart_prefers_the_text_part(engine: Engine) -> None:
    t = engine.intake("email", sample("email_multipart.eml"), actor="agent1")
    assert t.title == "OA 登录慢" and t.reporter == "教育局 李老师"
    assert t.description.startswith("OA 系统登录页面打开很慢") and "<" not in t.description


def test_email_gb18030(engine: Engine) -> None:
    t = engine.intake("email", sample("email_gb18030.eml"), actor="agent1")
    assert "𠀀" in t.title and "𠀀" in t.description


def test_email_delivered_twice_is_one_ticket(engine: Engine, db_path: Path) -> None:
    first = engine.intake("email", sample("email_gb2312.eml"), actor="agent1")
    before = snapshot(db_path)
    assert engine.intake("email", sample("email_gb2312.eml"), actor="other").id == first.id
    assert snapshot(db_path) == before


def test_alertmanager_one_ticket_per_incident(engine: Engine, db_path: Path) -> None:
    results = engine.intake_all("alertmanager", sample("alertmanager_firing.json"), actor="monitor")
    assert [r.outcome for r in results] == ["opened", "opened"]
    tickets = [r.ticket for r in results]
    assert [(t.tier, t.external_id) for t in tickets] == [
        ("A", "c4b5e3a1f09d2b77"),
        ("B", "9a1f00be33c1d2e4"),
    ]
    assert tickets[0].title == "政务云计算节点 cn-11 不可达"
    assert (
        tickets[0].clocks["response"].started_at.isoformat() == "2026-03-02T08:58:30.123000+08:00"
    )
    before = snapshot(db_path)
    again = engine.intake_all("alertmanager", sample("alertmanager_firing.json"), actor="monitor")
    # a repeated firing: no new ticket, and it says so
    assert [(r.outcome, r.ticket.id) for r in again] == [("duplicate", t.id) for t in tickets]
    assert snapshot(db_path) == before
    resolved = engine.intake_all(
        "alertmanager", sample("alertmanager_resolved.json"), actor="monitor"
    )
    assert [(r.outcome, r.ticket.id) for r in resolved] == [("note", tickets[0].id)]
    note = engine.get(tickets[0].id).history[-1]
    assert note.trigger == "note" and "resolved" in (note.note or "")
    assert engine.get(tickets[0].id).state == "received"  # a note, not a transition


def test_alertmanager_refuses_other_versions(engine: Engine) -> None:
    hook = json.loads(sample("alertmanager_firing.json"))
    hook["version"] = "3"
    with pytest.raises(IntakeError, match="version: 3"):
        engine.intake("alertmanager", hook, actor="monitor")
    hook["version"] = "4"
    del hook["alerts"][1]["fingerprint"]
    with pytest.raises(IntakeError, match=r"alerts\[1\].fingerprint: missing"):
        engine.intake("alertmanager", hook, actor="monitor")


def test_an_unknown_channel_lists_the_installed_ones(engine: Engine) -> None:
    with pytest.raises(IntakeError) as err:
        engine.intake("fax", b"...", actor="x")
    assert str(err.value) == (
        "unknown channel 'fax' (installed: alertmanager, chat, "
        "customer_manager, email, hotline, web)"
    )


# -- fuzz: random input raises IntakeError only, and writes nothing -----------------------------

CHANNELS = discover().channels
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "title",
                    "text",
                    "tier",
                    "version",
                    "alerts",
                    "fingerprint",
                    "status",
                    "labels",
                    "occurred_at",
                    "call_start",
                    "time",
                    "external_id",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("name", sorted(CHANNELS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.one_of(st.binary(max_size=300), JSONISH, JSONISH.map(lambda v: json.dumps(v).encode()))
)
def test_adapters_raise_only_intake_error(name: str, raw: Any) -> None:
    try:
        records = CHANNELS[name].parse(raw, {})
    except IntakeError:
        return
    records = records if isinstance(records, list) else [records]
    assert all(r.title for r in records)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=st.one_of(st.binary(max_size=200), JSONISH))
def test_refused_fuzz_writes_nothing(engine: Engine, db_path: Path, raw: Any) -> None:
    for name in ("hotline", "email", "alertmanager"):
        before = snapshot(db_path)
        try:
            engine.intake_all(name, raw, actor="fuzz")
        except IntakeError:
            assert snapshot(db_path) == before


# -- a race: the same alert from two processes opens one ticket -------------------------------

RACER = r"""
payload = open(args[0], "rb").read()
print(json.dumps([r.ticket.id for r in engine.intake_all("alertmanager", payload, actor="m")]))
"""


def test_racing_duplicate_alerts_open_one_ticket(db_path: Path, travel: Any) -> None:
    Engine.open(db=db_path).close()
    firing = str(FIXTURES / "alertmanager_firing.json")
    answers = race(db_path, START.add(minutes=5), RACER, [[firing]] * 4)
    assert all(a == answers[0] for a in answers), answers  # everyone got the same two tickets
    with Engine.open(db=db_path) as engine:
        assert len(engine.list()) == 2


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_every_channel_accepts_the_common_fields(engine: Engine, name: str) -> None:
    """SPEC §6: every adapter also accepts title, description, reporter, contact, tier, kind,
    cause, external_id, occurred_at — so `faultflow intake --channel X --title ...` works."""
    common = {
        "title": "光纤中断",
        "description": "县城东区三个单位断网",
        "reporter": "Li",
        "contact": "0374-1",
        "tier": "B",
        "kind": "line",
        "cause": "external",
        "external_id": f"{name}-77",
        "occurred_at": "2026-03-02T08:50:00+08:00",
    }
    t = engine.intake(name, common, actor="agent1")
    assert (t.title, t.tier, t.kind, t.cause, t.contact) == (
        "光纤中断",
        "B",
        "line",
        "external",
        "0374-1",
    )
    assert t.external_id == f"{name}-77"
    assert t.clocks["response"].started_at.isoformat() == "2026-03-02T08:50:00+08:00"
    assert t.clocks["line_repair"].limit.days == 7
    again = engine.intake(name, json.dumps(common).encode(), actor="other")
    assert again.id == t.id  # as JSON bytes too, and idempotent


def test_control_characters_never_reach_a_title_a_mail_or_the_terminal(
    engine: Engine, db_path: Path
) -> None:
    """A CR/LF in a title (accepted from the API, the hotline, the chat, a webhook) once made
    every mail about the ticket fail for ever; an ESC in a title reached the terminal raw. A
    title is one line without control characters; the description keeps its lines."""
    import sqlite3

    from click.testing import CliRunner
    from faultflow.cli.app import cli
    from faultflow.plugins.mailer import message

    t = engine.intake(
        "hotline",
        {"title": "核心交换机\r\n宕机\x1b[31m\x07", "description": "第一行\r\n第二行\x1b",
         "reporter": "王工\x07", "tier": "B"},
        actor="agent1",
    )  # fmt: skip
    assert (t.title, t.reporter) == ("核心交换机 宕机[31m", "王工")
    assert engine.get(t.id).description == "第一行\n第二行"
    mail = message(
        {"event": "transition", "kind": "transition", "ticket": t.id,
         "title": "stored before\r\nthe fix"},
        {"to": ["duty@om.example"]},
    )  # fmt: skip
    assert mail is not None and "\n" not in str(mail["Subject"])
    # a ticket stored before intake cleaned titles: the terminal gets escapes, not the raw bytes
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE tickets SET title = ? WHERE id = ?", ("机房\x1b]0;pwned\x07", t.id))
    conn.commit()
    conn.close()
    for args in (["show", t.id], ["list"]):
        out = CliRunner().invoke(cli, ["--db", str(db_path), *args]).stdout
        assert "\x1b]" not in out and "\x07" not in out and "\\x1b]0;pwned\\x07" in out
