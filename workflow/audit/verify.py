"""`verify` over a whole database: every ticket's hash chain (audit.py) and the replay of its
rows and clocks (consistency.py), streamed in one pass per range of ticket ids — and, for a big
database, the ranges checked in several processes at once.

Ticket ids are drawn uniformly from the Crockford alphabet, so cutting it into equal parts
gives ranges of about equal work; the first range is open below and the last open above, so
an id of any spelling (an old import, a hand-made test database) still falls in one.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from ..contract.versions import Contracts
from ..db.store import Store
from ..errors import InvalidInput
from ..ids import ALPHABET
from . import chain as audit
from . import sealing
from .chain import SavedHead, Sealer, Verification
from .consistency import Replayer

if TYPE_CHECKING:
    from ..contract.model import Contract
    from ..db.store import Span, Store

PARALLEL_FROM = 20_000
"""Tickets below which one process checks everything: starting a worker (a fresh Python
importing faultflow) costs about half a second."""


def spans(parts: int) -> list[Span]:
    """``parts`` ranges of ticket ids, in order, that together hold every string."""
    cuts = sorted({ALPHABET[len(ALPHABET) * i // parts] for i in range(1, parts)})
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


def run(
    store: Store,
    contract: Contract,
    sealer: Sealer,
    against: Mapping[str, tuple[int, str]] | SavedHead | None = None,
    workers: int = 1,
    parallel_from: int = PARALLEL_FROM,
) -> Verification:
    """Verify the whole database; with ``workers`` > 1 and at least ``parallel_from`` tickets,
    in that many processes at once. The result is the same either way."""
    saved = against if isinstance(against, SavedHead) else SavedHead(dict(against or {}))
    in_force = sealing.in_force(store)
    if not sealer.keyed and in_force is not None:
        raise InvalidInput(
            f"this database seals its history with an audit key (since "
            f"{sealing.since_text(in_force)}): set {audit.KEY_ENV} to verify it"
        )
    since = None
    if sealer.keyed:
        first = store.first_sealed_us()
        known = [t for t in (in_force, first) if t is not None]
        since = min(known) if known else None
    if workers <= 1 or store.count_tickets() < parallel_from:
        return check_span(store, contract, sealer, saved, since, (None, None))
    parts = spans(workers)
    context = multiprocessing.get_context("spawn")  # never fork a process holding connections
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=context) as pool:
        futures = [
            pool.submit(
                _worker, store.url, contract, sealer.keys, _within(saved, span), since, span
            )
            for span in parts
        ]
        results = [f.result() for f in futures]
    broken = sorted((b for r in results for b in r.broken), key=lambda b: (b.ticket, b.seq))
    return Verification(
        events=sum(r.events for r in results),
        tickets=sum(r.tickets for r in results),
        broken=broken,
        sealed=sum(r.sealed for r in results),
    )


def check_span(
    store: Store,
    contract: Contract,
    sealer: Sealer,
    saved: SavedHead,
    since: int | None,
    span: Span,
) -> Verification:
    """Verify the tickets whose ids fall in ``span``."""
    pinned = Contracts(store, contract)  # each ticket replays under the version it runs under
    replay = Replayer(pinned, store.ticket_rows(span), store.clock_rows(span))
    return audit.check(
        store.event_rows(span),
        store.heads(span),
        _within(saved, span),
        replay,
        sealer=sealer,
        sealed_since_us=since,
    )


def _within(saved: SavedHead, span: Span) -> SavedHead:
    low, high = span
    if low is None and high is None:
        return saved
    heads = {
        t: h
        for t, h in saved.heads.items()
        if (low is None or t >= low) and (high is None or t < high)
    }
    return SavedHead(heads, saved.at_us, saved.digest)


def _worker(
    url: str,
    contract: Contract,
    keys: tuple[str, ...],
    saved: SavedHead,
    since: int | None,
    span: Span,
) -> Verification:
    """One range, in a worker process: its own connection, the same checks."""
    store = Store.open(url, create=False)
    try:
        return check_span(store, contract, Sealer(keys), saved, since, span)
    finally:
        store.close()
