"""``web``: the web form — consulting and faults that do not stop the business (the channel's
``default_tier``, else the contract's, unless the form gives one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.intake import as_mapping


class WebForm:
    name = "web"
    description = "web form: consulting and faults that do not stop the business"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        return common_record(as_mapping(raw), tier=config.get("default_tier"))


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(WebForm())
