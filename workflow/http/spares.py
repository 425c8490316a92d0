"""Spare parts over HTTP: read with any token, moved with the ``registry`` scope (the stock is
kept by whoever keeps the registry) — each the same engine call as ``faultflow spares``. A
substitution takes one through ``POST /v1/tickets/{id}/advance`` (``"spare"``, ``"model"``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from ..errors import InvalidInput
from .auth import Reader, Registrar

router = APIRouter(tags=["spare parts"])


class New(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: str
    model: str
    location: str
    in_repair: bool = False
    note: str | None = None


class Movement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str  # move | repair | return | retire
    location: str | None = None
    note: str | None = None
    reason: str | None = None


@router.get("/v1/spares", summary="The spares (of a model, in a state, at a location)")
def listed(
    request: Request, token: Reader, model: str | None = None, state: str | None = None,
    location: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    found = request.app.state.engine.spares(model, state, location)
    return {"spares": [s.to_dict() for s in found]}


@router.get("/v1/spares/status", summary="Each model: spares by state, devices in the registry")
def status(request: Request, token: Reader) -> dict[str, Any]:
    return {"models": request.app.state.engine.spares_status()}


@router.get("/v1/spares/{serial}", summary="One spare, with every movement")
def one(serial: str, request: Request, token: Reader) -> dict[str, Any]:
    engine = request.app.state.engine
    return {**engine.spare(serial).to_dict(), "history": engine.spare_history(serial)}


@router.post("/v1/spares", summary="Register a spare", status_code=201)
def add(body: New, request: Request, token: Registrar) -> dict[str, Any]:
    state = "in_repair" if body.in_repair else "in_stock"
    made = request.app.state.engine.spares_add(
        body.serial, body.model, body.location, token.actor, body.note, state
    )
    answer: dict[str, Any] = made.to_dict()
    return answer


@router.post("/v1/spares/{serial}/movements", summary="Move, repair, return or retire a spare")
def move(serial: str, body: Movement, request: Request, token: Registrar) -> dict[str, Any]:
    engine, who = request.app.state.engine, token.actor
    if body.action == "move":
        done = engine.spares_move(serial, body.location or "", who, body.note)
    elif body.action == "repair":
        done = engine.spares_repair(serial, who, body.note)
    elif body.action == "return":
        done = engine.spares_return(serial, body.location, who, body.note)
    elif body.action == "retire":
        done = engine.spares_retire(serial, body.reason or "", who)
    else:
        raise InvalidInput(f"action: move, repair, return or retire (not {body.action!r})")
    answer: dict[str, Any] = done.to_dict()
    return answer
