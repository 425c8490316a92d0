"""Maintenance windows over HTTP: read with ``read``, scheduled and called off with
``operate`` — each the same engine call as ``faultflow maintenance`` (docs/maintenance.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from .auth import Operator, Reader

router = APIRouter(tags=["maintenance"])


class New(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    scope: str
    reason: str


class CallOff(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


@router.get("/v1/maintenance", summary="The maintenance windows, soonest first")
def listed(
    request: Request, token: Reader, start: str | None = None, end: str | None = None,
    cancelled: bool = False,
) -> dict[str, Any]:  # fmt: skip
    found = request.app.state.engine.maintenance(start, end, cancelled=cancelled)
    return {"windows": [w.to_dict() for w in found]}


@router.post("/v1/maintenance", summary="Schedule a maintenance window", status_code=201)
def add(body: New, request: Request, token: Operator) -> dict[str, Any]:
    engine = request.app.state.engine
    made = engine.maintenance_add(body.start, body.end, body.scope, body.reason, token.actor)
    found: dict[str, Any] = made.to_dict()
    return found


@router.get("/v1/maintenance/{window_id}", summary="One window, with the tickets it touched")
def one(window_id: str, request: Request, token: Reader) -> dict[str, Any]:
    found: dict[str, Any] = request.app.state.engine.maintenance_window(window_id).to_dict()
    return found


@router.delete("/v1/maintenance/{window_id}", summary="Call a window off")
def cancel(window_id: str, body: CallOff, request: Request, token: Operator) -> dict[str, Any]:
    engine = request.app.state.engine
    found: dict[str, Any] = engine.maintenance_cancel(window_id, body.reason, token.actor).to_dict()
    return found
