"""``email``: an RFC 5322 message, read with the standard library.

Subject → title, From → reporter (and contact), Message-ID → external id (a message delivered
twice opens one ticket), Date → when the fault was reported, the text part → description.
Multipart messages and Chinese charsets (GB2312, GBK, GB18030, UTF-8, encoded-word headers) are
handled; a part whose declared charset is too narrow (GB2312 holding GBK characters, as mail
clients often send) is read as GB18030, its superset.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from faultflow import IntakeRecord, hookimpl
from faultflow.errors import IntakeError
from faultflow.ids import normalize_ticket_id
from faultflow.intake import MAX_TITLE, as_mapping, common_record, tier_from_keywords

_CHINESE = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}


class Email:
    name = "email"
    description = "e-mail: an RFC 5322 message (Subject, From, Message-ID, Date, text body)"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        if not isinstance(raw, Mapping | bytes | str):
            raise IntakeError(f"an e-mail is bytes or text, not {type(raw).__name__}")
        if isinstance(raw, Mapping) or _is_json(raw):
            # An operator or a form may report an e-mail fault by its common fields (SPEC §6).
            return common_record(as_mapping(raw), tier=config.get("default_tier"))
        try:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
            message = email.message_from_bytes(_wider_labels(data), policy=email.policy.default)
        except Exception as err:  # the parser is lenient; this is rare
            raise IntakeError(f"not an RFC 5322 message: {err}") from None
        if not isinstance(message, EmailMessage) or not message.keys():
            raise IntakeError("not an RFC 5322 message: no header fields")
        automatic = _automatic(message)
        if automatic is not None:  # never a fault report; taking it in would loop or clutter
            report = _delivery_report(message, automatic)
            if report is not None:  # a bounce or an auto-reply to faultflow's own mail
                return report
            raise IntakeError(f"not a fault report: {automatic}; it was not taken in")
        subject = _header(message, "Subject")
        body = _body(message)
        forwarded = _forwarded(message)
        extra: dict[str, Any] = {}
        if forwarded is not None:  # a fault report passed on as an attachment: keep it whole
            original, said = forwarded
            extra["forwarded"] = said
            subject = said["subject"] or subject
            body = "\n\n".join(
                x for x in (body.strip(), f"---- forwarded message from {said['from']} ----",
                            original.strip()) if x
            )  # fmt: skip
        title = subject or (body.splitlines()[0] if body.strip() else "")
        if not title.strip():
            raise IntakeError("Subject: missing, and the message has no text")
        sender = _header(message, "From")
        name, address = email.utils.parseaddr(sender)
        if not _ADDRESS.fullmatch(address):
            sender, name, address = _whole_address(message, sender, name, address)
        date = _header(message, "Date")
        occurred = None
        if date:
            try:
                occurred = parsedate_to_datetime(date)
            except (TypeError, ValueError):
                raise IntakeError(f"Date: cannot read {date!r}") from None
            if occurred.tzinfo is None:
                occurred = None  # "-0000": no zone known; take the time of intake instead
        keywords = config.get("keywords", {})
        tier = (
            tier_from_keywords(f"{subject}\n{body}", keywords)
            if isinstance(keywords, Mapping)
            else None
        )
        attachments = _attachments(message)
        if attachments:
            extra["attachments"] = attachments  # names and sizes; the contents are not kept
        replies = _message_ids(_header(message, "In-Reply-To")) + _message_ids(
            _header(message, "References")
        )
        tag = _TICKET_TAG.search(subject) or next(
            (m for r in replies if (m := _OUR_MESSAGE_ID.search(r))), None
        )
        return IntakeRecord(
            title=title.strip()[:MAX_TITLE],
            description=body.strip(),
            reporter=name or address or None,
            contact=address or None,
            tier=tier or config.get("default_tier"),
            external_id=_header(message, "Message-ID").strip("<> ") or None,
            occurred_at=occurred,
            data={"from": sender, "to": _header(message, "To"), **extra},
            replies_to=tuple(dict.fromkeys(replies)),
            # the [FF-ID] tag, or a reply to a mail faultflow sent (its Message-ID names the
            # ticket: In-Reply-To alone threads, whatever the client did to the subject)
            ticket_ref=normalize_ticket_id(tag[1]) if tag else None,
        )


_NARROW_LABEL = re.compile(rb"=\?(gb2312|gbk|x-gbk|cp936|euc-cn)\?", re.IGNORECASE)
_TICKET_TAG = re.compile(r"\[FF-([0-9A-Za-z]{7})\]")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
# faultflow's own Message-IDs: make_msgid("ff-ID") gives <time.pid.random.ff-ID@domain>
_OUR_MESSAGE_ID = re.compile(r"\.ff-([0-9A-Za-z]{7})@")
_BULK = {"bulk", "list", "junk"}


def _automatic(message: Any) -> str | None:
    """Why a message is not a person's report, or ``None``: faultflow's own mail (read back
    from a mailbox it also writes to), an automatic reply (out of office), a bounce, or bulk
    and list mail (RFC 3834; the headers Exchange and others use)."""
    if _header(message, "X-Faultflow-Ticket"):
        return "faultflow's own mail (X-Faultflow-Ticket)"
    submitted = _header(message, "Auto-Submitted").lower()
    if submitted and submitted != "no":
        return f"an automatic message (Auto-Submitted: {submitted})"
    precedence = _header(message, "Precedence").lower()
    if precedence in _BULK:
        return f"bulk or list mail (Precedence: {precedence})"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "an automatic reply (X-Autoreply)"
    suppress = _header(message, "X-Auto-Response-Suppress")
    if suppress and "oof" in suppress.lower() and _header(message, "X-MS-Exchange-Generated"):
        return "an out-of-office reply"
    if message.get_content_type() == "multipart/report" or (
        _header(message, "Return-Path").strip() == "<>"
    ):
        return "a delivery status report (a bounce)"
    return None


def _delivery_report(message: Any, why: str) -> IntakeRecord | None:
    """A bounce (a delivery status notification) of a mail faultflow sent, or an automatic
    reply (out of office) to one: what became of that mail, for its ticket's history — never a
    note, never a fault. ``None`` when it answers no mail of ours."""
    if why.startswith("faultflow's own"):
        return None
    if message.get_content_type() == "multipart/report" or why.startswith("a delivery status"):
        original = _returned_headers(message)
        ticket = _ticket_of(original) if original is not None else None
        ticket = ticket or _ticket_of(message)
        failed = _failed_recipients(message)
        said = ", ".join(f"{r} ({status})" for r, status in failed) or "a recipient"
        what = f"mail NOT delivered: bounced for {said}"
        kind = "bounced"
    elif "auto-replied" in why or why.startswith(("an automatic reply", "an out-of-office")):
        ticket = _ticket_of(message)
        what = f"automatic reply from {_header(message, 'From')}: {_header(message, 'Subject')}"
        kind = "auto-reply"
        failed = []
    else:
        return None  # a robot's mail (auto-generated), or list mail: no answer to ours
    if ticket is None:
        return None
    return IntakeRecord(
        title=what[:MAX_TITLE],
        external_id=_header(message, "Message-ID").strip("<> ") or None,
        ticket_ref=ticket,
        follow_up=True,
        data={
            "delivery": kind,
            "from": _header(message, "From"),
            **({"failed": [{"recipient": r, "status": s} for r, s in failed]} if failed else {}),
        },
    )


def _ticket_of(message: Any) -> str | None:
    """The ticket a mail of faultflow's names, or a reply to one refers to: its
    X-Faultflow-Ticket, its [FF-ID] subject tag, or one of our Message-IDs it carries or
    answers."""
    marked = _header(message, "X-Faultflow-Ticket")
    if marked and marked != "digest":
        return normalize_ticket_id(marked)
    tag = _TICKET_TAG.search(_header(message, "Subject"))
    if tag:
        return normalize_ticket_id(tag[1])
    for name in ("Message-ID", "In-Reply-To", "References"):
        for ref in _message_ids(_header(message, name)):
            found = _OUR_MESSAGE_ID.search(ref)
            if found:
                return normalize_ticket_id(found[1])
    return None


def _returned_headers(report: Any) -> Any:
    """The returned message (or its headers) of a delivery status notification (RFC 3464)."""
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                return inner[0]
        if kind == "text/rfc822-headers":
            return email.message_from_string(_decode(part), policy=email.policy.default)
    return None


def _failed_recipients(report: Any) -> list[tuple[str, str]]:
    """(recipient, status) of each recipient a delivery status notification says failed."""
    out = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for block in blocks if isinstance(blocks, list) else []:
            action = str(block.get("Action", "")).strip().lower()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            if action == "failed" and recipient:
                address = recipient.split(";", 1)[-1].strip()
                out.append((address, str(block.get("Status", "")).strip()))
    return out


def _wider_labels(raw: bytes) -> bytes:
    """Encoded words labelled GB2312 (or GBK) are read as GB18030, their superset: mail
    clients label GBK text GB2312, and a strict GB2312 decoder garbles it (王�遥). The whole
    message is read so: the headers of a forwarded message (``message/rfc822``) sit in the
    body, and decode like the outer ones (朱镕 in a forwarded From once read 赵�F)."""
    return _NARROW_LABEL.sub(b"=?gb18030?", raw)


def _message_ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value)


def _is_json(raw: bytes | str) -> bool:
    """Text that is a JSON object rather than a message (it starts with ``{``)."""
    head = raw[:64].lstrip()
    return head[:1] in (b"{", "{")


def _whole_address(message: Any, sender: str, name: str, address: str) -> tuple[str, str, str]:
    """A From header whose address sits inside an encoded word (``=?utf-8?b?...?=`` around
    ``name <addr>``, as some mailers write it): the header parser reads it all as a display
    name; decoded as text first, it gives the address back."""
    from email.header import decode_header, make_header

    raw = next((v for k, v in message.raw_items() if k.lower() == "from"), None)
    if not isinstance(raw, str):
        return sender, name, address
    try:
        text = str(make_header(decode_header(raw)))
    except (UnicodeDecodeError, LookupError, ValueError):
        return sender, name, address
    found_name, found = email.utils.parseaddr(text)
    return (text, found_name, found) if _ADDRESS.fullmatch(found) else (sender, name, address)


_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


def _header(message: Any, name: str) -> str:
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if isinstance(raw, str) and any("\udc80" <= c <= "\udcff" for c in raw):
        # raw 8-bit bytes in a header, as some clients send (no encoded word): read the bytes
        # as UTF-8 if they are, else as GB18030 — the parser would have replaced them with �
        text = raw
    else:
        try:
            value = message.get(name)
        except Exception:  # a header the policy cannot decode
            value = None
        if value is None:
            return ""
        text = str(value)
    if any("\udc80" <= c <= "\udcff" for c in text):
        data = text.encode("utf-8", "surrogateescape")
        for charset in ("utf-8", "gb18030"):
            try:
                text = data.decode(charset)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = data.decode("utf-8", "replace")
    return " ".join(text.split())


def _body(message: Any) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decode(part)
    if part.get_content_subtype() == "html":
        text = html_text(text)
    return text


def html_text(markup: str) -> str:
    """The text a reader sees in an HTML mail: no style, script or head; one line per block."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "head", "title", "noscript", "template"]):
        hidden.decompose()
    lines = (" ".join(line.split()) for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _forwarded(message: Any) -> tuple[str, dict[str, str]] | None:
    """The first message forwarded as an attachment (``message/rfc822``): its text, and its
    subject, sender and date."""
    for part in message.walk():
        if part.get_content_type() != "message/rfc822":
            continue
        inner = part.get_payload()
        original = inner[0] if isinstance(inner, list) and inner else inner
        if not hasattr(original, "get_body"):
            continue
        said = {k.lower(): _header(original, k) for k in ("Subject", "From", "Date")}
        return _body(original), said
    return None


def _attachments(message: Any) -> list[dict[str, Any]]:
    out = []
    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            continue  # a forwarded message: read above
        payload = part.get_payload(decode=True) or b""
        out.append(
            {
                "name": part.get_filename() or "(unnamed)",
                "type": part.get_content_type(),
                "size": len(payload),
            }
        )
    return out


def _decode(part: Any) -> str:
    charset = (part.get_content_charset() or "utf-8").lower()
    payload = part.get_payload(decode=True) or b""
    if charset in _CHINESE:
        charset = "gb18030"
    try:
        return str(payload.decode(charset))
    except (LookupError, UnicodeDecodeError):
        for fallback in ("utf-8", "gb18030"):
            try:
                return str(payload.decode(fallback))
            except UnicodeDecodeError:
                continue
        return str(payload.decode("utf-8", errors="replace"))


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(Email())
