"""Ticket ids: short, random, and forgiving when read aloud or typed by hand."""

from __future__ import annotations

import secrets

# Crockford's base 32: no I, L, O or U, so an id read aloud or typed by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 7


def new_ticket_id() -> str:
    """A fresh random ticket id: 7 characters of Crockford base 32 (34 billion of them)."""
    bits = secrets.randbits(5 * ID_LENGTH)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(ID_LENGTH))


def normalize_ticket_id(text: str) -> str:
    """Read a ticket id as a person may type it: any case, O for 0, I or L for 1, dashes."""
    cleaned = str(text).strip().upper().replace("-", "")
    return cleaned.translate(str.maketrans("OIL", "011"))
