"""The tamper-evident history: every event is hashed over its content and its predecessor's hash.

Each ticket's events form a chain: ``hash(n) = sha256(hash(n-1) + canonical content of n)``, the
first event chaining from the ticket id. The ticket row keeps the last hash and sequence number,
so an edited, reordered or deleted event — the last one included — breaks the chain.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from ..db.canonical import canonical
from ..db.records import HASHED, EventRecord
from ..errors import InvalidInput
from ..timekeeping.times import to_us

KEY_ENV = "FAULTFLOW_AUDIT_KEY"
"""The environment variable the command line reads the audit keys from (first one seals)."""

MIN_KEY = 16
"""The shortest audit key accepted, in characters."""

_SEALED = "hmac:"  # a keyed hash: "hmac:<key id>:<hex>"


def genesis(ticket_id: str) -> str:
    """The hash the first event of a ticket chains from."""
    return hashlib.sha256(f"faultflow:{ticket_id}".encode()).hexdigest()


def _message(prev: str, content: Sequence[Any]) -> bytes:
    return f"{prev}\n{canonical(content)}".encode()


def event_hash(prev: str, content: Sequence[Any]) -> str:
    """The plain hash of one event's hashed fields (``records.HASHED``, in that order), given
    the hash of the event before it."""
    return hashlib.sha256(_message(prev, content)).hexdigest()


_HASHED = itemgetter(*(EventRecord._fields.index(f) for f in HASHED))
_HASH = EventRecord._fields.index("hash")
_RECORDED = EventRecord._fields.index("recorded_us")


def chain(prev: str, event: Sequence[Any]) -> str:
    """The plain hash of an event (an :class:`EventRecord`, or a row in its field order) given
    its predecessor's: every field but those in ``records.HASH_EXEMPT`` is hashed."""
    return event_hash(prev, _HASHED(event))


def key_id(key: str) -> str:
    """A short public name of an audit key (8 hex digits), stored in each event it seals."""
    return hashlib.sha256(f"faultflow-audit-key\n{key}".encode()).hexdigest()[:8]


def parse_keys(text: str | None) -> tuple[str, ...]:
    """The audit keys in ``text`` (``FAULTFLOW_AUDIT_KEY``): separated by spaces or commas, the
    first seals new events, all of them verify (so an old key can be kept after rotating)."""
    keys = tuple(k for k in (text or "").replace(",", " ").split() if k)
    for key in keys:
        if len(key) < MIN_KEY:
            raise InvalidInput(
                f"{KEY_ENV} holds a key of {len(key)} characters: use at least {MIN_KEY} "
                "(e.g. `openssl rand -hex 32`)"
            )
    return keys


