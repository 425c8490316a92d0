"""``hotline``: a call record from the 7x24 call centre (400 600 1111).

Fields of the call record: ``caller``, ``number``, ``unit``, ``call_start`` (the moment the fault
was reported: the response clock starts there), ``summary``, ``call_id``. The common fields
(``title``, ``tier``, ...) may be given too and win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.intake import as_mapping, moment_field, text_field


class Hotline:
    name = "hotline"
    description = "7x24 hotline: a call record (caller, number, unit, call_start, summary)"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        call = as_mapping(raw)
        caller = text_field(call, "caller")
        unit = text_field(call, "unit")
        return common_record(
            call,
            description=text_field(call, "summary"),
            reporter=" / ".join(p for p in (caller, unit) if p) or None,
            contact=text_field(call, "number"),
            external_id=text_field(call, "call_id"),
            occurred_at=moment_field(call, "call_start"),
        )


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(Hotline())
