"""``customer_manager``: a fault entered by the customer manager (15-minute response, P3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from faultflow import IntakeRecord, common_record, hookimpl
from faultflow.intake import as_mapping, text_field


class CustomerManager:
    name = "customer_manager"
    description = "entered by the customer manager; answered within 15 minutes whatever the tier"

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord:
        payload = as_mapping(raw)
        # The manager enters the fault on behalf of a unit; "manager" names who entered it.
        return common_record(payload, reporter=text_field(payload, "manager"))


@hookimpl
def register_channels(register: Callable[[Any], None]) -> None:
    register(CustomerManager())
