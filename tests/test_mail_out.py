"""Mail out through a real Postfix on 127.0.0.1:25 (configured by .ci/run to deliver to the local
user ffmail's Maildir): the reporter's acknowledgement threads, and its reply comes back as a note;
a page reaches a person by mail."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from faultflow import Engine
from faultflow.contract.compile import compile_contract, default_contract_path

MAILDIR = Path("/home/ffmail/Maildir")


def _postfix() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 25), timeout=2):
            return MAILDIR.parent.is_dir()
    except OSError:
        return False


@pytest.fixture
def smtp() -> None:
    if not _postfix():
        if os.environ.get("CI"):
            pytest.fail("CI must run the mail-out tests: .ci/run sets up Postfix for ffmail")
        pytest.skip("no Postfix on 127.0.0.1:25 delivering to ffmail (see .ci/run)")


def contract() -> Any:
    import tomllib

    data = tomllib.loads(default_contract_path().read_text(encoding="utf-8"))
    data["notifiers"] = {
        "mail": {"use": "email", "host": "127.0.0.1", "port": 25, "tls": "none",
                 "from": "faultflow@localhost", "events": ["transition", "escalation"]},
    }  # fmt: skip
    return compile_contract(data)


def delivered(tag: str, timeout: float = 30) -> list[EmailMessage]:
    """The mails in ffmail's Maildir whose subject holds ``tag`` (waiting for Postfix)."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for folder in ("new", "cur"):
            for path in (MAILDIR / folder).glob("*") if (MAILDIR / folder).is_dir() else ():
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if tag in str(msg["Subject"]):
                    found.append(msg)
        if found or time.monotonic() > deadline:
            return found  # type: ignore[return-value]
        time.sleep(0.3)


def test_the_reporter_gets_an_acknowledgement_that_threads_and_replies_come_back(
    smtp: None, tmp_path: Path
) -> None:
    engine = Engine.open(db=tmp_path / "ff.db", config=contract())
    report = EmailMessage()
    report["From"] = "王工 <ffmail@localhost>"
    report["Subject"] = "核心交换机宕机"
    report["Message-ID"] = f"<r{time.time_ns()}@czj.example>"
    report.set_content("全部科室断网")
    t = engine.intake("email", report.as_bytes(), "mailbox")
    engine.deliver(budget_s=30)
    (ack,) = delivered(f"[FF-{t.id}]")
    assert str(ack["Subject"]) == f"[FF-{t.id}] 已受理 received: 核心交换机宕机"
    assert ack["In-Reply-To"] == report["Message-ID"]
    assert ack["To"].addresses[0].display_name == "王工"  # a Chinese name, properly encoded
    reply = EmailMessage()
    reply["From"] = "王工 <ffmail@localhost>"
    reply["Subject"] = f"Re: {ack['Subject']}"
    reply["Message-ID"] = f"<re{time.time_ns()}@czj.example>"
    reply["In-Reply-To"] = ack["Message-ID"]
    reply.set_content("已重启，恢复正常")
    (noted,) = engine.intake_all("email", reply.as_bytes(), "mailbox")
    assert (noted.outcome, noted.ticket.id) == ("note", t.id)



def test_an_acknowledgement_read_back_is_not_taken_in_and_in_reply_to_alone_threads(
    smtp: None, tmp_path: Path
) -> None:
    """faultflow's own mail, read back (the fault mailbox among the recipients, a forward),
    opens nothing and adds nothing: it says it was sent by a program (RFC 3834). A reply that
    carries only In-Reply-To (a client that rewrote the subject to 回复：… and dropped the
    [FF-ID] tag and References) still threads to its ticket."""
    from faultflow import IntakeError

    engine = Engine.open(db=tmp_path / "ff.db", config=contract())
    report = EmailMessage()
    report["From"] = "王工 <ffmail@localhost>"
    report["Subject"] = "财务系统无法登录"
    report["Message-ID"] = f"<l{time.time_ns()}@czj.example>"
    report.set_content("整个科室都登不上")
    t = engine.intake("email", report.as_bytes(), "mailbox")
    engine.deliver(budget_s=30)
    (ack,) = delivered(f"[FF-{t.id}]")
    assert ack["Auto-Submitted"] == "auto-generated" and ack["X-Faultflow-Ticket"] == t.id
    before = len(engine.get(t.id).history)
    with pytest.raises(IntakeError, match="not a fault report: faultflow's own mail"):
        engine.intake_all("email", ack.as_bytes(), "mailbox")
    assert len(engine.get(t.id).history) == before and len(engine.list()) == 1
    reply = EmailMessage()
    reply["From"] = "王工 <ffmail@localhost>"
    reply["Subject"] = "回复：财务系统无法登录"
    reply["Message-ID"] = f"<lr{time.time_ns()}@czj.example>"
    reply["In-Reply-To"] = ack["Message-ID"]
    reply.set_content("现在可以了")
    (noted,) = engine.intake_all("email", reply.as_bytes(), "mailbox")
    assert (noted.outcome, noted.ticket.id) == ("note", t.id)
    assert len(engine.list()) == 1

