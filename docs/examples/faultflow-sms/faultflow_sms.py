"""faultflow plugin ``sms``: faults reported by text message, and pages sent by text message.

Channel ``sms``: the gateway posts JSON {"id": "...", "from": "+86...", "text": "...",
"received": "ISO time"}.

Notifier ``sms``: each person an escalation step pages (the notification's ``people``, resolved
from the duty rosters of people.toml) who has a ``mobile`` gets one text, posted to the
gateway's HTTP API as {"to": "+86...", "text": "..."}. Configure it in the contract:

    [notifiers.sms]
    url = { env = "SMS_GATEWAY_URL" }
    events = ["escalation"]
"""

import json
import urllib.request

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


class SmsPager:
    name = "sms"

    def notify(self, notification, config):
        url = config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError('the sms notifier needs url = "http(s)://..." (the gateway)')
        text = f"[{notification.get('ticket')}] {notification.get('title', '')}: " + (
            notification.get("note") or notification.get("event", "")
        )
        for person in notification.get("people") or ():
            mobile = (person.get("contacts") or {}).get("mobile")
            if not mobile:
                continue  # reached another way (WeCom, e-mail); the page records how
            body = json.dumps({"to": mobile, "text": text[:300]}, ensure_ascii=False)
            request = urllib.request.Request(
                url, data=body.encode(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=float(config.get("timeout", 5))):
                pass  # a non-2xx answer raises: the delivery is retried with backoff


@hookimpl
def register_channels(register):
    register(Sms())


@hookimpl
def register_notifiers(register):
    register(SmsPager())
