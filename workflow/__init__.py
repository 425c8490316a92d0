"""faultflow — a workflow engine for fault tickets under a service-level contract.

The library API (SPEC §6)::

    from faultflow import Engine
    engine = Engine.open(db="sqlite:///faultflow.db", config=None)  # None: the packaged contract
    t = engine.intake("hotline", {"title": "core switch down", "tier": "A"}, actor="agent1")
    engine.advance(t.id, "respond", actor="li")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .contract import Contract, load_contract
from .engine import Engine
from .errors import (
    ConcurrentUpdate,
    ConfigError,
    DatabaseError,
    FaultflowError,
    GuardRefused,
    IllegalTransition,
    IntakeError,
    InvalidInput,
    UnknownTicket,
)
from .hookspecs import Channel, Notifier, hookimpl
from .intake import IntakeRecord, common_record
from .views import Clock, Event, Fired, Ticket

try:
    __version__ = version("faultflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Channel",
    "Clock",
    "ConcurrentUpdate",
    "ConfigError",
    "Contract",
    "DatabaseError",
    "Engine",
    "Event",
    "FaultflowError",
    "Fired",
    "GuardRefused",
    "IllegalTransition",
    "IntakeError",
    "IntakeRecord",
    "InvalidInput",
    "Notifier",
    "Ticket",
    "UnknownTicket",
    "__version__",
    "common_record",
    "hookimpl",
    "load_contract",
]
