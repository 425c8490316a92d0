"""Deliver the outbox: each notification to each notifier that wants it, once, with retries.

The outbox rows are written in the same transaction as the events they tell of (draft.py), so
nothing committed is ever left unannounced. Delivery happens apart from any ticket change:

- a deliverer *claims* a due row by moving its ``next_attempt_us`` forward (a lease) with an
  optimistic UPDATE, so several deliverers (``tick``/``run`` on several hosts) never deliver
  the same row at the same time;
- it calls each subscribed notifier that has not yet succeeded for that row, each in its own
  ``try``, and records every attempt in ``deliveries``;
- when every notifier has succeeded the row is done; otherwise it is retried after an
  exponential backoff, until a notifier's ``max_attempts`` is spent (then it is given up, logged,
  and the row is done).

A notifier with ``coalesce = "5m"`` sends at most one message per such interval: a notification
that comes while its window is open waits, and when the window ends everything waiting goes out
as one ``digest`` message (most urgent first), so that a storm is a few messages, not thousands.
Messages to a person by name (an escalation's page, the reporter's acknowledgement of a mailed
report, a handling report) are never held. The outbox drains most urgent first: breaches and
escalations, then warnings, then transitions.

A notifier that fails never affects a ticket, and never another notifier. Delivery never
delays an alarm either: `run` delivers on a thread of its own, and every attempt runs with a
timeout (a notifier's ``timeout`` plus a margin, default 10 s) in a small pool of workers, so a
receiver that accepts and never answers costs one worker, not the sweep. A pass stops when its
time budget is spent; the rest waits for the next pass. Every failed attempt is logged as a
warning naming the notifier; a give-up as an error.

Delivery is at least once: a process killed after a notifier succeeded but before the attempt
was recorded will deliver that notification again once its lease expires.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as AttemptTimeout
from dataclasses import dataclass
from typing import Any

from ..contract.model import Contract, Notifying
from ..db import outbox
from ..db.store import Store
from ..errors import DeliveryRefused
from ..hookspecs import Notifier
from ..secrets import redact

log = logging.getLogger("faultflow.delivery")

LEASE_US = 60 * 1_000_000  # a claimed row is not retried by anyone else for a minute
BACKOFF_S = (30, 60, 120, 300, 900, 1800, 3600)
DEFAULT_MAX_ATTEMPTS = 8
REFUSED = "refused for good: "  # how a DeliveryRefused attempt is recorded: not retried
DEFAULT_TIMEOUT_S = 10.0  # an attempt's bound when its notifier names no `timeout` of its own
PASS_BUDGET_S = 20.0  # a pass stops starting attempts after this; the rest waits a pass
BATCH = 100
DIGEST_MAX = 200  # notifications one digest carries at most; the rest wait for the next
DIGEST_LINES = 50  # lines a digest's text lists (its ``items`` carry them all)
PERSONAL_EVENTS = frozenset({"page", "handling_report"})
# Attempts run here, so that a notifier that never returns holds a worker, not the caller.
_WORKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="faultflow-delivery")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt of one notification to one notifier."""

    outbox_id: int
    ticket: str
    kind: str
    notifier: str
    attempt: int
    ok: bool
    error: str | None
    final: bool = True  # delivered, or given up: no attempt follows
    seq: int | None = None  # the event the notification tells of


def backoff_us(attempt: int) -> int:
    """Wait before attempt ``attempt + 1``: 30 s, 1 min, 2 min, 5 min, ... up to an hour."""
    return BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1] * 1_000_000


def deliver(
    store: Store,
    contract: Contract,
    notifiers: Mapping[str, Notifier],
    now_us: int,
    budget_s: float = PASS_BUDGET_S,
) -> list[Attempt]:
    """Deliver the notifications due at ``now_us``, batch after batch until none is due or
    ``budget_s`` seconds are spent; return every attempt made."""
    deadline = time.monotonic() + budget_s
    attempts: list[Attempt] = []
    seen: set[int] = set()
    windows = Windows(store)
    while time.monotonic() < deadline:
        batch = [row for row in outbox.due(store, now_us, BATCH) if row[0] not in seen]
        if not batch:
            break
        for row in batch:
            seen.add(row[0])
            if time.monotonic() >= deadline:
                break
            attempts += _deliver_row(store, contract, notifiers, now_us, windows, *row)
    return attempts


