"""Signed values for the web: a tracking link that opens one ticket, a board session, a form's
CSRF token. HMAC-SHA256 under a key of the database (``Store.site_key``), each use with its own
purpose so that a value signed for one cannot be passed off as another. Pure: no clock of its
own (a caller passes the time), no storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..errors import UnknownTicket

_SEP = "."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Signer:
    """Signs and checks short text values under ``key``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def mac(self, purpose: str, value: str, size: int = 16) -> str:
        """``size`` bytes (16: 128 bits) of HMAC over the purpose and the value, URL-safe."""
        digest = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return _b64(digest[:size])

    def sign(self, purpose: str, value: str, size: int = 16) -> str:
        """``value.MAC``; ``value`` may not contain a dot (ids, numbers and URL-safe text)."""
        if _SEP in value:
            raise ValueError("a signed value may not contain '.'")
        return f"{value}{_SEP}{self.mac(purpose, value, size)}"

    def unsign(self, purpose: str, signed: str, size: int = 16) -> str | None:
        """The value, if ``signed`` is one this key signed for ``purpose``; else ``None``."""
        value, sep, mac = signed.rpartition(_SEP)
        if not sep or not value:
            return None
        return value if hmac.compare_digest(mac, self.mac(purpose, value, size)) else None

    def stamped(self, purpose: str, parts: tuple[str, ...], at: int) -> str:
        """A signed value made of ``parts`` and the time ``at`` (seconds), ``~``-joined."""
        return self.sign(purpose, "~".join((*parts, str(at))))

    def unstamped(
        self, purpose: str, signed: str, now: int, max_age: int
    ) -> tuple[str, ...] | None:
        """The parts of a :meth:`stamped` value not older than ``max_age`` seconds at ``now``."""
        value = self.unsign(purpose, signed)
        if value is None:
            return None
        *parts, at = value.split("~")
        if not at.isdigit() or not 0 <= now - int(at) <= max_age:
            return None
        return tuple(parts)


def track(signer: Signer, code: str) -> str:
    """The ticket id a tracking code names; :class:`UnknownTicket` for any code not ours."""
    ticket_id = signer.unsign("track", code)
    if ticket_id is None:
        raise UnknownTicket("no ticket has this tracking link (check it was copied whole)")
    return ticket_id
