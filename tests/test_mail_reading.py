"""E-mail as clients really write it: GBK text labelled GB2312, raw 8-bit headers, HTML-only
mail, a report forwarded as an attachment, attachments; and replies that thread back onto their
ticket instead of opening a new one."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import parseaddr
from typing import Any

import pytest
from conftest import snapshot
from faultflow import Engine

# 镕 is in GBK but not in GB2312: a strict GB2312 decoder garbles it, as seen in the field.
SUBJECT = "朱镕路机房交换机宕机"


def word(text: str, charset: str, codec: str | None = None) -> bytes:
    """An RFC 2047 encoded word: ``text`` encoded with ``codec``, labelled ``charset``."""
    payload = base64.b64encode(text.encode(codec or charset))
    return b"=?" + charset.encode() + b"?b?" + payload + b"?="


def test_gbk_text_labelled_gb2312_reads_right_in_the_subject(engine: Engine) -> None:
    mail = (
        b"From: " + word("王工", "gb2312", "gbk") + b" <wang@czj.example>\r\n"
        b"Subject: " + word(SUBJECT, "gb2312", "gbk") + b"\r\n"
        b"Message-ID: <gbk-1@czj.example>\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\n\r\n" + "请尽快处理镕".encode("gbk")
    )
    t = engine.intake("email", mail, "agent1")
    assert t.title == SUBJECT and t.reporter == "王工"
    assert t.description == "请尽快处理镕"


def test_raw_8bit_headers_in_utf8_and_in_gbk(engine: Engine) -> None:
    for i, codec in enumerate(("utf-8", "gbk")):
        mail = (
            b"From: it@czj.example\r\nSubject: " + SUBJECT.encode(codec) + b"\r\n"
            b"Message-ID: <raw-" + str(i).encode() + b"@czj.example>\r\n\r\nbody\r\n"
        )
        assert engine.intake("email", mail, "agent1").title == SUBJECT


def test_an_address_inside_an_encoded_word_is_still_the_sender(engine: Engine) -> None:
    # some mailers encode "name <addr>" whole: the parser reads it all as a name
    whole = base64.b64encode("长葛市财政局 <it@czj.example>".encode()).decode()
    mail = (
        f"From: =?utf-8?b?{whole}?=\r\nSubject: net down\r\n"
        "Message-ID: <whole@czj.example>\r\n\r\nbody\r\n"
    ).encode()
    t = engine.intake("email", mail, "agent1")
    assert (t.contact, t.reporter) == ("it@czj.example", "长葛市财政局")


def test_an_html_only_mail_reads_as_its_text_without_style_or_script(engine: Engine) -> None:
    msg = MIMEText(
        "<html><head><style>p { color: red; } .x { display:none }</style>"
        "<script>var tracking = 1;</script></head><body><p>OA 系统&nbsp;无法登录</p>"
        "<div>影响全部科室<br>请尽快处理</div></body></html>",
        "html",
        "utf-8",
    )
    msg["From"], msg["Subject"], msg["Message-ID"] = "it@czj.example", "OA down", "<h-1@x>"
    t = engine.intake("email", msg.as_bytes(), "agent1")
    assert t.description == "OA 系统 无法登录\n影响全部科室\n请尽快处理"
    assert "color" not in t.description and "tracking" not in t.description


def test_a_report_forwarded_as_an_attachment_keeps_the_original(engine: Engine) -> None:
    original = EmailMessage()  # as a client writes it: the name as an encoded word
    original.set_content("机房空调停机，温度 38 度", charset="gb18030")
    original["From"] = "市卫健委 <xxk@wjw.example>"
    original["Subject"] = "机房温度过高"
    original["Date"] = "Mon, 02 Mar 2026 08:10:00 +0800"
    outer = EmailMessage()  # "forward as attachment", as Thunderbird and Outlook do
    outer["From"], outer["Subject"], outer["Message-ID"] = "desk@om.example", "Fwd:", "<f-1@x>"
    outer.set_content("转给你们处理")
    outer.add_attachment(original)
    t = engine.intake("email", outer.as_bytes(), "agent1")
    assert t.title == "机房温度过高"
    assert "转给你们处理" in t.description and "机房空调停机，温度 38 度" in t.description
    said = t.history[0].data["channel_data"]["forwarded"]
    assert parseaddr(said["from"]) == ("市卫健委", "xxk@wjw.example")
    assert said["subject"] == "机房温度过高"


def test_attachments_are_recorded_by_name_and_size_not_kept(engine: Engine) -> None:
    msg = MIMEMultipart()
    msg["From"], msg["Subject"], msg["Message-ID"] = "it@czj.example", "photo", "<a-1@x>"
    msg.attach(MIMEText("see the photo", "plain", "utf-8"))
    image = MIMEApplication(b"\x89PNG" + b"\0" * 2044, "png")
    image.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "机柜.png"))
    msg.attach(image)
    t = engine.intake("email", msg.as_bytes(), "agent1")
    assert t.history[0].data["channel_data"]["attachments"] == [
        {"name": "机柜.png", "type": "application/png", "size": 2048}
    ]
    assert "PNG" not in t.history[0].data["channel_data"].__repr__()


def mail(subject: str, message_id: str, body: str = "请处理", **headers: str) -> bytes:
    """A plain mail from a reporter, as a client writes it (headers: In_Reply_To=...)."""
    msg = EmailMessage()
    msg["From"] = "王工 <wang@czj.example>"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_a_reply_threads_back_as_a_note(engine: Engine, db_path: Any) -> None:
    (first,) = engine.intake_all("email", mail("交换机宕机", "m1@czj.example"), "agent1")
    tid = first.ticket.id
    reply = mail("Re: 交换机宕机", "m2@czj.example", "已重启，恢复正常",
                  In_Reply_To="<m1@czj.example>", References="<m1@czj.example>")  # fmt: skip
    (noted,) = engine.intake_all("email", reply, "agent1")
    assert (noted.outcome, noted.ticket.id) == ("note", tid)
    assert "已重启，恢复正常" in (noted.ticket.history[-1].note or "")
    before = snapshot(db_path)
    (again,) = engine.intake_all("email", reply, "agent1")  # the same reply delivered twice
    assert (again.outcome, again.ticket.id) == ("duplicate", tid)
    assert snapshot(db_path) == before
    tagged = mail(f"Re: [FF-{tid}] 进展", "m3@other.example", "还需要备件吗？")
    (by_tag,) = engine.intake_all("email", tagged, "agent1")
    assert (by_tag.outcome, by_tag.ticket.id) == ("note", tid)
    assert len(engine.list()) == 1


def test_a_reply_to_a_closed_ticket_follows_the_channel_rule(engine: Engine, travel: Any) -> None:
    (first,) = engine.intake_all("email", mail("OA 慢", "c1@x"), "agent1")
    for step in ("respond", "remote", "resolve", "report"):
        travel(minutes=2)
        engine.advance(first.ticket.id, step, actor="li")
    reply = mail("Re: OA 慢", "c2@x", "又慢了", In_Reply_To="<c1@x>")
    (again,) = engine.intake_all("email", reply, "agent1")
    assert again.outcome == "recurrence" and again.ticket.recurs == first.ticket.id



@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Auto_Submitted": "auto-replied"}, "an automatic message (Auto-Submitted: auto-replied)"),
        ({"Precedence": "bulk"}, "bulk or list mail (Precedence: bulk)"),
        ({"X_Autoreply": "yes"}, "an automatic reply"),
        ({"Return_Path": "<>"}, "a delivery status report (a bounce)"),
        ({"X_Faultflow_Ticket": "ABCDEFG"}, "faultflow's own mail"),
    ],
)
def test_automatic_mail_is_not_a_fault_report(
    engine: Engine, db_path: Any, headers: dict[str, str], why: str
) -> None:
    """Out-of-office replies, bounces, list mail and faultflow's own mail open nothing and add
    nothing (a mail loop once added 13 notes in 30 s): refused in one line saying why."""
    from faultflow import IntakeError

    before = snapshot(db_path)
    with pytest.raises(IntakeError, match=re.escape(f"not a fault report: {why}")):
        engine.intake_all("email", mail("自动回复：我正在休假", "auto@czj", "下周一回", **headers))
    assert snapshot(db_path) == before
    people = mail("Re: 交换机", "person@czj", "已处理", Auto_Submitted="no")
    assert engine.intake_all("email", people)[0].outcome == "opened"  # "no": a person wrote it


def test_a_bounce_report_is_not_a_fault_report(engine: Engine) -> None:
    from email.mime.multipart import MIMEMultipart as Multi

    from faultflow import IntakeError

    bounce = Multi("report", report_type="delivery-status")
    bounce["From"] = "MAILER-DAEMON@localhost"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = "<bounce1@localhost>"
    bounce.attach(MIMEText("The mail system: host said 550 no such user", "plain"))
    with pytest.raises(IntakeError, match="a delivery status report"):
        engine.intake_all("email", bounce.as_bytes())


POSTFIX_BOUNCE = """\
Return-Path: <>
From: MAILER-DAEMON@mail.czj.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: faultflow@czj.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4A1C2180.1733470000/mail.czj.example"
Message-Id: <20261206073000.4A1C2180@mail.czj.example>

