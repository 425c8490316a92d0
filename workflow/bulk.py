"""Open many tickets at once: for migrations from another system, and for benchmarks.

    from faultflow import Engine, IntakeRecord
    from faultflow.bulk import BulkTicket, load

    engine = Engine.open(db="big.db")
    load(engine, (BulkTicket("hotline", IntakeRecord(title=f"fault {i}", tier="C"), at=t0)
                  for i in range(1_000_000)))

Each ticket is opened exactly as :meth:`Engine.open_ticket` opens one — the same draft from the
same unit of work, the same clocks and timers, the same hash chain — but many tickets share one
transaction and each
table is written with one ``executemany`` per chunk. What it does not do: idempotency by external
id (a duplicate (channel, external id) fails the chunk), and firing alarms already due (the next
``tick`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from .engine import Engine
from .ids import new_ticket_id
from .intake import IntakeRecord
from .tickets.receive import classify
from .timekeeping.times import to_us


@dataclass(frozen=True, slots=True)
class BulkTicket:
    """One ticket to open: its channel, what was reported, when, and who owns it."""

    channel: str
    record: IntakeRecord
    at: datetime
    actor: str = "import"


def load(
    engine: Engine,
    tickets: Iterable[BulkTicket],
    chunk: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Open every ticket; commit every ``chunk`` tickets. Returns how many were opened."""
    work = engine.work
    if work.ctx.locate is not None:
        work.ctx.locate.refresh()  # tickets are placed from the registry as it stands
    contract = work.ctx.contract
    recorded_us = to_us(engine.now())
    source = iter(tickets)
    total = 0
    while True:
        batch = list(islice(source, chunk))
        if not batch:
            return total
        ids = _free_ids(engine, len(batch))
        drafts = []
        for item, tid in zip(batch, ids, strict=True):
            classification = classify(contract, item.record)
            at_us = to_us(item.at)
            opened = work.open(
                tid, item.channel, item.record, classification, item.actor, at_us, recorded_us
            )
            drafts.append(opened)
        with engine.store.unit() as u:
            work.commit_many(u, drafts)
        total += len(batch)
        if progress is not None:
            progress(len(batch))


def _free_ids(engine: Engine, n: int) -> list[str]:
    """``n`` fresh ticket ids, unused in the database and distinct from each other.

    Ids are 7 random characters (34 billion): a million tickets make a handful of collisions
    likely, so every drawn id is checked, as the one-ticket path does on insert.
    """
    chosen: set[str] = set()
    while len(chosen) < n:
        wanted = {new_ticket_id() for _ in range(n - len(chosen))} - chosen
        chosen |= wanted - engine.store.taken_ids(wanted)
    return list(chosen)
