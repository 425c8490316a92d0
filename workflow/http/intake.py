"""``POST /v1/intake/{channel}``: what a channel delivers, as the channel reads it.

The body is JSON (``application/json``), an e-mail (``message/rfc822``) for the ``email`` channel,
or a web form (``application/x-www-form-urlencoded``). The answer is the JSON of ``intake --json``
(SPEC §8): 201 when a ticket was opened (or a recurrence), 200 for a duplicate or a note.

The work runs in the intake lane (``admission.py``): 503 when the lane is full, 429 past the
token's share, both with ``Retry-After`` and before the body is read.

It is the hot path of a storm, so the app answers it at its door (:func:`door`), in front of
FastAPI's middleware stack: the same handler and the same error answers, without the five
layers of middleware each request would otherwise pass through twice.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..errors import FaultflowError, IntakeError
from .admission import Busy, Gone, TooMany
from .auth import authorized
from .errors import status_of

PATH = "/v1/intake/{channel}"
_PREFIX = PATH.partition("{")[0]


class TooLarge(Exception):
    """413: the body is over the size limit."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is over the limit of {limit:,} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes: a huge or endless
    body is never held whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise Gone() from None
    return b"".join(chunks)


def payload_of(body: bytes, content_type: str) -> Any:
    """What the channel adapter is handed: a form as a mapping, anything else as bytes (the
    adapter reads JSON or a message itself)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise IntakeError("the form is not UTF-8 text") from None
        return dict(parse_qsl(text, keep_blank_values=False))
    return body


def channel_at(scope: Scope) -> str | None:
    """The channel when ``scope`` is a delivery (``POST /v1/intake/{channel}``), else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(f"{root}/"):  # mounted under a prefix (as Starlette routes it)
        path = path[len(root) :]
    if not path.startswith(_PREFIX):
        return None
    channel = path[len(_PREFIX) :]
    return channel if channel and "/" not in channel else None


async def door(app: Any, scope: Scope, receive: Receive, send: Send, channel: str) -> None:
    """Answer a delivery to ``channel`` as the route would, without the middleware stack: its
    refusals through the app's own exception handlers; anything else raised is the server's to
    log and answer 500, as it would be behind the stack."""
    scope["app"] = app
    scope["path_params"] = {"channel": channel}
    request = Request(scope, receive, send)
    try:
        response = await intake(request)
    except Exception as err:
        # the app's handlers, by the error's class or the nearest it derives from; all are
        # ``async (request, err) -> Response`` (``http._errors``)
        handlers = app.exception_handlers
        handler = next((handlers[c] for c in type(err).__mro__ if c in handlers), None)
        if handler is None:
            raise
        response = await handler(request, err)
    await response(scope, receive, send)


def route() -> Route:
    """``POST /v1/intake/{channel}`` as a plain Starlette route: no dependency graph, no request
    model, no response model (``openapi_operation`` documents it). The app answers a POST at
    its :func:`door`; the route is what the router knows of it (another method is a 405)."""
    return Route(PATH, intake, methods=["POST"], name="intake")


async def intake(request: Request) -> Response:
    app = request.app
    channel: str = request.path_params["channel"]
    token = await authorized(request, f"intake:{channel}")
    metrics, lane = app.state.metrics, app.state.intake
    try:
        with lane.admit():
            lane.share(token.name)  # counted only for what the lane admits (a 503 is free)
            body = await read_body(request, app.state.max_body)
            payload = payload_of(body, request.headers.get("content-type", "application/json"))
            outcomes, content = await lane.run(request, _intake, channel, payload, token.actor)
    except Gone:
        metrics.gone()
        return Response(None, status_code=499)  # nobody reads it: the client has gone
    except FaultflowError as err:
        metrics.intake(channel, "refused", status_of(err))
        raise
    except (Busy, TooMany, TooLarge) as err:
        metrics.intake(channel, "refused", err.status)
        raise
    opened = any(outcome in ("opened", "recurrence") for outcome in outcomes)
    status = 201 if opened else 200
    for outcome in outcomes:
        metrics.intake(channel, outcome, status)
    return Response(content, status_code=status, media_type="application/json")


def _intake(engine: Any, channel: str, payload: Any, actor: str) -> tuple[list[str], bytes]:
    """The intake and its answer, rendered, both by the lane's hands (on its thread, or in
    serve's intake process): building the answer may read a ticket's history, which must not
    happen on the event loop."""
    results = engine.with_suggestions(engine.intake_all(channel, payload, actor))
    outcomes = [r.outcome for r in results]
    if len(results) == 1:
        content: Any = results[0].to_dict()
    else:
        content = {"results": [r.to_dict() for r in results]}
    return outcomes, json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def openapi_operation() -> dict[str, Any]:
    """The OpenAPI description of the route (FastAPI documents only its own routes)."""
    refusal = {"type": "object", "properties": {"error": {"type": "string"}}}
    error = {"content": {"application/json": {"schema": refusal}}}
    answer = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "post": {
            "tags": ["intake"],
            "summary": "Deliver faults through a channel",
            "description": (__doc__ or "").split("\n\n", 1)[1].strip(),
            "operationId": "intake",
            "parameters": [
                {"name": "channel", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "201": {"description": "a ticket (or a recurrence) was opened", **answer},
                "200": {"description": "a duplicate, or a note on an open ticket", **answer},
                "401": {"description": "no token, or not one we know", **error},
                "403": {"description": "the token may not deliver to this channel", **error},
                "413": {"description": "the body is over the size limit", **error},
                "422": {"description": "the channel cannot read the payload", **error},
                "429": {"description": "this token sent more than its share", **error},
                "503": {"description": "the intake lane is full (Retry-After)", **error},
            },
        }
    }
