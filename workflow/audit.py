"""The tamper-evident history: every event is hashed over its content and its predecessor's hash.

Each ticket's events form a chain: ``hash(n) = sha256(hash(n-1) + canonical content of n)``, the
first event chaining from the ticket id. The ticket row keeps the last hash and sequence number,
so an edited, reordered or deleted event — the last one included — breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def genesis(ticket_id: str) -> str:
    """The hash the first event of a ticket chains from."""
    return hashlib.sha256(f"faultflow:{ticket_id}".encode()).hexdigest()


def event_hash(
    prev: str,
    ticket_id: str,
    seq: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    at_us: int,
    recorded_us: int,
    actor: str,
    note: str | None,
    reason: str | None,
    data: str,
) -> str:
    """The hash of one event, given the hash of the event before it."""
    content: list[Any] = [
        ticket_id,
        seq,
        trigger,
        from_state,
        to_state,
        at_us,
        recorded_us,
        actor,
        note,
        reason,
        data,
    ]
    payload = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{payload}".encode()).hexdigest()