class Sealer:
    """How events are hashed: the plain SHA-256 chain, or with ``keys`` keyed — an HMAC-SHA-256
    under the first key, stored as ``hmac:<key id>:<hex>`` — which cannot be recomputed without
    the key. Every key in ``keys`` verifies."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self.keys = tuple(keys)
        self._keys = {key_id(k): hmac.new(k.encode(), digestmod=hashlib.sha256) for k in keys}
        self.sealing = next(iter(self._keys), None)

    @property
    def keyed(self) -> bool:
        return self.sealing is not None

    def _mac(self, kid: str, message: bytes) -> str:
        mac = self._keys[kid].copy()
        mac.update(message)
        return f"{_SEALED}{kid}:{mac.hexdigest()}"

    def seal(self, prev: str, event: Sequence[Any]) -> str:
        """The hash to store for ``event`` (a record or a row in its field order)."""
        message = _message(prev, _HASHED(event))
        if self.sealing is None:
            return hashlib.sha256(message).hexdigest()
        return self._mac(self.sealing, message)

    def check(self, prev: str, event: Sequence[Any]) -> str | None:
        """``None`` when the stored hash of ``event`` is right, else why not."""
        stored = event[_HASH]
        message = _message(prev, _HASHED(event))
        if not stored.startswith(_SEALED):
            if hashlib.sha256(message).hexdigest() == stored:
                return None
            return "the event was changed after it was written"
        kid = stored[len(_SEALED) : len(_SEALED) + 8]
        if kid not in self._keys:
            if not self._keys:
                raise InvalidInput(
                    f"the history is sealed with audit key {kid}: set {KEY_ENV} to verify it"
                )
            return (
                f"sealed with an audit key {kid} that {KEY_ENV} does not hold: forged, or an "
                "old key missing from it"
            )
        if hmac.compare_digest(self._mac(kid, message), stored):
            return None
        return "the event was changed after it was written (its audit key seal does not match)"


PLAIN = Sealer()


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
    sealed: int = 0  # events sealed with an audit key (and checked with it)
    registry: int = 0  # changes of the registry's log checked (its own hash chain)
    registry_broken: int | None = None  # the first change (1-based) whose hash does not chain
    registry_differs: tuple[str, ...] = ()  # entries whose row is not what its last change wrote
    kb: int = 0  # changes of the experience base's log checked (its own hash chain)
    kb_broken: int | None = None  # the first change (1-based) whose hash does not chain
    rounds: int = 0  # changes of the inspection rounds' log checked (its own hash chain)
    rounds_broken: int | None = None  # the first change (1-based) whose hash does not chain
    spares: int = 0  # movements of the spares' log checked (its own hash chain)
    spares_broken: int | None = None  # the first movement (1-based) whose hash does not chain
    maintenance: int = 0  # changes of the maintenance windows' log (its own hash chain)
    maintenance_broken: int | None = None  # the first change (1-based) whose hash does not chain

    @property
    def ok(self) -> bool:
        return (
            not self.broken
            and self.registry_broken is None
            and not self.registry_differs
            and self.kb_broken is None
            and self.rounds_broken is None
            and self.spares_broken is None
            and self.maintenance_broken is None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "tickets": self.tickets,
            "sealed": self.sealed,
            "broken": [{"ticket": b.ticket, "seq": b.seq, "reason": b.reason} for b in self.broken],
            "registry": {
                "changes": self.registry,
                "broken_at": self.registry_broken,
                "differs": list(self.registry_differs),
            },
            "kb": {"changes": self.kb, "broken_at": self.kb_broken},
            "rounds": {"changes": self.rounds, "broken_at": self.rounds_broken},
            "spares": {"changes": self.spares, "broken_at": self.spares_broken},
            "maintenance": {"changes": self.maintenance, "broken_at": self.maintenance_broken},
        }


@dataclass(frozen=True)
class SavedHead:
    """A head kept earlier (``verify --head --out``): every ticket's (seq, hash) then, and when."""

    heads: Mapping[str, tuple[int, str]]
    at_us: int | None = None
    digest: str = field(default="")

    @classmethod
    def load(cls, saved: Any, name: str) -> SavedHead:
        """Read and check a saved head (the parsed JSON of the file ``name``): its tickets must
        still give its digest and count, so a ticket taken out of the file is seen."""
        try:
            heads = {str(t): (int(v[0]), str(v[1])) for t, v in saved["heads"].items()}
            digest, tickets, events = str(saved["head"]), int(saved["tickets"]), saved["events"]
            taken = datetime.fromisoformat(str(saved["at"]))
            at = to_us(taken) if taken.tzinfo is not None else None
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise InvalidInput(
                f"{name} is not a head saved by `faultflow verify --head --out FILE`"
            ) from None
        root, count, total = chain_head((t, *heads[t]) for t in sorted(heads))
        if (root, count, total) != (digest, tickets, events):
            raise InvalidInput(
                f"{name} was altered: its {count} tickets give head {root[:16]}…, "
                f"not the {digest[:16]}… ({tickets} tickets) it states"
            )
        return cls(heads, at, digest)


IN_FLIGHT_US = 5 * 60 * 1_000_000
"""How long before a saved head a write may have begun and still not be in it: a ticket whose
first event is older than the head by more than this, and that the head does not hold, was
added to the history afterwards."""


