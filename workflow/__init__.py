"""faultflow — a workflow engine for fault tickets under a service-level contract.

The library API (SPEC §6)::

    from faultflow import Engine
    engine = Engine.open(db="sqlite:///faultflow.db", config=None)  # None: the packaged contract
    t = engine.intake("hotline", {"title": "core switch down", "tier": "A"}, actor="agent1")
    engine.advance(t.id, "respond", actor="li")

Names are imported on first use, so that ``import faultflow`` (and ``faultflow --help``) does not
pay for the database stack until it is needed.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contract.compile import load_contract
    from .contract.model import Contract
    from .engine import Engine
    from .errors import (
        ConcurrentUpdate,
        ConfigError,
        DatabaseError,
        DatabaseUnavailable,
        FaultflowError,
        GuardRefused,
        IllegalTransition,
        IntakeError,
        InvalidInput,
        UnknownEntry,
        UnknownTicket,
    )
    from .hookspecs import Channel, Notifier, hookimpl
    from .intake import IntakeRecord, common_record
    from .tickets.views import Clock, Event, Fired, Intake, Ticket

_WHERE = {
    "Engine": "engine",
    "Contract": "contract.model",
    "load_contract": "contract.compile",
    "Channel": "hookspecs",
    "Notifier": "hookspecs",
    "hookimpl": "hookspecs",
    "IntakeRecord": "intake",
    "common_record": "intake",
    "Clock": "tickets.views",
    "Event": "tickets.views",
    "Fired": "tickets.views",
    "Intake": "tickets.views",
    "Ticket": "tickets.views",
    **dict.fromkeys(
        [
            "ConcurrentUpdate",
            "ConfigError",
            "DatabaseError",
            "DatabaseUnavailable",
            "DeliveryFailed",
            "DeliveryRefused",
            "FaultflowError",
            "GuardRefused",
            "IllegalTransition",
            "IntakeError",
            "InvalidInput",
            "UnknownEntry",
            "UnknownTicket",
        ],
        "errors",
    ),
}

# A library does not print: our records go nowhere until the application configures logging
# (`faultflow run` does).
logging.getLogger("faultflow").addHandler(logging.NullHandler())

__all__ = [
    "Channel",
    "Clock",
    "ConcurrentUpdate",
    "ConfigError",
    "Contract",
    "DatabaseError",
    "DatabaseUnavailable",
    "DeliveryFailed",
    "DeliveryRefused",
    "Engine",
    "Event",
    "FaultflowError",
    "Fired",
    "GuardRefused",
    "IllegalTransition",
    "Intake",
    "IntakeError",
    "IntakeRecord",
    "InvalidInput",
    "Notifier",
    "Ticket",
    "UnknownEntry",
    "UnknownTicket",
    "__version__",
    "common_record",
    "hookimpl",
    "load_contract",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # reading package metadata costs ~20 ms: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("faultflow")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
        globals()[name] = value
        return value
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'faultflow' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
