"""Reports and the audit chain over HTTP: the compliance report, a ticket's handling report
(P11), and ``verify``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidInput
from ..words import LANGUAGES, Words
from .auth import Admin, Reader

router = APIRouter(tags=["reports"])


@router.get("/v1/report", summary="SLA compliance over a period")
def report(
    request: Request,
    token: Reader,
    start: Annotated[
        str | None, Query(alias="from", description="default: 30 days before to")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="default: now")] = None,
    format: str = "json",
    lang: str | None = None,
    unit: Annotated[str | None, Query(description="only the tickets of this unit")] = None,
) -> Response:
    engine = request.app.state.engine
    if lang is not None and lang not in LANGUAGES:
        raise InvalidInput(f"language {lang!r}: use {' or '.join(LANGUAGES)}")
    if format not in ("json", "csv", "html"):
        raise InvalidInput(f"format {format!r}: use json, csv or html")
    result = engine.report(start, end, unit)
    if format == "json":
        return JSONResponse(result.to_dict())
    if format == "csv":
        from ..reports.render import to_csv

        return PlainTextResponse(to_csv(result), media_type="text/csv; charset=utf-8")
    from ..contract.graph import lifecycle_html
    from ..reports.html import render

    w = Words(lang or engine.contract.language)
    drawing = lifecycle_html(engine.contract, w)
    return HTMLResponse(render(result, lifecycle=drawing, contract=engine.contract, words=w))


@router.get("/v1/tickets/{ticket_id}/handling-report", summary="The customer's report (P11)")
def handling_report(
    ticket_id: str,
    request: Request,
    token: Reader,
    format: str = "md",
    lang: str | None = None,
) -> Response:
    text = request.app.state.engine.handling_report(ticket_id, format, lang)
    if format == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/v1/verify", summary="Check the audit chain and the rows beside it")
async def verify(request: Request, token: Admin) -> Any:
    """``{"ok", "events", "tickets", "sealed", "broken": [...]}``; 200 whether or not the
    history holds (the check itself succeeded): read ``ok``."""
    result = await run_in_threadpool(request.app.state.engine.verify)
    return JSONResponse(result.to_dict())
