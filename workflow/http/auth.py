"""Who is calling: a token's secret as ``Authorization: Bearer SECRET``, or as the password of
HTTP Basic (for clients that only do Basic). 401 when it is missing or wrong, 403 when the token
lacks the scope; neither says which tokens exist. The token's actor is who the history names."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ..access.tokens import Token, digest


class Unauthorized(Exception):
    """401: no token, or not one we know."""


class Forbidden(Exception):
    """403: a token without the scope this needs."""

    def __init__(self, needed: str) -> None:
        super().__init__(f"this token may not do that (it needs the scope {needed})")


def secret_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    kind, value = kind.lower(), value.strip()
    if kind == "bearer" and value:
        return value
    if kind == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, password = decoded.partition(":")
        return password or None
    return None


CACHE_S = 5.0
"""How long a process trusts a token it has looked up: a revocation takes effect within this."""


class Tokens:
    """The tokens this process has looked up lately, by the digest of their secret: most
    requests then need no database read (and no thread) to authenticate."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._known: dict[str, tuple[float, Token | None]] = {}

    async def find(self, secret: str) -> Token | None:
        return await self.find_digest(digest(secret))

    async def find_digest(self, key: str) -> Token | None:
        """The active token whose secret has the SHA-256 ``key`` (a board session's)."""
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        token = await run_in_threadpool(lambda: self.engine.authenticate(digest=key))
        if len(self._known) > 1024:
            self._known.clear()  # a flood of wrong secrets must not grow it without end
        self._known[key] = (now, token)
        return token


async def authorized(request: Request, needed: str) -> Token:
    """The calling token, if it has the scope ``needed`` (:class:`Unauthorized`,
    :class:`Forbidden` otherwise); kept on ``request.state.token``."""
    secret = secret_of(request)
    token = None if secret is None else await request.app.state.tokens.find(secret)
    if token is None:
        raise Unauthorized()
    if not token.allows(needed):
        raise Forbidden(needed)
    request.state.token = token
    return token


def requires(scope: str) -> Callable[[Request], Any]:
    """A FastAPI dependency: the calling token, if it has ``scope``."""

    async def check(request: Request) -> Token:
        return await authorized(request, scope)

    return check


# What each route needs, as parameter types (FastAPI's Annotated dependencies).
Reader = Annotated[Token, Depends(requires("read"))]
Operator = Annotated[Token, Depends(requires("operate"))]
Registrar = Annotated[Token, Depends(requires("registry"))]
Editor = Annotated[Token, Depends(requires("kb"))]
Inspector = Annotated[Token, Depends(requires("inspect"))]
Admin = Annotated[Token, Depends(requires("admin"))]
