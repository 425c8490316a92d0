"""The timers: find the alarms due (rows indexed by due time) and fire each exactly once.

A sweep asks the store for the tickets with an alarm due, then fires each ticket's alarms in
its own transaction through a draft, like any other change: several sweepers on several hosts
may race for the same ticket, and the version check lets exactly one of them record each alarm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from . import escalation
from .audit import PLAIN, Sealer
from .contract import Contract
from .draft import Draft
from .due import each_due
from .errors import ConcurrentUpdate
from .records import ClockRecord, TicketRecord
from .store import Store
from .times import from_us
from .versions import Contracts
from .views import Fired

if TYPE_CHECKING:
    from .people import People

log = logging.getLogger("faultflow")

CONFLICT_RETRIES = 10


def sweep(
    store: Store,
    contracts: Contracts,
    now_us: int,
    recorded_us: int,
    remember: Callable[[TicketRecord, list[ClockRecord]], None],
    batch: int = 500,
    sealer: Sealer = PLAIN,
    people: People | None = None,
) -> list[Fired]:
    """Fire every warning and breach due at ``now_us``, in batches; what this call fired."""
    fired: list[Fired] = []
    for tid in each_due(lambda: store.due(now_us, batch)):
        fired.extend(
            fire_ticket(store, contracts, tid, now_us, recorded_us, remember, sealer, people)
        )
    return fired


def fire_ticket(
    store: Store,
    contracts: Contracts,
    tid: str,
    now_us: int,
    recorded_us: int,
    remember: Callable[[TicketRecord, list[ClockRecord]], None],
    sealer: Sealer = PLAIN,
    people: People | None = None,
) -> list[Fired]:
    """Fire one ticket's due alarms in one transaction (looking again after a conflict)."""
    for _ in range(CONFLICT_RETRIES):
        try:
            with store.unit() as u:
                record, clock_rows = u.load(tid)
                if record is None:
                    return []
                chained = frozenset(people.chains) if people is not None else frozenset()
                contract = contracts.for_ticket(record)  # the version the ticket runs under
                draft = Draft(
                    contract, record, clock_rows, recorded_us, sealer=sealer, chained=chained
                )
                draft.fire_due(now_us)
                if not draft.dirty:
                    return []
                u.write(draft.change())
                escalation.on_breach(u, draft, people, recorded_us)
        except ConcurrentUpdate:
            continue  # another process changed the ticket; look again
        remember(draft.ticket, list(draft.clocks.values()))
        zone = contract.timezone
        return [Fired(tid, name, alarm, due.astimezone(zone)) for name, alarm, due in draft.fired]
    log.warning(
        "ticket %s: gave up firing its alarms after %d conflicts; next tick retries",
        tid,
        CONFLICT_RETRIES,
    )
    return []


def next_due(store: Store, contract: Contract) -> datetime | None:
    """When the next warning or breach falls due (aware datetime), or ``None``."""
    us = store.next_due()
    return from_us(us, contract.timezone) if us is not None else None
