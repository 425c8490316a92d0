"""The hooks a faultflow plugin can implement. Plugin author's guide: docs/plugins.md.

A plugin is a module (or object) with functions marked ``@faultflow.hookimpl``, made known through
the entry-point group ``faultflow`` in its package's ``pyproject.toml``. The built-in channels and
notifiers in ``faultflow.plugins`` are registered the same way.

Registration hooks take a ``register`` callback instead of returning lists, so that new optional
arguments never break an old plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import pluggy

from .intake import IntakeRecord

hookspec = pluggy.HookspecMarker("faultflow")
hookimpl = pluggy.HookimplMarker("faultflow")


@runtime_checkable
class Channel(Protocol):
    """An intake channel: turns what arrives (bytes, text or a dict) into an IntakeRecord."""

    name: str
    description: str

    def parse(
        self, raw: bytes | str | Mapping[str, Any], config: Mapping[str, Any]
    ) -> IntakeRecord | list[IntakeRecord]:
        """Parse one payload; raise ``faultflow.errors.IntakeError`` naming what is wrong.

        Return one record, or a list when the payload carries several faults (one per alert).

        ``config`` is the table ``[channels.NAME]`` of the contract (empty when absent).
        """
        ...


@runtime_checkable
class Notifier(Protocol):
    """A notifier: delivers one notification somewhere (a log, a webhook, a pager)."""

    name: str

    def notify(self, notification: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        """Deliver one notification; raise any exception to have the delivery retried.

        ``config`` is the table ``[notifiers.NAME]`` of the contract.
        """
        ...


@hookspec
def register_channels(register: Callable[[Channel], None]) -> None:
    """Register intake channels: call ``register(channel)`` once for each."""


@hookspec
def register_notifiers(register: Callable[[Notifier], None]) -> None:
    """Register notifiers: call ``register(notifier)`` once for each."""
