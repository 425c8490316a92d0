"""What a channel adapter hands the engine: a validated :class:`IntakeRecord`.

Every adapter accepts the common JSON fields of SPEC §6 (``title``, ``description``,
``reporter``, ``contact``, ``tier``, ``kind``, ``cause``, ``external_id``, ``occurred_at``);
:func:`common_record` reads them, so an adapter only adds what its own format carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .errors import IntakeError

COMMON_FIELDS = (
    "title",
    "description",
    "reporter",
    "contact",
    "tier",
    "kind",
    "cause",
    "external_id",
    "occurred_at",
)
MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class IntakeRecord:
    """A fault as a channel reported it, before the engine classifies and stores it.

    ``tier``/``kind`` left ``None`` take the contract's defaults; ``occurred_at`` (when the fault
    was reported, e.g. the start of the hotline call) starts the response clock; ``data`` keeps
    what else the channel knew, for the history. A ``follow_up`` record (an alert that resolved)
    never opens a ticket: it becomes a note on the ticket with the same ``external_id``.

    ``incident`` tells one incident of an ``external_id`` from another (an alert's
    ``startsAt``: the fingerprint stays the same for ever): a record of a new incident opens a
    ticket that recurs the earlier one. ``where`` names the item in a payload with several
    (``alerts[2]``), for refusals. A reply names what it answers: ``replies_to`` (external ids
    of the channel, e.g. the Message-IDs of In-Reply-To and References) or ``ticket_ref`` (a
    ticket id, e.g. a ``[FF-7K3Q9XM]`` tag in a subject); it becomes a note on that ticket.
    """

    title: str
    description: str = ""
    reporter: str | None = None
    contact: str | None = None
    tier: str | None = None
    kind: str | None = None
    cause: str | None = None
    external_id: str | None = None
    occurred_at: datetime | str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    follow_up: bool = False
    incident: str | None = None
    where: str | None = None
    replies_to: tuple[str, ...] = ()
    ticket_ref: str | None = None
    group: str | None = None
    group_title: str | None = None

    def with_defaults(self, **values: Any) -> IntakeRecord:
        """A copy where the given fields are filled in only if they are still empty."""
        fill = {k: v for k, v in values.items() if getattr(self, k) in (None, "")}
        return replace(self, **fill) if fill else self


def as_mapping(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A payload as a JSON object: a mapping as it is, text or bytes parsed as JSON."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise IntakeError(
                f"payload is not UTF-8 text: {err.reason} at byte {err.start}"
            ) from None
    if not isinstance(raw, str):
        raise IntakeError(
            f"payload must be JSON text, bytes or a mapping, not {type(raw).__name__}"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise IntakeError(
            f"payload is not JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    if not isinstance(value, dict):
        raise IntakeError(f"payload must be a JSON object, not {type(value).__name__}")
    return value


def text_field(
    payload: Mapping[str, Any], name: str, *, required: bool = False, limit: int | None = None
) -> str | None:
    """A string field of the payload, stripped; ``None`` if absent or empty."""
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise IntakeError(f"{name}: missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeError(f"{name}: must be text, not {type(value).__name__}")
    text = str(value).strip()
    if not text:
        if required:
            raise IntakeError(f"{name}: empty")
        return None
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def common_record(payload: Mapping[str, Any], **defaults: Any) -> IntakeRecord:
    """Read the common fields of SPEC §6 from a JSON object.

    The title falls back to the first line of the description; one of them is required.
    ``defaults`` fill fields the payload leaves empty (an adapter's own reading).
    """
    if not isinstance(payload, Mapping):
        raise IntakeError(f"payload must be a JSON object, not {type(payload).__name__}")
    description = text_field(payload, "description") or defaults.pop("description", None) or ""
    title = text_field(payload, "title", limit=MAX_TITLE) or defaults.pop("title", None)
    if not title and description:
        title = description.splitlines()[0][:MAX_TITLE]
    if not title:
        raise IntakeError("title: missing (give a title or a description)")
    occurred = payload.get("occurred_at")
    if occurred is not None and not isinstance(occurred, str | datetime):
        raise IntakeError(f"occurred_at: must be an ISO 8601 time, not {type(occurred).__name__}")
    record = IntakeRecord(
        title=title,
        description=description,
        reporter=text_field(payload, "reporter"),
        contact=text_field(payload, "contact"),
        tier=text_field(payload, "tier"),
        kind=text_field(payload, "kind"),
        cause=text_field(payload, "cause"),
        external_id=text_field(payload, "external_id", limit=200),
        occurred_at=occurred or None,
        data={k: v for k, v in payload.items() if k not in COMMON_FIELDS and _jsonable(v)},
    )
    return record.with_defaults(**defaults) if defaults else record


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def tier_from_keywords(text: str, keywords: Mapping[str, Any]) -> str | None:
    """The first tier (in the order given) one of whose keywords occurs in ``text``."""
    lowered = text.lower()
    for tier, words in keywords.items():
        if isinstance(words, str):
            words = [words]
        if any(isinstance(w, str) and w and w.lower() in lowered for w in words or ()):
            return tier
    return None


def moment_field(payload: Mapping[str, Any], name: str) -> str | datetime | None:
    """A time field: ISO 8601 text as it is, or Unix seconds (as chat systems send) converted."""
    value = payload.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise IntakeError(f"{name}: must be a time, not a boolean")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise IntakeError(f"{name}: {value} is not a time (Unix seconds)") from None
    if isinstance(value, str):
        return value.strip()
    raise IntakeError(f"{name}: must be an ISO 8601 time, not {type(value).__name__}")