def test_a_page_reaches_a_person_by_mail(smtp: None, tmp_path: Path, travel: Any) -> None:
    import pendulum
    from faultflow.duty.people import compile_people

    c = contract()
    people = compile_people(
        {
            "people": {"ff": {"name": "值班员", "email": "ffmail@localhost"}},
            "roles": {r: {"people": ["ff"]} for r in
                      ("duty-engineer", "customer-manager", "project-director")},
            "escalation": {"A": {"steps": [{"notify": ["duty-engineer"]}]}},
        },
        c,
    )  # fmt: skip
    engine = Engine.open(db=tmp_path / "ff.db", config=c, clock=pendulum.now, people=people)
    t = engine.intake("hotline", {"title": "政务云节点宕机", "tier": "A"}, "agent1")
    travel(minutes=16)
    engine.tick()
    (page,) = delivered(f"[FF-{t.id}] 升级")
    assert page["To"].addresses[0].addr_spec == "ffmail@localhost"
    assert "step 1 of 1" in page.get_content()
    delivery = [e for e in engine.history(t.id) if e.trigger == "delivered"]
    assert delivery and delivery[-1].data["ok"] is True


def test_the_handling_report_is_mailed_on_the_operators_word(
    smtp: None, tmp_path: Path, travel: Any
) -> None:
    from click.testing import CliRunner
    from faultflow.cli.app import cli

    db = tmp_path / "ff.db"
    config = tmp_path / "states.toml"
    config.write_text(
        default_contract_path().read_text(encoding="utf-8")
        + '\n[notifiers.mail]\nuse = "email"\nhost = "127.0.0.1"\nport = 25\ntls = "none"\n'
        'from = "运维服务台 <faultflow@localhost>"\nevents = ["escalation"]\n',
        encoding="utf-8",
    )
    engine = Engine.open(db=db, config=config)
    t = engine.intake("web", {"title": "OA 无法登录", "contact": "ffmail@localhost"}, "agent1")
    for step in ("respond", "remote", "resolve"):
        engine.advance(t.id, step, actor="li")
    done = CliRunner().invoke(
        cli, ["--db", str(db), "--config", str(config), "advance", t.id, "report", "--send",
              "--as", "li", "--json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    (mail,) = delivered(f"[FF-{t.id}] 故障处理报告")
    assert mail.get_body(("html",)) is not None and mail.get_body(("plain",)) is not None
    text = mail.get_body(("plain",)).get_content()
    assert f"# 故障处理报告 — {t.id}" in text  # in the contract's language
    sent = engine.history(t.id)[-1]
    assert sent.data["message_id"] == mail["Message-ID"]
    assert sent.data["handling_report_sent_to"] == "ffmail@localhost"
    said = f"handling report mailed to ffmail@localhost (Message-ID {mail['Message-ID']})"
    assert sent.note == said  # the note shown by show, the API and the board says it too


def test_a_report_that_cannot_be_sent_says_so_in_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from faultflow.cli.app import cli
    from test_http import free_port

    db = tmp_path / "ff.db"
    config = tmp_path / "states.toml"
    config.write_text(
        default_contract_path().read_text(encoding="utf-8")
        + f'\n[notifiers.mail]\nuse = "email"\nhost = "127.0.0.1"\nport = {free_port()}\n'
        'tls = "none"\nevents = ["escalation"]\n',
        encoding="utf-8",
    )
    engine = Engine.open(db=db, config=config)
    t = engine.intake("web", {"title": "x", "contact": "ffmail@localhost"}, "agent1")
    for step in ("respond", "remote", "resolve"):
        engine.advance(t.id, step, actor="li")
    base = ["--db", str(db), "--config", str(config)]
    done = CliRunner().invoke(cli, [*base, "advance", t.id, "report", "--send"])
    assert done.exit_code == 1
    assert done.stderr.startswith(f"error: the handling report of {t.id} was not sent (")
    assert done.stderr.count("\n") == 1
    assert engine.get(t.id).state == "reported"  # the step itself stands
    plain = CliRunner().invoke(cli, ["--db", str(db), "advance", t.id, "report", "--send"])
    assert plain.exit_code == 1  # already reported: refused before any mail


def test_a_report_merged_into_its_outage_hears_its_handling_report_by_mail(
    smtp: None, tmp_path: Path
) -> None:
    """One outage, many reports: the mail reporter's report closes with the outage's ticket and
    its reporter gets the outage's handling report, as an answer to the mail they sent."""
    engine = Engine.open(db=tmp_path / "ff.db", config=contract())
    parent = engine.intake("hotline", {"title": "核心交换机宕机", "tier": "A"}, "agent1")
    report = EmailMessage()
    report["From"] = "王工 <ffmail@localhost>"
    report["Subject"] = "全部科室断网"
    report["Message-ID"] = f"<m{time.time_ns()}@czj.example>"
    report.set_content("全部科室断网，请尽快处理")
    t = engine.intake("email", report.as_bytes(), "mailbox")
    engine.merge(t.id, parent.id, actor="li", reason="同一故障")
    for step in ("respond", "remote", "resolve"):
        engine.advance(parent.id, step, actor="li")
    engine.advance(parent.id, "report", actor="li", attach_report=True)
    engine.deliver(budget_s=30)
    (mail,) = delivered(f"[FF-{t.id}] 故障处理报告")
    assert mail["In-Reply-To"] == report["Message-ID"]
    text = mail.get_body(("plain",)).get_content()
    assert f"与工单 {parent.id} 为同一故障" in text
    assert f"故障处理报告 — {parent.id}" in text  # the outage's own report


def test_the_monthly_report_is_mailed_on_the_first_working_day(
    smtp: None, tmp_path: Path, travel: Any
) -> None:
    """[monthly] to: last month's service report reaches the customer's mailbox as a PDF, once,
    when the office opens on the first working day of the month."""
    import io
    import re
    import uuid

    import pendulum
    import pypdf

    marker = uuid.uuid4().hex[:8]  # this run's mail, whatever the mailbox holds from before
    seed = default_contract_path().read_text(encoding="utf-8")
    seed = re.sub(r'^name = "(.*)"$', rf'name = "\1 {marker}"', seed, count=1, flags=re.M)
    config = tmp_path / "mailed.toml"
    config.write_text(
        seed
        + '\n[monthly]\nto = ["ffmail@localhost"]\ncalendar = "office"\n'
        '\n[notifiers.mail]\nuse = "email"\nhost = "127.0.0.1"\nport = 25\ntls = "none"\n'
        'from = "运维服务台 <faultflow@localhost>"\nevents = ["escalation"]\n',
        encoding="utf-8",
    )
    engine = Engine.open(db=tmp_path / "ff.db", config=config, clock=pendulum.now)
    engine.intake("hotline", {"title": "核心交换机宕机", "tier": "A"}, "agent1")
    travel(days=30, minutes=-30)  # 1 April 08:30: the office opens
    assert engine.keep_monthly() == "2026-03"
    assert engine.keep_monthly() is None  # once
    (mail,) = delivered(marker)
    assert "月度运维服务报告" in str(mail["Subject"]) and "2026-03" in str(mail["Subject"])
    (part,) = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert part.get_filename() == "faultflow-2026-03.pdf"
    reader = pypdf.PdfReader(io.BytesIO(part.get_content()))
    assert "月度运维服务报告" in reader.pages[0].extract_text()
