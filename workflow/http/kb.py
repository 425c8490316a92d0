"""The experience base over HTTP: searched and read with any token (``read``), written with the
``kb`` scope, used on a ticket with ``operate`` — each the same engine call as ``faultflow kb``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from .auth import Editor, Operator, Reader
from .tickets import ticket_answer

router = APIRouter(tags=["experience base"])


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symptom: str | None = None
    cause: str | None = None
    fix: str | None = None
    models: list[str] | None = None
    tickets: list[str] | None = None
    line_kind: str | None = None
    spare: str | None = None


class Use(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: int
    note: str | None = None


@router.get("/v1/kb", summary="Search the experience base, best first")
def search(
    request: Request, token: Reader, q: Annotated[str, Query(description="the words")],
    limit: Annotated[int, Query(ge=1, le=100)] = 10, all_states: bool = False,
) -> dict[str, Any]:  # fmt: skip
    found = request.app.state.engine.kb_search(q, limit, all_states)
    return {"results": [f.to_dict() for f in found]}


@router.get("/v1/kb/entries", summary="Entries, newest first")
def entries(
    request: Request, token: Reader, state: str = "approved",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:  # fmt: skip
    states = None if state == "all" else [state]
    return {"entries": [e.to_dict() for e in request.app.state.engine.kb_entries(states, limit)]}


@router.get("/v1/kb/{entry_id}", summary="One entry")
def entry(entry_id: int, request: Request, token: Reader) -> dict[str, Any]:
    found: dict[str, Any] = request.app.state.engine.kb_entry(entry_id).to_dict()
    return found


@router.post("/v1/kb", summary="Add an entry (a draft)", status_code=201)
def add(body: Fields, request: Request, token: Editor) -> dict[str, Any]:
    made = request.app.state.engine.kb_add(body.model_dump(exclude_none=True), token.actor)
    answer: dict[str, Any] = made.to_dict()
    return answer


@router.patch("/v1/kb/{entry_id}", summary="Change fields of an entry")
def edit(entry_id: int, body: Fields, request: Request, token: Editor) -> dict[str, Any]:
    engine = request.app.state.engine
    answer: dict[str, Any] = engine.kb_edit(
        entry_id, body.model_dump(exclude_none=True), token.actor
    ).to_dict()
    return answer


@router.post("/v1/kb/{entry_id}/approve", summary="Approve a draft: it is suggested from now on")
def approve(entry_id: int, request: Request, token: Editor) -> dict[str, Any]:
    answer: dict[str, Any] = request.app.state.engine.kb_approve(entry_id, token.actor).to_dict()
    return answer


@router.post("/v1/kb/{entry_id}/retire", summary="Retire an entry: never suggested again")
def retire(entry_id: int, request: Request, token: Editor) -> dict[str, Any]:
    answer: dict[str, Any] = request.app.state.engine.kb_retire(entry_id, token.actor).to_dict()
    return answer


@router.post("/v1/tickets/{ticket_id}/kb", summary="Record that an entry helped with a ticket")
def use(ticket_id: str, body: Use, request: Request, token: Operator) -> Any:
    engine = request.app.state.engine
    return ticket_answer(engine.kb_use(ticket_id, body.entry, token.actor, body.note))
