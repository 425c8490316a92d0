"""``web``: the web form — consulting and faults that do not stop the business (tier C unless
given)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.intake import as_mapping


class WebForm:
    name = "web"
    description = "web form: consulting and faults that do not stop the business (default tier C)"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        return common_record(as_mapping(raw), tier=config.get("default_tier", "C"))


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(WebForm())
