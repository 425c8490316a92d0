"""The tamper-evident history: every event is hashed over its content and its predecessor's hash.

Each ticket's events form a chain: ``hash(n) = sha256(hash(n-1) + canonical content of n)``, the
first event chaining from the ticket id. The ticket row keeps the last hash and sequence number,
so an edited, reordered or deleted event — the last one included — breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .records import HASHED, EventRecord


def genesis(ticket_id: str) -> str:
    """The hash the first event of a ticket chains from."""
    return hashlib.sha256(f"faultflow:{ticket_id}".encode()).hexdigest()


# One encoder, built once: json.dumps builds one per call, a third of the cost of hashing an event.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def event_hash(prev: str, content: Sequence[Any]) -> str:
    """The hash of one event's hashed fields (``records.HASHED``, in that order), given the hash
    of the event before it."""
    payload = _CANONICAL.encode(list(content))
    return hashlib.sha256(f"{prev}\n{payload}".encode()).hexdigest()


_HASHED = itemgetter(*(EventRecord._fields.index(f) for f in HASHED))
_HASH = EventRecord._fields.index("hash")


def chain(prev: str, event: Sequence[Any]) -> str:
    """The hash of an event (an :class:`EventRecord`, or a row in its field order) given its
    predecessor's: every field but those in ``records.HASH_EXEMPT`` is hashed."""
    return event_hash(prev, _HASHED(event))


@dataclass(frozen=True, slots=True)
class Broken:
    """The first broken link of one ticket's chain."""

    ticket: str
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    """What :func:`check` found: how much it checked and every ticket whose chain is broken."""

    events: int
    tickets: int
    broken: list[Broken]

    @property
    def ok(self) -> bool:
        return not self.broken

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "tickets": self.tickets,
            "broken": [{"ticket": b.ticket, "seq": b.seq, "reason": b.reason} for b in self.broken],
        }


def check(
    events: Iterable[Sequence[Any]],
    heads: Iterable[Sequence[Any]],
    pins: dict[str, tuple[int, str]] | None = None,
    replay: Callable[[str, list[Sequence[Any]]], str | None] | None = None,
) -> Verification:
    """Recompute every chain; with ``replay``, also hand each ticket whose chain holds to it
    with its events, and report what it says differs (see ``consistency.py``).

    ``events``: rows in :class:`EventRecord` field order, ordered by ticket and seq.
    ``heads``: rows (ticket_id, last_seq, last_hash) ordered by ticket — the head each ticket
    row remembers, which catches a deleted last event. ``pins``: ticket -> (seq, hash) from a
    head saved earlier; the chain must still pass through each of them. Finds edited events
    (hash mismatch), deleted or reordered ones (a gap in seq, or a hash that no longer chains),
    and tickets whose head does not match their last event.
    """
    broken: list[Broken] = []
    head_iter = iter(heads)
    head = next(head_iter, None)
    checked = tickets = 0
    current: str | None = None
    prev = ""
    expected = 1
    bad: str | None = None  # a ticket already found broken: skip the rest of its events
    rows: list[Sequence[Any]] = []  # the current ticket's events, for ``replay``

    def close(ticket: str, last_seq: int, last_hash: str) -> None:
        nonlocal head
        while head is not None and head[0] < ticket:  # a ticket row whose events all vanished
            if head[1]:
                broken.append(Broken(head[0], 1, "its events are missing"))
            head = next(head_iter, None)
        if head is not None and head[0] == ticket:
            if bad != ticket and (head[1] != last_seq or head[2] != last_hash):
                broken.append(
                    Broken(
                        ticket,
                        last_seq + 1 if head[1] > last_seq else head[1],
                        f"the ticket's head is seq {head[1]} but its chain ends "
                        f"at seq {last_seq}: events were deleted or rewritten",
                    )
                )
            elif bad != ticket and replay is not None:
                differs = replay(ticket, rows)
                if differs is not None:
                    broken.append(Broken(ticket, last_seq, differs))
            head = next(head_iter, None)
        elif bad != ticket:
            broken.append(Broken(ticket, 1, "events of a ticket that does not exist"))

    last_seq, last_hash = 0, ""
    for row in events:
        ticket, seq = row[0], row[1]
        if ticket != current:
            if current is not None:
                close(current, last_seq, last_hash)
            current, prev, expected, tickets = ticket, genesis(ticket), 1, tickets + 1
            last_seq, last_hash = 0, ""
            rows = []
        checked += 1
        if replay is not None:
            rows.append(row)
        if bad == ticket:
            continue
        if seq != expected:
            broken.append(
                Broken(
                    ticket,
                    expected,
                    f"event {expected} is missing (next is {seq})"
                    if seq > expected
                    else f"event {seq} is out of order",
                )
            )
            bad = ticket
            continue
        digest = chain(prev, row)
        if digest != row[_HASH]:
            broken.append(Broken(ticket, seq, "the event was changed after it was written"))
            bad = ticket
            continue
        pinned = pins.pop(ticket) if pins and pins.get(ticket, (0, ""))[0] == seq else None
        if pinned is not None and pinned[1] != digest:
            reason = "differs from the saved head: the history was rewritten since"
            broken.append(Broken(ticket, seq, reason))
            bad = ticket
            continue
        prev, expected, last_seq, last_hash = digest, expected + 1, seq, digest
    if current is not None:
        close(current, last_seq, last_hash)
    for ticket, (seq, _) in sorted((pins or {}).items()):
        if not any(b.ticket == ticket for b in broken):
            broken.append(Broken(ticket, seq, "the saved head names an event that is gone"))
    while head is not None:
        if head[1]:
            broken.append(Broken(head[0], 1, "its events are missing"))
        head = next(head_iter, None)
    return Verification(checked, tickets, broken)


def chain_head(heads: Iterable[Sequence[Any]]) -> tuple[str, int, int]:
    """One digest over every ticket's (id, last seq, last hash), ordered by id:
    (digest, tickets, events). Keep it; `verify --against` proves the history since."""
    h = hashlib.sha256(b"faultflow-head\n")
    tickets = events = 0
    for ticket, seq, digest in heads:
        h.update(f"{ticket}:{seq}:{digest}\n".encode())
        tickets += 1
        events += seq
    return h.hexdigest(), tickets, events


def head(rows: Iterable[Sequence[Any]], at: str, tickets: bool = False) -> dict[str, Any]:
    """The chain head over every ticket's (id, last seq, last hash), as kept by ``verify
    --head``; with ``tickets``, also every ticket's (seq, hash), for ``verify --against``."""
    rows = list(rows)
    digest, count, events = chain_head(rows)
    out: dict[str, Any] = {"head": digest, "tickets": count, "events": events, "at": at}
    if tickets:
        out["heads"] = {tid: [seq, h] for tid, seq, h in rows}
    return out
