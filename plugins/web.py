"""``web``: the web form and the reporting portal — any fault; its tier from the answer to "is
the business stopped?" (``impact``), else the channel's ``default_tier``, else the contract's.

The reporting portal (``faultflow serve``, ``/``) asks whether the business is stopped; the
answer arrives as ``impact`` and sets the tier through the contract's ``[channels.web] impact``
table (``{ stopped = "A", partly = "B", no = "C" }``). An explicit ``tier`` wins over it.
``attachments`` (names of files the reporter holds: a list, or one name per line) is kept with
the intake's data; the files themselves are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeError, IntakeRecord, common_record, hookimpl
from faultflow.intake import as_mapping

MAX_ATTACHMENTS = 20


def _tier_of(payload: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    impact = payload.get("impact")
    if impact in (None, ""):
        return None
    rules = config.get("impact") or {}
    if not isinstance(impact, str) or impact not in rules:
        known = ", ".join(sorted(rules)) or "none (the contract has no [channels.web] impact)"
        raise IntakeError(f"impact {impact!r}: not one of the contract's answers ({known})")
    return str(rules[impact])


def _attachments(value: Any) -> list[str]:
    names = value.splitlines() if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise IntakeError("attachments: a list of file names, or one name per line")
    names = [n.strip() for n in names if n.strip()]
    if len(names) > MAX_ATTACHMENTS or any(len(n) > 255 for n in names):
        raise IntakeError(f"attachments: at most {MAX_ATTACHMENTS} names of 255 characters")
    return names


class WebForm:
    name = "web"
    description = (
        "web form and portal: any fault; the answer to 'is the business stopped?' sets the "
        "tier ([channels.web] impact)"
    )

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        payload = dict(as_mapping(raw))
        if "attachments" in payload:
            payload["attachments"] = _attachments(payload["attachments"])
        tier = _tier_of(payload, config) or config.get("default_tier")
        return common_record(payload, tier=tier)


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(WebForm())
