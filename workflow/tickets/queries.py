"""The read side: tickets as the library returns them, read from the store at a moment."""

from __future__ import annotations

from typing import Any

from ..contract.machine import GuardFacts, Option
from ..contract.model import Classification, Contract, member
from ..contract.versions import Contracts
from ..db.records import EventRecord
from ..db.store import Store
from ..errors import UnknownTicket
from ..ids import normalize_ticket_id
from .views import History, Ticket, ticket_view


def ticket(
    store: Store, contracts: Contracts, ticket_id: str, now_us: int, *, lazy: bool = False
) -> Ticket:
    """One ticket with its clocks (read at ``now_us``, under the contract version it runs
    under) and its whole history (with ``lazy``, read when first used)."""
    tid = normalize_ticket_id(ticket_id)
    with store.unit() as u:
        record, clock_rows = u.load(tid)
        if record is None:
            raise UnknownTicket(ticket_id)
        events = None if lazy else u.events(record.id)
        children = u.reports(record.id) if record.parent == record.id else ()
    contract = contracts.for_ticket(record)
    if events is None:
        history = stored_history(store, record.id, record.last_seq, contract)
        return ticket_view(record, clock_rows, history, now_us, contract, children)
    return ticket_view(record, clock_rows, events, now_us, contract, children)


def stored_history(store: Store, ticket_id: str, upto: int, contract: Contract) -> History:
    """A ticket's history up to ``upto``, read from the store when first used."""

    def load() -> list[EventRecord]:
        with store.unit() as u:
            return u.events(ticket_id, upto)

    return History(load, contract.timezone, upto)


def listing(
    store: Store,
    contracts: Contracts,
    now_us: int,
    *,
    state: str | None = None,
    tier: str | None = None,
    breached: bool | None = None,
    owner: str | None = None,
    limit: int | None = None,
    final: bool | None = None,
    after: str | None = None,
    unit: str | None = None,
) -> list[Ticket]:
    """Tickets, most urgent first, without history: filtered, ordered and cut in the database
    (by the current contract's names and final states), so only the rows shown are read.
    ``after`` (a ticket id) starts behind that ticket, where it stands now: the next page."""
    filters = _filters(contracts, state, tier, breached, owner, final, unit)
    key = None
    if after is not None:
        key = store.urgency_key(normalize_ticket_id(after))
        if key is None:
            raise UnknownTicket(after)
    found = store.tickets(now_us, **filters, limit=limit, after=key)
    pinned = contracts.for_ticket
    parents = [r.id for r, _ in found if r.parent == r.id]  # rare: read only for them
    children: dict[str, list[str]] = {}
    if parents:
        with store.unit() as u:
            children = {p: u.reports(p) for p in parents}
    return [ticket_view(r, rows, (), now_us, pinned(r), children.get(r.id, ()))
            for r, rows in found]  # fmt: skip


def counting(
    store: Store,
    contracts: Contracts,
    now_us: int,
    *,
    state: str | None = None,
    tier: str | None = None,
    breached: bool | None = None,
    owner: str | None = None,
    final: bool | None = None,
    unit: str | None = None,
) -> int:
    """How many tickets :func:`listing` would return without a limit (counted in the
    database)."""
    filters = _filters(contracts, state, tier, breached, owner, final, unit)
    return store.count_listed(now_us, **filters)


def _filters(
    contracts: Contracts,
    state: str | None,
    tier: str | None,
    breached: bool | None,
    owner: str | None,
    final: bool | None,
    unit: str | None = None,
) -> dict[str, Any]:
    contract = contracts.current
    for what, value, known in (("state", state, contract.states), ("tier", tier, contract.tiers)):
        if value is not None:
            member(what, value, known)
    return {
        "state": state,
        "tier": tier,
        "owner": owner,
        "finals": contract.finals,
        "final": final,
        "breached": breached,
        "unit": unit,
    }


def options(contracts: Contracts, ticket: Ticket) -> tuple[Option, ...]:
    """The triggers the ticket's state allows under its contract version, each with why its
    guard refuses as things stand (the clocks as the view read them, no reason yet)."""
    clocks = ticket.clocks
    facts = GuardFacts(
        Classification(ticket.tier, ticket.kind, ticket.channel, ticket.cause),
        None,
        lambda: frozenset(n for n, c in clocks.items() if c.breached),
        lambda: {n: c.due_at for n, c in clocks.items() if c.due_at is not None},
    )
    return contracts.lifecycle(contracts.of(ticket.contract)).options(ticket.state, facts)
