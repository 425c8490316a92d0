"""The reporting portal (no login): ``/`` a form that opens a ticket through the ``web``
channel, ``/t/CODE`` the reporter's private tracking page (state, promises, public timeline,
the handling report once reported), ``/t/CODE/notes`` to add information.

The tracking code is the ticket id signed with the database's web key (``Engine.tracking_code``):
it opens that ticket and no other. The public timeline shows what happened, never the staff's
notes, pages or names of people on duty.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import FaultflowError, UnknownTicket
from .pages import link_for, page, path_for, refusal, said, words_for
from .sessions import BadForm, call, check_form, client, form_token, read_form

log = logging.getLogger("faultflow.http")
router = APIRouter(include_in_schema=False)

ACTOR = "portal"  # who the history names for what a reporter did through the portal
FIELDS = {"unit": 200, "name": 100, "phone": 40, "what": 8000, "attachments": 2000, "impact": 20}
REQUIRED = ("unit", "name", "phone", "what")
PUBLIC = {"intake", "planned", "cleared", "reclassify", "hold", "resume"}  # events in words


def _impacts(request: Request) -> list[str]:
    rules = request.app.state.engine.contract.channels.get("web", {}).get("impact") or {}
    return list(rules)


def _controls(text: str) -> bool:
    """Whether ``text`` holds control characters other than a line break or a tab."""
    return any(unicodedata.category(ch) == "Cc" and ch not in "\r\n\t" for ch in text)


def _checked(form: dict[str, str]) -> dict[str, str]:
    """The form's fields, stripped; refused if a required one is empty, one is too long, or one
    holds control characters (a line break and a tab aside)."""
    values = {name: form.get(name, "").strip() for name in FIELDS}
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        raise BadForm("error.missing", 422, ", ".join(missing))
    for name, limit in FIELDS.items():
        if len(values[name]) > limit:
            raise BadForm("error.size", 422, f"{name}: over {limit} characters")
        if _controls(values[name]):
            raise BadForm("error.controls", 422, f"{name}: control characters")
    return values


def _payload(values: dict[str, str], nonce: str) -> dict[str, Any]:
    what = values["what"]
    first = what.splitlines()[0].strip() if what else ""
    payload: dict[str, Any] = {
        "title": first[:80] + ("…" if len(first) > 80 else ""),
        "description": f"{what}\n\n— {values['unit']}",
        "reporter": f"{values['name']} ({values['unit']})",
        "contact": values["phone"],
        "unit": values["unit"],
        "external_id": f"portal-{nonce}",  # a replayed form is a duplicate, in any process
    }
    for optional in ("impact", "attachments"):
        if values[optional]:
            payload[optional] = values[optional]
    return payload


def _units(request: Request) -> list[str]:
    """The registry's units by name, offered as the reporter types (any text is still taken)."""
    return sorted(u["name"] for u in request.app.state.engine.entries("units"))


def _form(
    request: Request, units: list[str], status: int = 200,
    values: dict[str, str] | None = None, message: str | None = None,
) -> Response:  # fmt: skip
    return page(request, "portal.html", status, csrf=form_token(request),
                values=values or {}, impacts=_impacts(request), message=message,
                units=units, windows=request.app.state.engine.announced())  # fmt: skip


def _manager(request: Request, ticket: Any) -> dict[str, str] | None:
    """The customer manager of the ticket's unit, named to the reporter (name, phone, mail)."""
    if ticket.unit is None:
        return None
    manager: dict[str, str] | None = (
        request.app.state.engine.whereabouts(ticket).get("unit", {}).get("manager")
    )
    return manager


@router.get("/")
async def portal(request: Request) -> Response:
    return _form(request, await call(_units, request))


@router.post("/")
async def report(request: Request) -> Response:
    app = request.app
    wait = app.state.portal_limit.peek(client(request))  # counted once accepted, below
    if wait:
        w = words_for(request)
        return page(request, "portal.html", 429, {"Retry-After": str(int(wait) + 1)},
                    csrf=form_token(request), values={}, impacts=_impacts(request),
                    message=w["error.rate"], units=[])  # fmt: skip
    values: dict[str, str] = {}
    try:
        form = await read_form(request)
        values = {k: v for k, v in form.items() if k in FIELDS}
        nonce = await check_form(request, form, once=False)
        checked = _checked(form)
        results = await call(app.state.engine.intake_all, "web", _payload(checked, nonce), ACTOR)
    except BadForm as err:
        log.info("portal: refused a report from %s: %s", client(request), err)
        return refusal(request, err, template="portal.html", csrf=form_token(request),
                       values=values, impacts=_impacts(request),
                       units=await call(_units, request))  # fmt: skip
    except FaultflowError as err:
        return refusal(request, err, template="portal.html", csrf=form_token(request),
                       values=values, impacts=_impacts(request),
                       units=await call(_units, request))  # fmt: skip
    app.state.portal_limit.take(client(request))
    result = results[0]
    if result.outcome == "duplicate":
        return refusal(request, BadForm("error.replay", 409), template="portal.html",
                       csrf=form_token(request), values={}, impacts=_impacts(request),
                       units=await call(_units, request))  # fmt: skip
    code = await call(app.state.engine.tracking_code, result.ticket.id)
    link = link_for(request, "track", code=code)
    manager = await call(_manager, request, result.ticket)
    return page(request, "sent.html", 201, ticket=result.ticket, link=link, manager=manager)