def check(
    events: Iterable[Sequence[Any]],
    heads: Iterable[Sequence[Any]],
    pins: Mapping[str, tuple[int, str]] | SavedHead | None = None,
    replay: Callable[[str, list[Sequence[Any]]], str | None] | None = None,
    *,
    sealer: Sealer = PLAIN,
    sealed_since_us: int | None = None,
) -> Verification:
    """Recompute every chain; with ``replay``, also hand each ticket whose chain holds to it
    with its events, and report what it says differs (see ``consistency.py``).

    ``events``: rows in :class:`EventRecord` field order, ordered by ticket and seq.
    ``heads``: rows (ticket_id, last_seq, last_hash) ordered by ticket — the head each ticket
    row remembers, which catches a deleted last event. ``pins``: ticket -> (seq, hash) from a
    head saved earlier (or the :class:`SavedHead`); the chain must still pass through each of
    them, and a ticket dated well before a saved head must be in it. Finds edited events
    (hash mismatch), deleted or reordered ones (a gap in seq, or a hash that no longer chains),
    and tickets whose head does not match their last event. With a keyed ``sealer``, an event
    without the key's seal after one with it, or recorded after ``sealed_since_us`` (the first
    sealed event of the database), is reported too.
    """
    saved = pins if isinstance(pins, SavedHead) else SavedHead(pins or {})
    held = saved.heads
    pending = dict(held)
    seen_pinned: set[str] = set()
    late_from = saved.at_us - IN_FLIGHT_US if saved.at_us is not None else None
    keyed = sealer.keyed
    since = sealed_since_us
    broken: list[Broken] = []
    head_iter = iter(heads)
    head = next(head_iter, None)
    checked = tickets = sealed_events = 0
    current: str | None = None
    prev = ""
    expected = 1
    bad: str | None = None  # a ticket already found broken: skip the rest of its events
    sealed = False  # the current ticket had an event sealed with a key
    rows: list[Sequence[Any]] = []  # the current ticket's events, for ``replay``

    def fail(ticket: str, seq: int, reason: str) -> None:
        nonlocal bad
        broken.append(Broken(ticket, seq, reason))
        bad = ticket

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
            last_seq, last_hash, sealed = 0, "", False
            rows = []
            if ticket in held:
                seen_pinned.add(ticket)
            elif late_from is not None and row[_RECORDED] < late_from:
                fail(
                    ticket,
                    seq,
                    "is not in the saved head, yet its first event is older than the head: "
                    "added to the history since",
                )
        checked += 1
        if replay is not None:
            rows.append(row)
        if bad == ticket:
            continue
        if seq != expected:
            fail(
                ticket,
                expected,
                f"event {expected} is missing (next is {seq})"
                if seq > expected
                else f"event {seq} is out of order",
            )
            continue
        wrong = sealer.check(prev, row)
        if wrong is not None:
            fail(ticket, seq, wrong)
            continue
        digest = row[_HASH]
        if keyed:
            if digest.startswith(_SEALED):
                sealed, sealed_events = True, sealed_events + 1
            elif sealed:
                fail(ticket, seq, "is not sealed with the audit key, after events that are")
                continue
            elif since is not None and row[_RECORDED] >= since:
                fail(
                    ticket,
                    seq,
                    "is not sealed with the audit key, though written after the key was in use: "
                    f"forged, or written by a process without {KEY_ENV}",
                )
                continue
        pinned = pending.pop(ticket) if pending.get(ticket, (0, ""))[0] == seq else None
        if pinned is not None and pinned[1] != digest:
            fail(ticket, seq, "differs from the saved head: the history was rewritten since")
            continue
        prev, expected, last_seq, last_hash = digest, expected + 1, seq, digest
    if current is not None:
        close(current, last_seq, last_hash)
    for ticket, (seq, _) in sorted(pending.items()):
        if ticket not in seen_pinned:
            broken.append(Broken(ticket, 1, f"is gone: the saved head holds it at seq {seq}"))
        elif not any(b.ticket == ticket for b in broken):
            broken.append(Broken(ticket, seq, "the saved head names an event that is gone"))
    while head is not None:
        if head[1]:
            broken.append(Broken(head[0], 1, "its events are missing"))
        head = next(head_iter, None)
    broken.sort(key=lambda b: (b.ticket, b.seq))
    return Verification(checked, tickets, broken, sealed_events)


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
