"""Mail end to end, all real: a reporter's mail goes through Postfix into the fault mailbox, the
poller reads it from Dovecot and opens a ticket, the acknowledgement reaches the reporter through
Postfix, the reply to it comes back as a note, and the handling report arrives in the reporter's
mailbox. Local accounts ``faults`` (the fault mailbox) and ``ffmail`` (a reporter) are made by
.ci/run, which also sets up Postfix and installs Dovecot."""

from __future__ import annotations

import os
import pwd
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from dovecot import PASSWORD, dovecot
from dovecot import usable as dovecot_usable
from faultflow import Engine
from faultflow.contract.compile import default_contract_path
from faultflow.run.mailbox import configured, fetch
from test_mail_out import _postfix, delivered


def _accounts() -> bool:
    try:
        pwd.getpwnam("faults")
        pwd.getpwnam("ffmail")
    except KeyError:
        return False
    return True


@pytest.fixture
def mail_system() -> Any:
    if not (dovecot_usable() and _postfix() and _accounts()):
        if os.environ.get("CI"):
            pytest.fail("CI must run the mail end-to-end test: see .ci/run (Postfix, Dovecot)")
        pytest.skip("needs Postfix on 127.0.0.1:25, Dovecot, root, and the faults/ffmail accounts")
    with dovecot(system_users=("faults", "ffmail")) as port:
        yield port


def reporter_mail(
    subject: str, message_id: str, body: str, to: str = "faults@localhost", **headers: str
) -> EmailMessage:
    """A mail from the reporter (the ffmail account), as a client writes it; ``headers`` by
    their names with ``_`` for ``-`` (``In_Reply_To=...``)."""
    msg = EmailMessage()
    msg["From"] = "王工 <ffmail@localhost>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}@czj.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", 25, timeout=10) as s:
        s.send_message(msg)


def _contract(tmp_path: Path, port: int, to: str = "", user: str = "faults") -> Path:
    """The seed contract reading the fault mailbox (``user``'s) on the private Dovecot at
    ``port``, and mailing through Postfix as it (``to``: a TOML list for the notifier's
    ``to``)."""
    config = tmp_path / "states.toml"
    config.write_text(
        default_contract_path().read_text(encoding="utf-8")
        + f"""
[channels.email.imap]
host = "127.0.0.1"
port = {port}
tls = "none"
user = "{user}"
password = {{ env = "FF_E2E_IMAP_PASSWORD" }}

[notifiers.mail]
use = "email"
host = "127.0.0.1"
port = 25
tls = "none"
from = "运维服务台 <{user}@localhost>"
events = ["transition"]
{f"to = {to}" if to else ""}
""",
        encoding="utf-8",
    )
    return config


