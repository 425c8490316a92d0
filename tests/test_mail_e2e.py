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


def send(msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", 25, timeout=10) as s:
        s.send_message(msg)


def test_a_mail_through_postfix_to_a_ticket_its_reply_to_a_note_and_the_report_back(
    mail_system: int, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FF_E2E_IMAP_PASSWORD", PASSWORD)
    config = tmp_path / "states.toml"
    config.write_text(
        default_contract_path().read_text(encoding="utf-8")
        + f"""
[channels.email.imap]
host = "127.0.0.1"
port = {mail_system}
tls = "none"
user = "faults"
password = {{ env = "FF_E2E_IMAP_PASSWORD" }}

[notifiers.mail]
use = "email"
host = "127.0.0.1"
port = 25
tls = "none"
from = "运维服务台 <faults@localhost>"
events = ["transition"]
""",
        encoding="utf-8",
    )
    engine = Engine.open(db=tmp_path / "ff.db", config=config)
    box = configured(engine.contract)
    assert box is not None
    stamp = time.time_ns()
    report = EmailMessage()
    report["From"] = "王工 <ffmail@localhost>"
    report["To"] = "faults@localhost"
    report["Subject"] = f"财政局机房交换机宕机 {stamp}"
    report["Message-ID"] = f"<e2e-{stamp}@czj.example>"
    report.set_content("全部科室断网，请尽快处理")
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
    reply = EmailMessage()
    reply["From"] = "王工 <ffmail@localhost>"
    reply["To"] = "faults@localhost"
    reply["Subject"] = f"Re: {ack['Subject']}"
    reply["Message-ID"] = f"<e2e-re-{stamp}@czj.example>"
    reply["In-Reply-To"] = ack["Message-ID"]
    reply["References"] = f"{report['Message-ID']} {ack['Message-ID']}"
    reply.set_content("补充：3 楼机房也断了")
    send(reply)
    poll("the reply")
    history = engine.get(t.id).history
    assert history[-1].trigger == "note" and "3 楼机房也断了" in (history[-1].note or "")
    for step in ("respond", "remote", "resolve", "report"):
        engine.advance(t.id, step, actor="li")
    engine.send_handling_report(t.id, actor="li")
    (sent,) = delivered(f"[FF-{t.id}] 故障处理报告")
    assert sent.get_body(("html",)) is not None
