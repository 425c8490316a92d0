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
import html
import re
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from faultflow import IntakeRecord, hookimpl
from faultflow.errors import IntakeError
from faultflow.intake import MAX_TITLE, as_mapping, common_record, tier_from_keywords

_CHINESE = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"}
_TAG = re.compile(r"<[^>]+>")


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
            message = (
                email.message_from_bytes(raw, policy=email.policy.default)
                if isinstance(raw, bytes)
                else email.message_from_string(raw, policy=email.policy.default)
            )
        except Exception as err:  # the parser is lenient; this is rare
            raise IntakeError(f"not an RFC 5322 message: {err}") from None
        if not isinstance(message, EmailMessage) or not message.keys():
            raise IntakeError("not an RFC 5322 message: no header fields")
        subject = _header(message, "Subject")
        body = _body(message)
        title = subject or (body.splitlines()[0] if body.strip() else "")
        if not title.strip():
            raise IntakeError("Subject: missing, and the message has no text")
        sender = _header(message, "From")
        name, address = email.utils.parseaddr(sender)
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
        return IntakeRecord(
            title=title.strip()[:MAX_TITLE],
            description=body.strip(),
            reporter=name or address or None,
            contact=address or None,
            tier=tier or config.get("default_tier"),
            external_id=_header(message, "Message-ID").strip("<> ") or None,
            occurred_at=occurred,
            data={"from": sender, "to": _header(message, "To")},
        )


def _is_json(raw: bytes | str) -> bool:
    """Text that is a JSON object rather than a message (it starts with ``{``)."""
    head = raw[:64].lstrip()
    return head[:1] in (b"{", "{")


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot decode
        value = None
    return " ".join(str(value).split()) if value is not None else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decode(part)
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub(" ", text))
    return text


def _decode(part: Any) -> str:
    charset = (part.get_content_charset() or "utf-8").lower()
    payload = part.get_payload(decode=True) or b""
    if charset in _CHINESE:
        charset = "gb18030"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        for fallback in ("utf-8", "gb18030"):
            try:
                return payload.decode(fallback)
            except UnicodeDecodeError:
                continue
        return payload.decode("utf-8", errors="replace")


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(Email())
