"""Tickets: look (``read``) and change (``operate``). A change answers with the ticket as it is
afterwards; ``If-Match`` with the version a client last saw (the ``ETag`` of
``GET /v1/tickets/{id}``) refuses (409) a change made on a stale view, inside the change's own
transaction."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInput, UnknownTicket
from .auth import Operator, Reader

router = APIRouter(tags=["tickets"])
MAX_PAGE = 500


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a body cannot claim an actor, or anything else


class Advance(_Body):
    trigger: str
    at: str | None = None
    note: str | None = None
    reason: str | None = None
    spare: str | None = None  # substitute: the spare taken from stock
    model: str | None = None  # substitute: the faulty part's model, when its device is unknown
    faulty: str | None = None  # substitute: the part taken out, when not the ticket's device


class Reclassify(_Body):
    tier: str | None = None
    kind: str | None = None
    cause: str | None = None
    reason: str
    at: str | None = None


class Hold(_Body):
    reason: str
    at: str | None = None


class Resume(_Body):
    note: str | None = None
    at: str | None = None


class Note(_Body):
    text: str
    at: str | None = None


class Ack(_Body):
    note: str | None = None


class Escalate(_Body):
    reason: str


class Assign(_Body):
    person: str
    reason: str


class Locate(_Body):
    unit: str | None = None
    site: str | None = None
    line: str | None = None
    device: str | None = None
    note: str | None = None


def _etag(version: int) -> str:
    return f'"{version}"'


def _version(request: Request) -> int | None:
    """The version an ``If-Match`` header names (``"3"`` or ``3``), if any."""
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput(f"If-Match: {value!r} is not a ticket version (an ETag of this API)")
    return int(text)


def ticket_answer(ticket: Any, status: int = 200) -> JSONResponse:
    """A ticket as a change answers it: its JSON and its version as the ``ETag``."""
    return JSONResponse(
        ticket.to_dict(), status_code=status, headers={"ETag": _etag(ticket.version)}
    )


def _cursor(value: str | None) -> str | None:
    """The ticket a page starts behind (``None``: the first page)."""
    if value is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(value.encode()).decode())["after"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        after = None
    if not isinstance(after, str) or not after:
        raise InvalidInput("cursor: not one this API gave (use next_cursor as it is)")
    return after


def _next(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


@router.get("/v1/tickets", summary="Tickets, most urgent first")
def tickets(
    request: Request,
    token: Reader,
    state: str | None = None,
    tier: str | None = None,
    breached: bool | None = None,
    open: Annotated[bool | None, Query(description="true: not final; false: final")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
    unit: Annotated[str | None, Query(description="only the tickets at this unit")] = None,
) -> dict[str, Any]:
    """Without history (``GET /v1/tickets/{id}`` has it). The order is by urgency as of the
    request (breached first, then the nearest due): ``next_cursor`` pages through it by keyset
    (each page starts behind the last ticket of the one before, where that ticket stands
    now), and only the rows of a page are read."""
    after = _cursor(cursor)
    final = None if open is None else not open
    engine = request.app.state.engine
    try:
        found = engine.list(
            state=state, tier=tier, breached=breached, final=final, limit=limit + 1,
            after=after, unit=unit,
        )  # fmt: skip
    except UnknownTicket:
        raise InvalidInput("cursor: not one this API gave (use next_cursor as it is)") from None
    page, more = found[:limit], len(found) > limit
    return {
        "tickets": [t.to_dict() for t in page],
        "next_cursor": _next(page[-1].id) if more else None,
    }


@router.get("/v1/tickets/{ticket_id}", summary="One ticket, with its history")
def ticket(ticket_id: str, request: Request, token: Reader) -> Any:
    return ticket_answer(request.app.state.engine.get(ticket_id))


@router.get("/v1/tickets/{ticket_id}/history", summary="A ticket's history")
def history(ticket_id: str, request: Request, token: Reader) -> dict[str, Any]:
    found = request.app.state.engine.get(ticket_id)
    return {"ticket": found.id, "history": [e.to_dict() for e in found.history]}


@router.post("/v1/tickets/{ticket_id}/advance", summary="Fire a trigger")
def advance(ticket_id: str, body: Advance, request: Request, token: Operator) -> Any:
    engine = request.app.state.engine
    moved = engine.advance(
        ticket_id,
        body.trigger,
        actor=token.actor,
        at=body.at,
        note=body.note,
        reason=body.reason,
        version=_version(request),
        spare=body.spare,
        model=body.model,
        faulty=body.faulty,
    )
    return ticket_answer(moved)


@router.post("/v1/tickets/{ticket_id}/reclassify", summary="Change tier, kind or cause")
def reclassify(ticket_id: str, body: Reclassify, request: Request, token: Operator) -> Any:
    moved = request.app.state.engine.reclassify(
        ticket_id, tier=body.tier, kind=body.kind, cause=body.cause, reason=body.reason,
        actor=token.actor, at=body.at, version=_version(request),
    )  # fmt: skip
    return ticket_answer(moved)


@router.post("/v1/tickets/{ticket_id}/hold", summary="Pause the pausable clocks")
def hold(ticket_id: str, body: Hold, request: Request, token: Operator) -> Any:
    engine = request.app.state.engine
    held = engine.hold(
        ticket_id, reason=body.reason, actor=token.actor, at=body.at, version=_version(request)
    )
    return ticket_answer(held)


@router.post("/v1/tickets/{ticket_id}/resume", summary="Restart the paused clocks")
def resume(
    ticket_id: str,
    request: Request,
    token: Operator,
    body: Resume | None = None,
) -> Any:
    given = body or Resume()
    engine = request.app.state.engine
    resumed = engine.resume(
        ticket_id, actor=token.actor, at=given.at, note=given.note, version=_version(request)
    )
    return ticket_answer(resumed)


@router.post("/v1/tickets/{ticket_id}/notes", summary="Add a note", status_code=201)
def note(ticket_id: str, body: Note, request: Request, token: Operator) -> Any:
    engine = request.app.state.engine
    noted = engine.note(
        ticket_id, body.text, actor=token.actor, at=body.at, version=_version(request)
    )
    return ticket_answer(noted, 201)


@router.post("/v1/tickets/{ticket_id}/ack", summary="Acknowledge: the pages stop")
def ack(ticket_id: str, request: Request, token: Operator, body: Ack | None = None) -> Any:
    given = body or Ack()
    acked = request.app.state.engine.ack(ticket_id, actor=token.actor, note=given.note)
    return ticket_answer(acked)


@router.post("/v1/tickets/{ticket_id}/escalate", summary="Escalate by hand (the next step now)")
def escalate(ticket_id: str, body: Escalate, request: Request, token: Operator) -> Any:
    engine = request.app.state.engine
    return ticket_answer(engine.escalate(ticket_id, reason=body.reason, actor=token.actor))


@router.post("/v1/tickets/{ticket_id}/assign", summary="Hand the ticket over to a person")
def assign(ticket_id: str, body: Assign, request: Request, token: Operator) -> Any:
    moved = request.app.state.engine.assign(
        ticket_id, body.person, reason=body.reason, actor=token.actor, version=_version(request)
    )
    return ticket_answer(moved)


@router.post("/v1/tickets/{ticket_id}/locate", summary="Set or correct where a ticket is")
def locate(ticket_id: str, body: Locate, request: Request, token: Operator) -> Any:
    moved = request.app.state.engine.locate(
        ticket_id, unit=body.unit, site=body.site, line=body.line, device=body.device,
        actor=token.actor, note=body.note, version=_version(request),
    )  # fmt: skip
    return ticket_answer(moved)


# -- one outage, many reports (tickets/groups.py) -------------------------------------------------


class Merge(_Body):
    into: str
    reason: str | None = None


class Unmerge(_Body):
    reason: str | None = None


class LinkBody(_Body):
    other: str
    as_: str = Field("related", alias="as")
    note: str | None = None


@router.post("/v1/tickets/{ticket_id}/merge", summary="Merge a report into its outage's ticket")
def merge(ticket_id: str, body: Merge, request: Request, token: Operator) -> Any:
    """The report ``ticket_id`` is merged into the open ticket ``into``: its clocks stop and it
    closes with it; ``into``'s promises run from the group's first report. The parent."""
    engine = request.app.state.engine
    return ticket_answer(engine.merge(ticket_id, body.into, actor=token.actor, reason=body.reason))


@router.delete("/v1/tickets/{ticket_id}/merge", summary="Take a report out of its outage")
def unmerge(ticket_id: str, request: Request, token: Operator, body: Unmerge | None = None) -> Any:
    """Its own clocks run again from its own report; the report."""
    given = body or Unmerge()
    engine = request.app.state.engine
    return ticket_answer(engine.unmerge(ticket_id, actor=token.actor, reason=given.reason))


@router.get("/v1/tickets/{ticket_id}/links", summary="A ticket's group and links")
def group(ticket_id: str, request: Request, token: Reader) -> dict[str, Any]:
    found: dict[str, Any] = request.app.state.engine.group(ticket_id).to_dict()
    return found


@router.post("/v1/tickets/{ticket_id}/links", summary="Link two tickets", status_code=201)
def link(ticket_id: str, body: LinkBody, request: Request, token: Operator) -> dict[str, Any]:
    engine = request.app.state.engine
    linked: dict[str, Any] = engine.link(
        ticket_id, body.other, body.as_, actor=token.actor, note=body.note
    ).to_dict()
    return linked


@router.delete("/v1/tickets/{ticket_id}/links/{other}", summary="Take back a link")
def unlink(ticket_id: str, other: str, request: Request, token: Operator) -> dict[str, Any]:
    found: dict[str, Any] = request.app.state.engine.unlink(
        ticket_id, other, actor=token.actor
    ).to_dict()
    return found


# -- the follow-up call (回访, followup/api.py) ---------------------------------------------


class FollowupBody(_Body):
    rating: int
    note: str | None = None


@router.post("/v1/tickets/{ticket_id}/followup", summary="Record a reported ticket's follow-up")
def followup(ticket_id: str, body: FollowupBody, request: Request, token: Operator) -> Any:
    found: dict[str, Any] = request.app.state.engine.followup(
        ticket_id, body.rating, body.note, actor=token.actor
    ).to_dict()
    return found


@router.get("/v1/followups", summary="The follow-ups (due, done, missed)")
def followups(request: Request, token: Reader, state: str | None = None) -> dict[str, Any]:
    return {"followups": [f.to_dict() for f in request.app.state.engine.followups(state)]}
