"""Inspection rounds over HTTP: read with any token, done with the ``inspect`` scope (or
``operate``) — each the same engine call as ``faultflow inspect``; and the calendar feed of the
coming rounds and of each person's shifts (iCalendar), for a phone's calendar to subscribe to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from .auth import Inspector, Reader

router = APIRouter(tags=["inspection rounds"])


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str
    value: str | float | bool
    note: str | None = None
    target: str | None = None


class Finish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = None


class Skip(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


@router.get("/v1/inspections", summary="Rounds made for a window (default: today)")
def rounds(
    request: Request, token: Reader, start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None, plan: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict[str, Any]:  # fmt: skip
    found = request.app.state.engine.rounds(start, end, plan, status, limit)
    return {"rounds": [r.to_dict() for r in found]}


@router.get("/v1/inspections/plans", summary="When the contract's plans place rounds")
def plans(
    request: Request, token: Reader, start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None, plan: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {"rounds": [r.to_dict() for r in request.app.state.engine.planned(start, end, plan)]}


@router.get("/v1/inspections/{plan}/{stamp}", summary="One round, with its answers")
def one(plan: str, stamp: str, request: Request, token: Reader) -> dict[str, Any]:
    engine = request.app.state.engine
    rid = f"{plan}/{stamp}"
    found: dict[str, Any] = engine.round(rid).to_dict()
    found["history"] = engine.round_history(rid)
    return found


@router.post("/v1/inspections/{plan}/{stamp}/start", summary="Start a round")
def start(plan: str, stamp: str, request: Request, token: Inspector) -> dict[str, Any]:
    done: dict[str, Any] = request.app.state.engine.inspect_start(
        f"{plan}/{stamp}", token.actor
    ).to_dict()
    return done


@router.post("/v1/inspections/{plan}/{stamp}/answers", summary="Record one item's answer")
def answer(
    plan: str, stamp: str, body: Answer, request: Request, token: Inspector
) -> dict[str, Any]:
    done: dict[str, Any] = request.app.state.engine.inspect_record(
        f"{plan}/{stamp}", body.item, body.value, token.actor, body.note, body.target
    ).to_dict()
    return done


@router.post("/v1/inspections/{plan}/{stamp}/finish", summary="Finish a round")
def finish(
    plan: str, stamp: str, request: Request, token: Inspector, body: Finish | None = None
) -> dict[str, Any]:
    note = body.note if body is not None else None
    done: dict[str, Any] = request.app.state.engine.inspect_finish(
        f"{plan}/{stamp}", token.actor, note
    ).to_dict()
    return done


@router.post("/v1/inspections/{plan}/{stamp}/skip", summary="Skip a round, with the reason")
def skip(plan: str, stamp: str, body: Skip, request: Request, token: Inspector) -> dict[str, Any]:
    done: dict[str, Any] = request.app.state.engine.inspect_skip(
        f"{plan}/{stamp}", body.reason, token.actor
    ).to_dict()
    return done


@router.get("/calendar/{code}.ics", summary="The calendar feed of a signed link (no token)",
            response_class=Response)  # fmt: skip
def calendar(
    code: str, request: Request, days: Annotated[int, Query(ge=1, le=366)] = 30,
    lang: str | None = None,
) -> Response:  # fmt: skip
    engine = request.app.state.engine
    person = engine.feed_person(code)
    body = engine.calendar_feed(person, days, lang if lang in ("zh", "en") else None)
    return Response(body, media_type="text/calendar; charset=utf-8")
