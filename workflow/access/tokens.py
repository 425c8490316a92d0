"""API tokens for ``faultflow serve``: secrets, their scopes, and what each scope allows.

A secret is 256 random bits (``ff_`` + 43 URL-safe characters), shown once when the token is
made and never stored: the database keeps its SHA-256 (a secret that random needs no slow hash;
nothing can be guessed from the digest). A request names its token by the secret alone; the
lookup is by digest, and the stored digest is compared in constant time all the same.

Scopes: ``intake:CHANNEL`` (or ``intake:*``) to deliver faults through a channel; ``read`` to look
at tickets, reports and history; ``operate`` to change tickets (advance, reclassify, hold,
resume, notes; it includes ``read``); ``admin`` for everything (verify, tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ..db import tokens as tables
from ..db.records import TokenRecord
from ..errors import InvalidInput
from ..timekeeping.times import from_us

if TYPE_CHECKING:
    from ..db.store import Store

BASIC_SCOPES = ("read", "operate", "registry", "kb", "inspect", "admin")
"""read: look; operate: change tickets; registry: change the registry (units, lines, devices...);
kb: write the experience base; inspect: do inspection rounds (``operate`` may too); admin:
everything."""
PREFIX = "ff_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_secret() -> str:
    """A fresh secret: 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


def checked_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"token name {name!r}: letters, digits, '.', '-' and '_', at most 64 characters"
        )
    return name


def checked_scopes(scopes: tuple[str, ...] | list[str], channels: set[str]) -> tuple[str, ...]:
    """The scopes, each known (an ``intake:`` scope names an installed channel, or ``*``)."""
    if not scopes:
        raise InvalidInput(
            "a token needs at least one --scope: intake:CHANNEL, intake:*, read, operate, "
            "registry, kb, admin"
        )
    out = []
    for scope in scopes:
        if scope in BASIC_SCOPES or scope == "intake:*":
            pass
        elif scope.startswith("intake:"):
            channel = scope.removeprefix("intake:")
            if channel not in channels:
                raise InvalidInput(
                    f"scope {scope!r}: no channel {channel!r} (installed: "
                    f"{', '.join(sorted(channels))})"
                )
        else:
            raise InvalidInput(
                f"unknown scope {scope!r} (known: intake:CHANNEL, intake:*, read, operate, "
                "registry, kb, inspect, admin)"
            )
        if scope not in out:
            out.append(scope)
    return tuple(out)


def allows(scopes: tuple[str, ...], needed: str) -> bool:
    """Whether a token with ``scopes`` may do what needs ``needed``."""
    if "admin" in scopes or needed in scopes:
        return True
    if needed == "read" and any(s in scopes for s in ("operate", "registry", "kb", "inspect")):
        return True
    if needed == "inspect" and "operate" in scopes:  # the duty staff do rounds too
        return True
    return needed.startswith("intake:") and "intake:*" in scopes


@dataclass(frozen=True, slots=True)
class Token:
    """A token as shown: never its secret."""

    name: str
    scopes: tuple[str, ...]
    actor: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, needed: str) -> bool:
        return self.active and allows(self.scopes, needed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scopes": list(self.scopes),
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


# -- the tokens table -------------------------------------------------------------------------


def create(
    store: Store, name: str, scopes: list[str], channels: set[str], actor: str, now_us: int,
    zone: tzinfo,
) -> tuple[Token, str]:  # fmt: skip
    """Record a new token (its secret's digest only): the token, and the secret to show once."""
    name = checked_name(name)
    given = checked_scopes(scopes, channels)
    secret = new_secret()
    record = TokenRecord(name, digest(secret), " ".join(given), actor, now_us, None)
    tables.add(store, record)
    return shown(record, zone), secret


def listed(store: Store, zone: tzinfo) -> list[Token]:
    """Every token, revoked ones too."""
    return [shown(r, zone) for r in tables.every(store)]


def revoke(store: Store, name: str, now_us: int, zone: tzinfo) -> Token:
    """Revoke a token for good (it stays listed, revoked)."""
    if not tables.revoke(store, name, now_us):
        if tables.named(store, name) is None:
            raise InvalidInput(f"no token named {name!r} (see `faultflow token list`)")
        raise InvalidInput(f"token {name!r} is already revoked")
    record = tables.named(store, name)
    assert record is not None
    return shown(record, zone)


def authenticate(store: Store, wanted: str, zone: tzinfo) -> Token | None:
    """The active token whose secret's digest is ``wanted``, or ``None``."""
    record = tables.by_digest(store, wanted)
    if record is None or not same(record.digest, wanted) or record.revoked_us:
        return None
    return shown(record, zone)


def shown(r: TokenRecord, zone: tzinfo) -> Token:
    revoked = from_us(r.revoked_us, zone) if r.revoked_us is not None else None
    return Token(r.name, tuple(r.scopes.split()), r.actor, from_us(r.created_us, zone), revoked)
