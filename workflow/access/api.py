"""The Engine's API for the web's signed links and for API tokens (mixed into
:class:`~faultflow.Engine`; each method delegates to signing.py and tokens.py)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from ..access import tokens
from ..access.signing import Signer, track
from ..db import contracts
from ..tickets.parts import EngineParts

if TYPE_CHECKING:
    from ..access.signing import Signer
    from ..access.tokens import Token
    from ..tickets.views import Ticket


class AccessAPI(EngineParts):
    """Part of the Engine's API (see the module's docstring)."""

    @cached_property
    def signer(self) -> Signer:
        """Signs the web's tracking links, sessions and form tokens under a key of the database
        (the same in every process on it, and across restarts)."""
        return Signer(contracts.site_key(self.store, "web"))

    def tracking_code(self, ticket_id: str) -> str:
        """The reporter's private code for one ticket (the portal's ``/t/CODE``): the id with
        128 bits of signature, so that no other ticket can be reached from it."""
        return self.signer.sign("track", ticket_id)

    def tracked(self, code: str) -> Ticket:
        """The ticket a tracking code opens; :class:`UnknownTicket` for any code not ours."""
        return self.get(track(self.signer, code))

    def create_token(
        self, name: str, scopes: Sequence[str], actor: str | None = None
    ) -> tuple[Token, str]:
        """Make an API token for ``faultflow serve``: the token, and its secret (shown this once,
        never stored). ``actor``: whom the history names for what it does (default: its name)."""
        who = self._changes.policy.actor_name(actor or name)
        channels = set(self.registry.channels)
        zone = self.contract.timezone
        return tokens.create(self.store, name, list(scopes), channels, who, self._now_us(), zone)

    def tokens(self) -> builtins.list[Token]:
        """Every token, revoked ones too (never their secrets)."""
        return tokens.listed(self.store, self.contract.timezone)

    def revoke_token(self, name: str) -> Token:
        """Revoke a token for good (it stays listed, revoked)."""
        return tokens.revoke(self.store, name, self._now_us(), self.contract.timezone)

    def authenticate(self, secret: str | None = None, *, digest: str | None = None) -> Token | None:
        """The active token whose secret this is (or whose secret has this SHA-256 ``digest``:
        a board session keeps the digest, never the secret), or ``None``."""
        wanted = tokens.digest(secret) if secret is not None else digest or ""
        return tokens.authenticate(self.store, wanted, self.contract.timezone)

    # -- board sessions ------------------------------------------------------------------------

    def end_session(self, session_id: str) -> None:
        """Log out one board session for good (``session_id``: a digest of its cookie): the
        cookie is refused from now on, in every process, wherever a copy of it is."""
        contracts.set_meta(self.store, f"session-ended:{session_id}", str(int(time.time())))

    def spend_form(self, nonce: str, expires_s: int) -> bool:
        """Use up one web form's nonce (good until ``expires_s``, a Unix time): ``True`` the
        first time, in whichever process, ``False`` ever after."""
        return contracts.claim(self.store, f"{contracts.SPENT}{nonce}", str(expires_s))

    def session_ended(self, session_id: str) -> bool:
        """Whether that board session was logged out."""
        return contracts.meta(self.store, f"session-ended:{session_id}") is not None
