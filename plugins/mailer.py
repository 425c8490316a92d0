"""``email`` notifier: mail over SMTP — the reporter's acknowledgement, and pages to people.

Configuration (``[notifiers.NAME]`` with ``use = "email"``):

- ``host``, ``port`` (default 587 for ``starttls``, 465 for ``ssl``, 25 for ``none``),
  ``tls`` (``starttls`` | ``ssl`` | ``none``), ``user`` and ``password`` (``{ env = "..." }``)
  when the server wants a login, ``from`` (the sender address), ``timeout`` (s, default 10);
- ``to``: addresses that get every other notification (warnings, breaches), optional.

What is sent, by notification:

- a ticket opened through the ``email`` channel (``event = "intake"``): an acknowledgement to the
  reporter's address, subject ``[FF-ID] 已受理 received: TITLE`` and ``In-Reply-To`` the
  report's Message-ID, so that the reporter's mail client threads it, and replies come back
  (by the tag, or by References) as notes on the ticket;
- an escalation step (``event = "page"``): to each paged person's ``email``;
- a digest of what waited while the notifier's ``coalesce`` window was open (``kind =
  "digest"``): one mail to ``to``, a line per notification;
- anything else: to ``to``, if given.

A refused login or recipient is given up at once (:class:`faultflow.DeliveryRefused`); anything
else (a server away, a timeout) is retried with backoff.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape
from typing import Any

from faultflow import hookimpl
from faultflow.errors import DeliveryRefused


def _address(text: str | None) -> str | None:
    if not text:
        return None
    _, addr = parseaddr(text)
    return addr if "@" in addr else None


def _reporter(n: Mapping[str, Any]) -> list[Address | str]:
    """The ticket's reporter as a recipient (none when their contact is not an address)."""
    addr = _address(n.get("contact"))
    return [Address(display_name=n.get("reporter") or "", addr_spec=addr)] if addr else []