def test_a_mail_through_postfix_to_a_ticket_its_reply_to_a_note_and_the_report_back(
    mail_system: int, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FF_E2E_IMAP_PASSWORD", PASSWORD)
    config = _contract(tmp_path, mail_system)
    engine = Engine.open(db=tmp_path / "ff.db", config=config)
    box = configured(engine.contract)
    assert box is not None
    stamp = time.time_ns()
    report = reporter_mail(
        f"财政局机房交换机宕机 {stamp}", f"e2e-{stamp}", "全部科室断网，请尽快处理"
    )
    send(report)

    def poll(what: str) -> Any:
        deadline = time.monotonic() + 30
        while True:
            done = fetch(lambda raw: engine.intake_all("email", raw, "mailbox"), box)
            if done.read:
                return done
            assert time.monotonic() < deadline, f"the poller never saw {what}"
            time.sleep(0.5)

    poll("the report")
    (t,) = [t for t in engine.list() if str(stamp) in t.title]
    engine.deliver(budget_s=30)  # the acknowledgement
    (ack,) = delivered(f"[FF-{t.id}]")
    assert ack["In-Reply-To"] == report["Message-ID"]
    reply = reporter_mail(
        f"Re: {ack['Subject']}", f"e2e-re-{stamp}", "补充：3 楼机房也断了",
        In_Reply_To=ack["Message-ID"], References=f"{report['Message-ID']} {ack['Message-ID']}",
    )  # fmt: skip
    send(reply)
    poll("the reply")
    history = engine.get(t.id).history
    assert history[-1].trigger == "note" and "3 楼机房也断了" in (history[-1].note or "")
    for step in ("respond", "remote", "resolve", "report"):
        engine.advance(t.id, step, actor="li")
    engine.send_handling_report(t.id, actor="li")
    (sent,) = delivered(f"[FF-{t.id}] 故障处理报告")
    assert sent.get_body(("html",)) is not None


def test_own_mail_bounces_out_of_office_and_poison_never_loop_nor_block(
    mail_system: int, tmp_path: Path, monkeypatch: Any
) -> None:
    """The fault mailbox is among the notifier's own `to`, beside an address that does not
    exist: faultflow's copy comes back and is refused (no loop), Postfix's bounce becomes the
    failed delivery on the ticket, a reporter's out-of-office reply a delivery event, a reply
    with In-Reply-To alone a note, and a multipart without a boundary blocks nothing."""
    monkeypatch.setenv("FF_E2E_IMAP_PASSWORD", PASSWORD)
    to = '["faults@localhost", "nobody-here@localhost"]'
    engine = Engine.open(db=tmp_path / "ff.db", config=_contract(tmp_path, mail_system, to))
    box = configured(engine.contract)
    assert box is not None
    _, refused_before = engine.mail_tally()
    stamp = time.time_ns()
    # a mail no parser can split (multipart, no boundary), then a real report after it
    with smtplib.SMTP("127.0.0.1", 25, timeout=10) as s:
        s.sendmail(
            "ffmail@localhost", ["faults@localhost"],
            (f"From: ffmail@localhost\r\nTo: faults@localhost\r\nSubject: poison {stamp}\r\n"
             f"Message-ID: <poison-{stamp}@czj.example>\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed\r\n\r\n--\r\nno boundary at all\r\n").encode(),
        )  # fmt: skip
    send(reporter_mail(f"档案馆 OA 无法登录 {stamp}", f"loop-{stamp}", "全员无法登录"))

    def read_all(until: Any, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            fetch(lambda raw: engine.intake_all("email", raw, "mailbox"), box)
            engine.deliver(budget_s=10)
            assert time.monotonic() < deadline, "timed out reading the fault mailbox"
            time.sleep(0.5)

    def ours() -> list[Any]:
        return [t for t in engine.list() if str(stamp) in t.title and "poison" not in t.title]

    read_all(lambda: len(ours()) == 1)
    (t,) = ours()
    engine.advance(t.id, "respond", actor="li")  # a transition: mailed to the `to` list

    def delivered_events() -> list[Any]:
        return [e for e in engine.get(t.id).history if e.trigger == "delivered"]

    read_all(lambda: any("NOT delivered" in (e.note or "") for e in delivered_events()))
    (bounced,) = [e for e in delivered_events() if "NOT delivered" in (e.note or "")]
    assert "nobody-here@localhost" in (bounced.note or "")
    # the acknowledgement's out-of-office answer, and a reply that threads by In-Reply-To alone
    (ack,) = delivered(f"[FF-{t.id}] 已受理")
    send(
        reporter_mail(
            f"自动回复: {ack['Subject']}", f"oof-{stamp}", "我正在休假，下周一回来。",
            In_Reply_To=ack["Message-ID"], Auto_Submitted="auto-replied",
        )
    )  # fmt: skip
    # no tag in the subject (the client dropped it): In-Reply-To alone threads it
    send(
        reporter_mail(
            "Re: 登录问题", f"reply-{stamp}", "补充：只有档案科", In_Reply_To=ack["Message-ID"]
        )
    )
    read_all(
        lambda: any("automatic reply" in (e.note or "") for e in delivered_events())
        and any(e.trigger == "note" for e in engine.get(t.id).history)
    )
    # keep the mailbox running a while: faultflow's own copies come back and go nowhere
    settle = time.monotonic() + 8
    while time.monotonic() < settle:
        fetch(lambda raw: engine.intake_all("email", raw, "mailbox"), box)
        engine.deliver(budget_s=10)
        time.sleep(0.5)
    history = engine.get(t.id).history
    notes = [e for e in history if e.trigger == "note"]
    assert len(notes) == 1 and "只有档案科" in (notes[0].note or "")
    # two mails went to the `to` list (the respond step, the note): two bounces, no more —
    # recording a bounce announces nothing, so it cannot bounce in its turn
    assert len([e for e in delivered_events() if "NOT delivered" in (e.note or "")]) == 2
    assert len(ours()) == 1  # no ticket from our own mail, the bounce or the auto-reply
    assert engine.mail_tally()[1] >= refused_before + 2  # our own copies, counted (/metrics)

