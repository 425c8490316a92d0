"""What the web pages need beyond the API: a board session in a cookie, CSRF tokens on every
form, a per-address limit on the public forms, and reading a posted form.

- A **session** is the token the operator logged in with (by the digest of its secret: the
  secret itself is never kept), signed with the database's web key and the time of login. It
  lasts :data:`SESSION_S`; revoking the token ends every session of it within the token cache's
  5 s. The cookie is HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS.
- A **form token** binds a form to the browser that loaded it: a random browser id in an
  HttpOnly cookie, and in the form a signed (browser id, nonce, time). A token from another
  browser, older than :data:`FORM_S`, or altered, is refused. Each nonce is good for one
  submission, in every process: a spent nonce is claimed in the database (``meta``, forgotten by
  the run loop's maintenance once its token has expired), with a memory of this process's
  before it to spare the database a replay it has seen.
- The **limit** is a token bucket per client address (``request.client.host``; behind a proxy,
  ``faultflow serve --forwarded-allow-ips PROXY`` makes it the real address; without that
  option no X-Forwarded-For is trusted, from localhost neither).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..access.tokens import Token
from .intake import read_body

SESSION = "ff_session"
BROWSER = "ff_browser"
SESSION_S = 12 * 3600  # a duty shift
FORM_S = 4 * 3600  # a form left open over lunch still sends
MAX_FORM = 64 * 1024  # bytes of a posted form


class BadForm(Exception):
    """A form that cannot be taken: why, in the words-table key that says it to the user."""

    def __init__(self, key: str, status: int = 400, detail: str = "") -> None:
        super().__init__(detail or key)
        self.key, self.status, self.detail = key, status, detail


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name, value, max_age=age, httponly=True, samesite="strict", secure=secure(request),
        path="/",
    )  # fmt: skip


# -- forms --------------------------------------------------------------------------------------


async def read_form(request: Request, limit: int = MAX_FORM) -> dict[str, str]:
    """A posted ``application/x-www-form-urlencoded`` form (the pages post nothing else); the
    last value of a repeated field."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadForm("error.form", 415, f"a form is sent as urlencoded, not {kind or 'nothing'}")
    try:
        body = await read_body(request, limit)
    except Exception:
        raise BadForm("error.size", 413) from None
    try:
        text = body.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise BadForm("error.form", 400, "the form is not UTF-8 text") from None


def browser_id(request: Request) -> str:
    """This browser's id (made now if it has none: :func:`keep_browser` sets the cookie)."""
    known = request.cookies.get(BROWSER, "")
    if known and len(known) == 22 and known.replace("-", "").replace("_", "").isalnum():
        return known
    made = request.state.__dict__.setdefault("new_browser", secrets.token_urlsafe(16))
    return str(made)


def keep_browser(request: Request, response: Response) -> None:
    if "new_browser" in request.state.__dict__:
        set_cookie(response, request, BROWSER, request.state.new_browser, 365 * 86400)


def form_token(request: Request) -> str:
    """A fresh token for one form on a page this request renders."""
    signer = request.app.state.engine.signer
    nonce = secrets.token_urlsafe(12)
    return str(signer.stamped("form", (browser_id(request), nonce), int(time.time())))


async def spend(request: Request, nonce: str, expires_s: int) -> None:
    """Use a form's nonce up, in every process that shares the database; :class:`BadForm`
    (409) when it was used before."""
    used: Used = request.app.state.used_nonces
    if not used.first(nonce):
        raise BadForm("error.replay", 409, "this form was sent already")
    if not await call(request.app.state.engine.spend_form, nonce, expires_s):
        raise BadForm("error.replay", 409, "this form was sent already")


async def check_form(request: Request, form: dict[str, str], once: bool = True) -> str:
    """The form's nonce, if its token is good for this browser (and, with ``once``, not used
    before, in any process); :class:`BadForm` otherwise."""
    signer = request.app.state.engine.signer
    token = form.get("csrf", "")
    parts = signer.unstamped("form", token, int(time.time()), FORM_S) if token else None
    if parts is None or len(parts) != 2 or parts[0] != request.cookies.get(BROWSER):
        raise BadForm("error.form", 403, "the form's token is missing, stale or not this browser's")
    nonce = parts[1]
    if once:
        await spend(request, nonce, int(time.time()) + FORM_S)
    return nonce


class Used:
    """The nonces spent in this process lately (bounded: the oldest are forgotten first)."""

    def __init__(self, size: int = 100_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first(self, nonce: str) -> bool:
        if nonce in self._seen:
            return False
        self._seen[nonce] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


# -- the public forms' limit ----------------------------------------------------------------


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- board sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    token: Token
    cookie: str

    @property
    def actor(self) -> str:
        return self.token.actor

    def allows(self, scope: str) -> bool:
        return self.token.allows(scope)

    def csrf(self, request: Request) -> str:
        """The token the board forms of one rendered page carry: bound to this session, with a
        nonce of its own (a form sent twice — a double click, a replay — acts once)."""
        signer = request.app.state.engine.signer
        bound = signer.mac("board-form", self.cookie)
        nonce = secrets.token_urlsafe(12)
        return str(signer.stamped("board-form", (bound, nonce), int(time.time())))

    async def check(self, request: Request, form: dict[str, str]) -> None:
        signer = request.app.state.engine.signer
        token = form.get("csrf", "")
        now = int(time.time())
        parts = signer.unstamped("board-form", token, now, SESSION_S) if token else None
        bound = signer.mac("board-form", self.cookie)
        if parts is None or len(parts) != 2 or not hmac.compare_digest(parts[0], bound):
            raise BadForm("error.form", 403, "the form's token is missing or not this session's")
        await spend(request, parts[1], now + SESSION_S)


def login_cookie(request: Request, digest: str) -> str:
    signer = request.app.state.engine.signer
    # a nonce of its own: two logins with one token in one second are two sessions
    nonce = secrets.token_urlsafe(9)
    return str(signer.stamped("session", (digest, nonce), int(time.time())))


async def session(request: Request) -> Session | None:
    """The board session of this request, if it has a good one: signed, younger than a shift,
    its token active, and not logged out."""
    cookie = request.cookies.get(SESSION)
    if not cookie:
        return None
    engine: Any = request.app.state.engine
    now = int(time.time())
    parts = engine.signer.unstamped("session", cookie, now, SESSION_S)
    if parts is None or len(parts) != 2:
        return None
    token = await request.app.state.tokens.find_digest(parts[0])
    if token is None:
        return None
    if await run_in_threadpool(engine.session_ended, session_id(cookie)):
        return None  # logged out: a copy of the cookie is no good either
    return Session(token, cookie)


def session_id(cookie: str) -> str:
    """What the database keeps of a logged-out session: a digest of its cookie."""
    return hashlib.sha256(cookie.encode()).hexdigest()[:32]


call = run_in_threadpool
