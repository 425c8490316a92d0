"""faultflow channel ``sms``: a fault reported by text message, as an SMS gateway posts it.

The gateway sends JSON: {"id": "...", "from": "+86...", "text": "...", "received": "ISO time"}.
"""

from faultflow import IntakeRecord, hookimpl
from faultflow.errors import IntakeError
from faultflow.intake import as_mapping, text_field, tier_from_keywords


class Sms:
    name = "sms"
    description = "SMS gateway: one text message per fault (tier from keywords)"

    def parse(self, raw, config):
        message = as_mapping(raw)  # bytes, text or a dict; refuses what is not a JSON object
        text = text_field(message, "text")
        if not text:
            raise IntakeError("text: missing (an empty message reports nothing)")
        return IntakeRecord(
            title=text.splitlines()[0][:80],
            description=text,
            reporter=text_field(message, "from"),
            contact=text_field(message, "from"),
            tier=tier_from_keywords(text, config.get("keywords", {})) or "C",
            external_id=text_field(message, "id"),  # a resent SMS opens no second ticket
            occurred_at=text_field(message, "received"),
        )


@hookimpl
def register_channels(register):
    register(Sms())
