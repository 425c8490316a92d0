"""What a monitoring system asks of the database: counts, read in a few GROUP BYs (for
``GET /metrics`` and ``GET /readyz``). Nothing here is per ticket."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..contract.model import Contract
from ..db import outbox
from ..db.store import Store


@dataclass(frozen=True)
class Census:
    """Counts as of one moment."""

    open_tickets: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, tier)
    alarms: dict[tuple[str, str], int] = field(default_factory=dict)  # (clock, warning|breach)
    notifications_pending: int = 0
    delivery_failures: int = 0  # failed attempts, ever
    next_due_us: int | None = None


def take(store: Store, contract: Contract) -> Census:
    """The counts as of now, each asked of the module of its table."""
    opened, alarms = store.open_and_alarms(sorted(contract.finals))
    return Census(
        opened, alarms, outbox.pending(store), outbox.failures(store), store.next_due()
    )