class Windows:
    """When each coalescing notifier last sent: read once a pass, kept up to date by it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[str, int | None] = {}

    def opens(self, target: Notifying, now_us: int) -> int | None:
        """When ``target`` may send next, if not now."""
        if target.name not in self._last:
            self._last[target.name] = outbox.last_sent(self.store, target.name)
        last = self._last[target.name]
        assert target.coalesce_us is not None
        if last is None or now_us >= last + target.coalesce_us:
            return None
        return last + target.coalesce_us

    def sent(self, target: Notifying, at_us: int) -> None:
        self._last[target.name] = at_us


def personal(message: Mapping[str, Any]) -> bool:
    """Whether a notification is addressed to a person by name (never held for a digest)."""
    event = message.get("event")
    return event in PERSONAL_EVENTS or (event == "intake" and message.get("channel") == "email")


def digest(messages: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One message telling of ``messages`` (most urgent first): ``kind = "digest"``, a count by
    kind, the tickets, a line each in ``note`` and every message in ``items``."""
    kinds: dict[str, int] = {}
    for m in messages:
        kinds[str(m.get("kind"))] = kinds.get(str(m.get("kind")), 0) + 1
    lines = []
    for m in messages[:DIGEST_LINES]:
        note = " ".join(str(m.get("note") or "").split())[:160]
        lines.append(
            f"[{m.get('kind')}] {m.get('ticket')} {' '.join(str(m.get('title') or '').split())}"
            + (f" — {note}" if note else "")
        )
    if len(messages) > DIGEST_LINES:
        lines.append(f"… and {len(messages) - DIGEST_LINES} more")
    counted = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    return {
        "kind": "digest",
        "event": "digest",
        "count": len(messages),
        "kinds": kinds,
        "tickets": sorted({str(m.get("ticket")) for m in messages}),
        "title": f"{len(messages)} notifications ({counted})",
        "note": "\n".join(lines),
        "items": messages,
    }


