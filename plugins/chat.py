"""``chat``: a message in the units' group chat, run by two customer managers.

Fields: ``message_id``, ``sender``, ``group``, ``text``, ``time`` (ISO 8601 or Unix seconds).
The tier comes from the keywords of ``[channels.chat] keywords`` in the contract (first tier
whose keyword occurs in the text), otherwise C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.errors import IntakeError
from faultflow.intake import as_mapping, moment_field, text_field, tier_from_keywords


class GroupChat:
    name = "chat"
    description = "the units' group chat: a message (message_id, sender, group, text, time)"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        message = as_mapping(raw)
        body = (
            text_field(message, "text")
            or text_field(message, "description")
            or text_field(message, "title")
        )
        if not body:
            raise IntakeError("text: missing (the chat message is empty)")
        keywords = config.get("keywords", {})
        if not isinstance(keywords, Mapping):
            raise IntakeError("[channels.chat] keywords must be a table of tier = [words]")
        return common_record(
            message,
            description=body,
            reporter=text_field(message, "sender"),
            external_id=text_field(message, "message_id"),
            occurred_at=moment_field(message, "time"),
            tier=tier_from_keywords(body, keywords) or config.get("default_tier"),
        )


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(GroupChat())
