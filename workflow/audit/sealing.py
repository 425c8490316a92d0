"""When sealing is in force: the database remembers (``meta`` ``sealed-since``) the moment the
first process with an audit key wrote to it. From then on every event must be sealed:

- a keyed ``verify`` reports any event recorded after that moment without the key's seal —
  even if every sealed event were rewritten plain, the moment stays in ``meta``;
- a process without the key may read, but is refused the first time it would write an event,
  in one line, before anything is written;
- ``verify`` without the key is refused: it could not tell a sealed history from a forged one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..db import contracts
from ..db.store import Store
from ..errors import InvalidInput
from .chain import KEY_ENV, Sealer

SINCE = "sealed-since"
"""The ``meta`` key: when sealing came into force (µs since the epoch)."""


def in_force(store: Store) -> int | None:
    """Since when every event must be sealed (µs), if sealing is in force."""
    value = contracts.meta(store, SINCE)
    return int(value) if value is not None else None


def settle(store: Store, sealer: Sealer, now_us: int) -> Sealer:
    """At open: a keyed process puts sealing in force (from the first sealed event already
    written, else from now); a process without the key on a sealed database gets a sealer that
    refuses to write."""
    since = in_force(store)
    if sealer.keyed:
        if since is None:
            first = store.first_sealed_us()
            contracts.set_meta(store, SINCE, str(first if first is not None else now_us))
        return sealer
    if since is not None:
        return Unsealed(since)
    return sealer


def since_text(since_us: int) -> str:
    return datetime.fromtimestamp(since_us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M UTC")


class Unsealed(Sealer):
    """The sealer of a process without the key on a database where sealing is in force: it
    verifies nothing and refuses to seal."""

    def __init__(self, since_us: int) -> None:
        super().__init__(())
        self.since_us = since_us

    def seal(self, prev: str, event: Sequence[Any]) -> str:
        raise InvalidInput(
            f"this database seals its history with an audit key (since "
            f"{since_text(self.since_us)}): set {KEY_ENV} to write; nothing was written"
        )