def _timeline(ticket: Any, contract: Any, w: Any) -> list[dict[str, Any]]:
    """What the reporter may see of the history: arrivals in new states, the portal's own
    notes, and a few events in general words — never the staff's notes."""
    out = []
    for e in ticket.history:
        moved = e.from_state is not None and e.from_state != e.to_state
        if moved:
            state = contract.states.get(e.to_state)
            what = w.of(state.labels, e.to_state) if state else e.to_state
            out.append({"at": e.at, "what": what, "text": None})
        elif e.trigger == "note" and e.actor == ACTOR:
            out.append({"at": e.at, "what": w["event.note"], "text": e.note})
        elif e.trigger in PUBLIC:
            out.append({"at": e.at, "what": w[f"event.{e.trigger}"], "text": None})
    return out


def _promises(ticket: Any, contract: Any, w: Any) -> list[dict[str, Any]]:
    """Every promise of the ticket: those running or kept or broken, and — while the ticket is
    open — those still to come, with what starts them ("within 1 h, counted from …")."""
    from ..contract.model import Classification

    rows = []
    for name, clock in ticket.clocks.items():
        spec = contract.clocks.get(name)
        if clock.breached:
            kept = "no"
        elif clock.status == "stopped":
            kept = "yes"
        else:
            kept = "paused" if clock.status == "paused" else "open"
        rows.append({
            "what": w.clock(contract, name) if spec else name,
            "limit": w.limit(clock.limit, clock.calendar),
            "due": clock.due_at, "done": clock.stopped_at, "kept": kept,
        })  # fmt: skip
    if ticket.state in contract.finals:
        return rows
    c = Classification(ticket.tier, ticket.kind, ticket.channel, ticket.cause)
    for name, spec in contract.clocks.items():
        if name in ticket.clocks or not spec.applies_to(c):
            continue
        starts = w["list.sep"].join(w.action(contract, t) for t in sorted(spec.start))
        limit = w.limit(spec.limit_for(c), spec.calendar.name)
        rows.append({
            "what": w.clock(contract, name),
            "limit": w.format("promise.from", limit=limit, start=starts),
            "due": None, "done": None, "kept": "later",
        })  # fmt: skip
    return rows


async def _tracking(request: Request, ticket: Any, code: str, status: int = 200,
                    message: str | None = None) -> Response:  # fmt: skip
    from ..reports import handling

    engine = request.app.state.engine
    contract = engine.contract_of(ticket)  # the version the ticket runs under
    w = words_for(request)
    state = contract.states.get(ticket.state)
    facts = handling.facts(ticket, contract)
    cancelled = state is not None and state.role == "cancelled"
    report = handling.context(ticket, contract, w) if facts["closed"] and not cancelled else None
    return page(
        request, "track.html", status, w=w, ticket=ticket, code=code,
        state=w.of(state.labels, ticket.state) if state else ticket.state,
        promises=_promises(ticket, contract, w), timeline=_timeline(ticket, contract, w),
        report=report, csrf=form_token(request), message=message,
        added=request.query_params.get("added") == "1",
        manager=await call(_manager, request, ticket),
        followup=await call(_followup, engine, ticket.id),
        rated=request.query_params.get("rated") == "1",
    )  # fmt: skip


def _followup(engine: Any, ticket_id: str) -> Any:
    """The ticket's follow-up, when it has one (reported, and the contract asks for them)."""
    try:
        return engine.followup_of(ticket_id)
    except UnknownTicket:
        return None


@router.get("/t/{code}", name="track")
async def track(code: str, request: Request) -> Response:
    try:
        ticket = await call(request.app.state.engine.tracked, code)
    except UnknownTicket:
        return refusal(request, BadForm("error.track", 404))
    return await _tracking(request, ticket, code)


async def _reporters(
    code: str, request: Request, act: Callable[[Any, Any, dict[str, str]], None], done: str
) -> Response:
    """One form of the tracking page (a note, a rating): the ticket by its signed code, the
    portal's rate limit, the form's token checked, ``act`` (engine, ticket, form) in the worker
    pool; a refusal shows the page again with it, success comes back with ``?{done}=1``."""
    engine = request.app.state.engine
    try:
        ticket = await call(engine.tracked, code)
    except UnknownTicket:
        return refusal(request, BadForm("error.track", 404))
    limit = request.app.state.portal_limit
    if limit.peek(client(request)):
        return await _tracking(request, ticket, code, 429, words_for(request)["error.rate"])
    try:
        form = await read_form(request)
        await check_form(request, form)
        await call(act, engine, ticket, form)
        limit.take(client(request))  # counted once taken
    except (BadForm, FaultflowError) as err:
        message, status = said(words_for(request), err)
        return await _tracking(request, ticket, code, status, message)
    return RedirectResponse(f"{path_for(request, 'track', code=code)}?{done}=1", status_code=303)


@router.post("/t/{code}/notes")
async def add(code: str, request: Request) -> Response:
    """The reporter adds to their report: a note in the ticket's history."""

    def note(engine: Any, ticket: Any, form: dict[str, str]) -> None:
        text = form.get("text", "").strip()
        if not text:
            raise BadForm("error.missing", 422, "add")
        if _controls(text):
            raise BadForm("error.controls", 422, "text: control characters")
        engine.note(ticket.id, text, ACTOR)

    return await _reporters(code, request, note, "added")


@router.post("/t/{code}/followup")
async def rate(code: str, request: Request) -> Response:
    """The reporter's follow-up (回访) on the tracking page: a rating and a comment, once."""

    def followup(engine: Any, ticket: Any, form: dict[str, str]) -> None:
        rating = form.get("rating", "").strip()
        if rating not in ("1", "2", "3", "4", "5"):
            raise BadForm("error.missing", 422, "rating")
        comment = form.get("comment", "").strip() or None
        if comment is not None and _controls(comment):
            raise BadForm("error.controls", 422, "comment: control characters")
        engine.followup(ticket.id, int(rating), comment, ACTOR, "reporter")

    return await _reporters(code, request, followup, "rated")