def message(n: Mapping[str, Any], config: Mapping[str, Any]) -> EmailMessage | None:
    """The mail for notification ``n``, or ``None`` when nobody is to get one."""
    ticket = n.get("ticket")
    # a header is one line: a title stored with a CR/LF (before intake made titles one line)
    # would make every mail of the ticket fail, and be retried for ever
    title = " ".join(str(n.get("title") or "").split())
    event = n.get("event")
    to: list[Address | str] = []
    reply_to_report = None
    html = None
    if event == "handling_report":  # P11: the customer's report, sent on the operator's word
        to = _reporter(n)
        subject = f"[FF-{ticket}] 故障处理报告 handling report: {title}"
        body = str(n.get("report_text", ""))
        html = n.get("report_html")
        link = n.get("followup_link")
        if link:  # the follow-up: the reporter rates the service on their tracking page
            said = "问题解决了吗？请为本次服务评分 / Was it solved? Rate the service"
            body += f"\n\n{said}: {link}\n"
            if html:
                html = str(html).replace("</body>", f'<p><a href="{escape(str(link))}">'
                                                     f"{said}</a></p></body>")  # fmt: skip
        reply_to_report = n.get("external_id") if n.get("channel") == "email" else None
    elif event == "follow" and n.get("channel") == "email" and n.get("handling_report"):
        # a report merged into its outage's ticket closed with it: its reporter gets the
        # outage's handling report, as an answer to the mail they reported it with
        to = _reporter(n)
        subject = f"[FF-{ticket}] 故障处理报告 handling report: {title}"
        body = (
            f"您报告的故障与工单 {n.get('parent')} 为同一故障，已随其处理完毕。\n"
            f"Your report was one outage with ticket {n.get('parent')}, handled with it.\n\n"
            f"{n.get('handling_report')}\n"
        )
        reply_to_report = n.get("external_id")
    elif event in ("intake", "planned") and n.get("channel") == "email" and not n.get("window"):
        # received (inside a maintenance window too); not again when the window's end opens it
        to = _reporter(n)
        subject = f"[FF-{ticket}] 已受理 received: {title}"
        body = (
            f"您报告的故障已受理，工单号 {ticket}。回复本邮件即可补充信息。\n"
            f"Your report was received as ticket {ticket}. Reply to this mail to add to it.\n\n"
            f"{title}\n级别 tier: {n.get('tier')}  负责人 owner: {n.get('owner')}\n"
        )
        manager = n.get("manager") or {}
        if manager.get("name"):
            reach = " ".join(str(manager[k]) for k in ("mobile", "email") if manager.get(k))
            body += f"对口客户经理 your customer manager: {manager['name']} {reach}".rstrip() + "\n"
        reply_to_report = n.get("external_id")
    elif event == "page":
        for person in n.get("people") or ():
            addr = (person.get("contacts") or {}).get("email")
            if addr:
                to.append(Address(display_name=person.get("name", ""), addr_spec=addr))
        subject = f"[FF-{ticket}] 升级 escalation: {title}"
        body = f"{n.get('note', '')}\n\n{title}\n级别 tier: {n.get('tier')}\n"
    elif event == "monthly_report":  # the month's service report, to the customer's people
        to = [str(a) for a in n.get("to") or ()]
        subject = f"月度运维服务报告 monthly service report: {title}"
        body = str(n.get("report_text", ""))
    elif n.get("kind") == "digest":
        to = list(config.get("to") or ())
        subject = f"faultflow 汇总 digest: {title}"
        body = f"{n.get('note') or ''}\n"
    else:
        to = list(config.get("to") or ())
        subject = f"[FF-{ticket}] {n.get('kind')}: {title}"
        body = f"{n.get('note') or ''}\n{title}\n"
    if not to:
        return None
    mail = EmailMessage()
    mail["From"] = str(config.get("from") or "faultflow@localhost")
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=True)
    sender_domain = str(mail["From"].addresses[0].domain or "localhost")
    mail["Message-ID"] = n.get("message_id") or make_msgid(
        f"ff-{ticket}" if ticket else "ff-digest", domain=sender_domain
    )
    if reply_to_report:
        mail["In-Reply-To"] = f"<{reply_to_report}>"
        mail["References"] = f"<{reply_to_report}>"
    # Sent by a program (RFC 3834): auto-responders do not answer it, and faultflow's own
    # mailbox poller does not take it in should it come back (a mailbox among the recipients)
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Faultflow-Ticket"] = str(ticket) if ticket else "digest"
    mail.set_content(body)
    if html:
        mail.add_alternative(str(html), subtype="html")
    attached = n.get("attachment")
    if isinstance(attached, bytes):
        mail.add_attachment(attached, maintype="application", subtype="pdf",
                            filename=str(n.get("filename") or "report.pdf"))  # fmt: skip
    return mail


class Mailer:
    name = "email"

    def notify(self, notification: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        mail = message(notification, config)
        if mail is None:
            return  # nobody to tell by mail
        host = config.get("host")
        if not isinstance(host, str) or not host:
            raise ValueError('the email notifier needs host = "smtp.example..." in its table')
        tls = str(config.get("tls", "starttls"))
        port = int(config.get("port", {"ssl": 465, "starttls": 587}.get(tls, 25)))
        timeout = float(config.get("timeout", 10))
        context = ssl.create_default_context()
        try:
            if tls == "ssl":
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=context
                )
            else:
                server = smtplib.SMTP(host, port, timeout=timeout)
            with server:
                if tls == "starttls":
                    server.starttls(context=context)
                if config.get("user"):
                    server.login(str(config["user"]), str(config.get("password", "")))
                server.send_message(mail)
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryRefused(f"the SMTP server refused the login: {err.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryRefused(f"recipients refused: {', '.join(err.recipients)}") from None


@hookimpl
def register_notifiers(register: Callable[[Any], None]) -> None:
    register(Mailer())