def _deliver_row(
    store: Store,
    contract: Contract,
    notifiers: Mapping[str, Notifier],
    now_us: int,
    windows: Windows,
    outbox_id: int,
    ticket: str,
    kind: str,
    payload: str,
    lease: int,
) -> list[Attempt]:
    """One notification to every notifier that wants it and has not taken it yet."""
    attempts: list[Attempt] = []
    history = outbox.claim(store, outbox_id, lease, now_us + LEASE_US, REFUSED)
    if history is None:
        return []  # another deliverer has it
    targets = [n for n in contract.notifiers.values() if kind in n.events]
    tried = {name: (n, ok, no) for name, n, ok, no in history}
    message = json.loads(payload)
    pending = []
    held: int | None = None  # when the earliest window this row waits for opens
    recorded: list[tuple[str, int, int, str | None]] = []
    for target in targets:
        count, succeeded, for_good = tried.get(target.name, (0, False, False))
        if succeeded or for_good:
            continue  # delivered, or refused for good: given up
        limit = int(target.config.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        if count >= limit:
            continue  # given up on this one
        sending: Mapping[str, Any] = message
        gathered: list[tuple[int, int, bool]] = []
        if target.coalesce_us is not None and not personal(message):
            opens = windows.opens(target, now_us)
            if opens is not None:  # its window is open: this one waits for the digest
                held = opens if held is None else min(held, opens)
                continue
            gathered, items = _gather(store, contract, target, now_us, outbox_id)
            if items:
                sending = digest([message, *items])
        attempt = _deliver(notifiers, target.name, target.use, sending, target.config)
        if target.coalesce_us is not None and attempt is None:
            windows.sent(target, now_us)  # its window opens: what comes now waits
        for other, other_count, rest in gathered:  # the digest's others, each settled
            again = now_us if attempt is None else now_us + backoff_us(other_count + 1)
            done = attempt is None and not rest  # no other notifier waits for it
            outbox.settle(store, other, [(target.name, other_count + 1, now_us, attempt)],
                          done, again)  # fmt: skip
        final = attempt is None or attempt.startswith(REFUSED) or count + 1 >= limit
        seq = message.get("seq") if isinstance(message.get("seq"), int) else None
        attempts.append(
            Attempt(
                outbox_id,
                ticket,
                kind,
                target.name,
                count + 1,
                attempt is None,
                attempt,
                final,
                seq,
            )
        )
        recorded.append((target.name, count + 1, now_us, attempt))
        if attempt is not None:
            if attempt.startswith(REFUSED):
                log.error(
                    "notification %s (%s of ticket %s) to %s given up: %s",
                    outbox_id, kind, ticket, target.name, attempt,
                )  # fmt: skip
            elif count + 1 >= limit:
                log.error(
                    "notification %s (%s of ticket %s) to %s given up after %d attempts: %s",
                    outbox_id,
                    kind,
                    ticket,
                    target.name,
                    limit,
                    attempt,
                )
            else:
                log.warning(
                    "notification %s (%s of ticket %s) to %s failed, attempt %d of %d, "
                    "next in %d s: %s",
                    outbox_id,
                    kind,
                    ticket,
                    target.name,
                    count + 1,
                    limit,
                    backoff_us(count + 1) // 1_000_000,
                    attempt,
                )
                pending.append(count + 1)
    # the lease is released: the next attempt's time (or the window's end), or done
    next_us = now_us + backoff_us(max(pending)) if pending else now_us
    if held is not None:
        next_us = min(next_us, held) if pending else held
    outbox.settle(store, outbox_id, recorded, not pending and held is None, next_us)
    return attempts


def _gather(
    store: Store, contract: Contract, target: Notifying, now_us: int, first: int
) -> tuple[list[tuple[int, int, bool]], list[Mapping[str, Any]]]:
    """The other notifications waiting for ``target`` now, each leased: their (id, attempts so
    far, whether another notifier still waits for it) and messages. Messages to a person by
    name stay out of the digest."""
    gathered: list[tuple[int, int, bool]] = []
    items: list[Mapping[str, Any]] = []
    for other, _, _, payload, seen in outbox.waiting(
        store, target.name, target.events, now_us, DIGEST_MAX
    ):
        if other == first:
            continue
        message = json.loads(payload)
        if personal(message):
            continue
        history = outbox.claim(store, other, seen, now_us + LEASE_US, REFUSED)
        if history is None:
            continue  # another deliverer has it
        count = next((n for name, n, _, _ in history if name == target.name), 0)
        finished = {name for name, _, ok, no in history if ok or no}
        kind = str(message.get("kind"))
        rest = any(
            n.name != target.name and kind in n.events and n.name not in finished
            for n in contract.notifiers.values()
        )
        gathered.append((other, count, rest))
        items.append(message)
    return gathered, items


def _deliver(
    notifiers: Mapping[str, Notifier],
    name: str,
    use: str,
    message: Mapping[str, Any],
    config: Mapping[str, Any],
) -> str | None:
    """Call one notifier; ``None`` on success, else what went wrong (one line)."""
    notifier = notifiers.get(use)
    if notifier is None:
        return f"no notifier plugin {use!r} is installed (see `faultflow channels`)"
    try:
        own = float(config.get("timeout", DEFAULT_TIMEOUT_S))
    except (TypeError, ValueError):
        own = DEFAULT_TIMEOUT_S
    bound = own + 1.0  # the notifier's own timeout fires first; this one catches the rest
    try:
        _WORKERS.submit(notifier.notify, message, config).result(timeout=bound)
    except AttemptTimeout:
        return f"no answer within {bound:g} s (the notifier is still waiting; not retried now)"
    except DeliveryRefused as err:
        return redact(f"{REFUSED}{err}".splitlines()[0])[:500]
    except Exception as err:  # a notifier's failure is recorded and retried, never raised
        # Stored in `deliveries` and logged: a webhook URL's key must not go with it.
        return redact(f"{type(err).__name__}: {err}".splitlines()[0])[:500]
    return None