This is a MIME-encapsulated message.

--4A1C2180.1733470000/mail.czj.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.czj.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@czj.example>: unknown user: "nobody"

--4A1C2180.1733470000/mail.czj.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.czj.example
X-Postfix-Queue-ID: 4A1C2180
Arrival-Date: Sun,  6 Dec 2026 15:30:00 +0800 (CST)

Final-Recipient: rfc822; nobody@czj.example
Original-Recipient: rfc822;nobody@czj.example
Action: failed
Status: 5.1.1
Diagnostic-Code: X-Postfix; unknown user: "nobody"

--4A1C2180.1733470000/mail.czj.example
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: faultflow@czj.example
To: nobody@czj.example
Subject: [FF-{tid}] breach: core switch down
Message-ID: <176500.1234.5678.ff-{tid}@czj.example>
Auto-Submitted: auto-generated
X-Faultflow-Ticket: {tid}

response: breached

--4A1C2180.1733470000/mail.czj.example--
"""


def test_a_bounce_of_our_mail_is_its_failed_delivery_on_the_ticket(
    engine: Engine, db_path: Any
) -> None:
    """Postfix's bounce of a mail faultflow sent: a `delivered` event (NOT delivered, to whom,
    why) on the ticket it was about — not a note, not a fault; the same bounce twice, once."""
    (first,) = engine.intake_all("email", mail("交换机宕机", "m1@czj.example"), "agent1")
    tid = first.ticket.id
    bounce = POSTFIX_BOUNCE.replace("{tid}", tid).encode()
    (done,) = engine.intake_all("email", bounce, "mailbox")
    assert (done.outcome, done.ticket.id) == ("note", tid)
    last = engine.get(tid).history[-1]
    assert last.trigger == "delivered"
    assert last.note == "email: mail NOT delivered: bounced for nobody@czj.example (5.1.1)"
    assert len(engine.list()) == 1
    before = snapshot(db_path)
    (again,) = engine.intake_all("email", bounce, "mailbox")
    assert again.outcome == "duplicate" and snapshot(db_path) == before


def test_an_out_of_office_reply_to_our_mail_is_a_delivery_event(engine: Engine) -> None:
    (first,) = engine.intake_all("email", mail("OA 无法登录", "m1@czj.example"), "agent1")
    tid = first.ticket.id
    away = mail(
        f"自动回复: [FF-{tid}] 已受理 received: OA 无法登录", "oof1@czj.example",
        "我正在休假，下周一回", Auto_Submitted="auto-replied",
        In_Reply_To=f"<176500.1.2.ff-{tid}@czj.example>",
    )  # fmt: skip
    (done,) = engine.intake_all("email", away, "mailbox")
    assert done.ticket.id == tid
    history = engine.get(tid).history
    assert history[-1].trigger == "delivered" and "automatic reply from" in (history[-1].note or "")
    assert [e.trigger for e in history].count("note") == 0  # not a note an operator must read


def test_a_forwarded_messages_gb2312_labelled_headers_read_as_gb18030(engine: Engine) -> None:
    """The headers of a message forwarded as an attachment decode like the outer ones: 镕 (GBK,
    not GB2312) in its From once read 赵�F."""
    inner = (
        b"From: " + word("朱镕", "gb2312", "gbk") + b" <zhu@czj.example>\r\n"
        b"Subject: " + word(SUBJECT, "gb2312", "gbk") + b"\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\n\r\n" + "请尽快处理".encode("gbk")
    )
    outer = (
        b"From: desk@om.example\r\nSubject: Fwd:\r\nMessage-ID: <fw-gb@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "转发".encode() + b"\r\n--b1\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b1--\r\n"
    )
    t = engine.intake("email", outer, "agent1")
    said = t.history[0].data["channel_data"]["forwarded"]
    assert parseaddr(said["from"])[0] == "朱镕" and said["subject"] == SUBJECT
    assert t.title == SUBJECT
