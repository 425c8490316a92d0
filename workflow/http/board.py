"""The duty board (behind a token login): ``/board`` the open tickets, most urgent first, each
promise a live countdown, pushed again by server-sent events when anything changes;
``/tickets/{id}`` a ticket with its timeline, clocks and the actions its state allows;
``/report`` the compliance report with its charts. Reading needs the scope ``read``, acting
``operate`` — the tokens of ``faultflow serve``.

Why this module is longer than the house's ~500 lines: the board's pages share one session,
one form check and one way of showing a refusal again (``_submitted``); split by page, each
part would import the others' helpers back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape

from ..errors import ConcurrentUpdate, FaultflowError, InvalidInput
from ..reports.templating import render, trusted
from ..timekeeping.times import show
from .pages import link_for, page, refusal, said, state_words, streamed, words_for
from .sessions import (
    SESSION,
    SESSION_S,
    BadForm,
    Session,
    call,
    check_form,
    form_token,
    login_cookie,
    read_form,
    session,
    session_id,
    set_cookie,
)

log = logging.getLogger("faultflow.http")
router = APIRouter(include_in_schema=False)
STREAM_S = 300.0  # a stream ends after this; the browser reconnects (and a restart is not held)


def _back(request: Request) -> Response:
    from urllib.parse import quote

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def _safe_next(value: str) -> str:
    """Only a path of this site (no ``//host``, no scheme): a login cannot send anyone away."""
    return (
        value
        if value.startswith("/") and not value.startswith("//") and "\\" not in value
        else "/board"
    )


# -- login ------------------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request) -> Response:
    return page(request, "login.html", csrf=form_token(request),
                next=_safe_next(request.query_params.get("next", "/board")))  # fmt: skip


@router.post("/login")
async def login(request: Request) -> Response:
    from ..access.tokens import digest

    w = words_for(request)
    form: dict[str, str] = {}
    try:
        form = await read_form(request)
        await check_form(request, form)
    except BadForm as err:
        return refusal(request, err, template="login.html", csrf=form_token(request), next="/board")
    target = _safe_next(form.get("next", "/board"))
    secret = form.get("token", "").strip()
    token = await request.app.state.tokens.find(secret) if secret else None
    if token is None or not token.allows("read"):
        status, key = (401, "login.unknown") if token is None else (403, "login.scope")
        return page(request, "login.html", status, w=w, csrf=form_token(request), next=target,
                    message=w[key])  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION, login_cookie(request, digest(secret)), SESSION_S)
    log.info("board: %s logged in (token %s)", token.actor, token.name)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    found = await session(request)
    if found is not None:
        try:
            await found.check(request, await read_form(request))
        except BadForm as err:
            return refusal(request, err)
        # on the server: the cookie is no good any more, wherever a copy of it is
        await call(request.app.state.engine.end_session, session_id(found.cookie))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION, path="/")
    return response


# -- the board ------------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    return {k: (q.get(k) or None) for k in ("tier", "state", "owner", "unit")}


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


SHOWN = 500
"""The board shows the most urgent 500 open tickets (and how many there are): nobody reads
more at 3 a.m., and each update pushes the rows shown. The filters narrow it."""


def rows(engine: Any, filters: dict[str, str | None], w: Any) -> tuple[list[dict[str, Any]], int]:
    """The board's rows (the open tickets, most urgent first, at most :data:`SHOWN`, with each
    promise's times) and how many open tickets match."""
    found, total, chains = read(engine, filters)
    now = engine.now()
    return [row(engine, t, chains, w, now) for t in found], total


def read(engine: Any, filters: dict[str, str | None]) -> tuple[list[Any], int, dict[str, Any]]:
    """What the board shows, read at once: the open tickets it shows (most urgent first, at
    most :data:`SHOWN`), how many match, and their escalation chains."""
    found = engine.list(final=False, limit=SHOWN, **filters)
    total = len(found) if len(found) < SHOWN else engine.count(final=False, **filters)
    return found, total, engine.paging([t.id for t in found])


def row(engine: Any, t: Any, chains: dict[str, Any], w: Any, now: Any) -> dict[str, Any]:
    """One ticket as the board's row shows it: its state and paging in words, its promises'
    times (running and paused ones)."""
    contract = engine.contract_of(t)
    clocks = []
    for name, c in t.clocks.items():
        if c.status == "stopped":
            continue
        warn = c.warns_at  # the engine's own alarm time (working time over a calendar)
        clocks.append({
            "name": name, "label": w.clock(contract, name),
            "due_text": show(c.due_at, "near", now) if c.due_at is not None else "",
            "status": c.status, "due": _ms(c.due_at), "warn": _ms(warn),
            "remaining_ms": int(c.remaining.total_seconds() * 1000),
            "breached": c.breached, "warned": c.warned,
        })  # fmt: skip
    return {"t": t, "state": state_words(engine, t, w),
            "paging": paging_words(chains.get(t.id), w, now),
            "clocks": clocks, "breached": t.breached,
            "warned": any(c["warned"] for c in clocks)}  # fmt: skip


BATCH = 50
"""Rows drawn and sent at a time when the board page streams."""


def streamed_rows(engine: Any, found: Any, w: Any) -> Iterator[Markup]:
    """The table body of the board page, drawn :data:`BATCH` rows at a time as the page is
    sent (``found``: what :func:`read` gave), then what follows the last row."""
    tickets, total, chains = found
    now = engine.now()
    try:
        for i in range(0, len(tickets), BATCH):
            batch = [row(engine, t, chains, w, now) for t in tickets[i : i + BATCH]]
            yield trusted(render("web/board_rows.html", rows=batch, total=total, w=w, part="rows"))
    except FaultflowError as err:  # the page is on its way: say it where the next rows would be
        log.warning("board: cannot draw the rows: %s", err)
        yield trusted(f'<tr><td colspan="7" class="none">{escape(said(w, err)[0])}</td></tr>')
        return
    tail = render("web/board_rows.html", rows=[], total=total, w=w, part="tail",
                  shown=len(tickets))  # fmt: skip
    yield trusted(tail)


def paging_words(p: Any, w: Any, now: Any) -> dict[str, str] | None:
    """A ticket's escalation in the board's words: where the chain stands, whom the last step
    paged and by what, whether it was delivered, who acknowledged (``status`` for the style)."""
    if p is None:
        return None
    who = w["list.sep"].join(p.paged) or w["paging.nobody"]
    how = w["list.sep"].join(w.get(f"contact.{k}", k) for k in p.by)
    by = w.format("paging.by", how=how) if how else ""
    sent = "done" if p.delivered else ("failed" if p.delivered is False else "sending")
    said = {"done": "paging.delivered", "failed": "paging.failed", "sending": "paging.sending"}
    out = {
        "status": p.status,
        "step": w.format("paging.step", step=p.step, steps=p.steps or "?", round=p.round),
        "paged": w.format("paging.paged", who=who) + by,
        "delivery": w[said[sent]] if p.paged else "",
        "delivered": sent,
        "outcome": "",
    }
    if p.status == "acknowledged" and p.acked_by:
        out["outcome"] = w.format("paging.acked", who=p.acked_by, at=show(p.acked_at, "near", now))
    elif p.status == "finished":
        out["outcome"] = w["paging.finished"]
    elif p.next_at is not None:
        out["outcome"] = w.format("paging.next", at=show(p.next_at, "near", now))
    return out


def on_duty(engine: Any, w: Any) -> list[dict[str, str]]:
    """Who holds each role now (the board's header): the role in words, the people, until when;
    nothing when the engine has no people file."""
    if engine.people is None:
        return []
    now = engine.now()
    out = []
    for name, held in engine.oncall().items():
        role = engine.people.roles.get(name)
        said = w.of(role.labels, name) if role is not None else name
        people = [
            d.person.name + (f" {w.format('board.until', at=show(d.until, 'near', now))}"
                             if d.until is not None else "")
            for d in held
        ]  # fmt: skip
        out.append({"role": said, "people": w["list.sep"].join(people) or w["paging.nobody"]})
    return out


def down_html(engine: Any, w: Any) -> str:
    """The units down now (``Engine.status``), longest first, each a link to its tickets."""
    status = engine.status()
    now = status.at
    down = [
        {"unit": d.unit, "name": d.name, "since": show(d.since, "near", now),
         "lasted": w.duration(now - d.since), "tickets": len(d.tickets)}
        for d in status.down
    ]  # fmt: skip
    return render("web/board_down.html", down=down, w=w)


def rounds_html(engine: Any, w: Any) -> str:
    """Today's inspection rounds: where each stands, by when it is due, a link to do it."""
    now = engine.now()
    described = {n: p.description for n, p in engine.contract.inspections.items()}
    shown = [
        {"href": f"/rounds/{r.id}", "status": r.status, "said": w[f"round.{r.status}"],
         "what": described.get(r.plan) or r.plan, "at": show(r.scheduled_at, "near", now),
         "due": show(r.due_at, "near", now),
         "findings": w["list.sep"].join(f["ticket"] for f in r.findings)}
        for r in engine.rounds()
    ]  # fmt: skip
    return render("web/board_rounds.html", rounds=shown, w=w, windows=engine.announced())


def rows_html(engine: Any, filters: dict[str, str | None], w: Any) -> str:
    shown, total = rows(engine, filters, w)
    return render("web/board_rows.html", rows=shown, total=total, w=w)


@router.get("/board")
async def board(request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    engine = request.app.state.engine
    w = words_for(request)
    filters = _filters(request)
    try:  # read first (a refusal or an unreachable database is said with its status) ...
        shown = await call(read, engine, filters)
        duty = await call(on_duty, engine, w)
        down = trusted(await call(down_html, engine, w))
        rounds = trusted(await call(rounds_html, engine, w))
    except FaultflowError as err:
        message, status = said(w, err)
        filters = {"tier": None, "state": None, "owner": None, "unit": None}
        return page(request, "board.html", status, w=w, rows_parts=(), filters=filters,
                    session=found, now=_ms(engine.now()), message=message, duty=[],
                    contract=engine.contract, down=trusted(""), rounds=trusted(""))  # fmt: skip
    # ... then send the page as it is drawn: its head at once, the rows in batches
    return streamed(request, "board.html", w=w, filters=filters, session=found,
                rows_parts=streamed_rows(engine, shown, w), now=_ms(engine.now()),
                contract=engine.contract, message=None, duty=duty, down=down,
                rounds=rounds)  # fmt: skip


def _live(engine: Any, filters: dict[str, str | None], w: Any) -> tuple[str, str, str]:
    """What the live stream sends: the table's rows, the units down, today's rounds."""
    return rows_html(engine, filters, w), down_html(engine, w), rounds_html(engine, w)


def _sse(event: str, text: str) -> str:
    """One server-sent event carrying ``text`` (a line of data per line)."""
    data = "".join(f"data: {line}\n" for line in text.splitlines() or [""])
    return f"event: {event}\n{data}\n"


@router.get("/board/events")
async def events(request: Request) -> Response:
    """Server-sent events: ``rows`` (the table body, HTML) whenever the tickets change, with
    ``now`` (the server's time, ms) so the countdowns keep the server's clock."""
    found = await session(request)
    if found is None:
        return Response("log in first", status_code=401)
    engine, live = request.app.state.engine, request.app.state.live
    w = words_for(request)
    filters = _filters(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        seen, sent, until = live.stamp, None, time.monotonic() + STREAM_S
        sent_down = sent_rounds = None
        while time.monotonic() < until:
            stamp = await live.changed(seen, 15.0)
            if await request.is_disconnected():
                return
            if stamp == seen and sent is not None:
                yield ": still here\n\n"  # keeps proxies from closing an idle stream
                continue
            seen = stamp
            try:
                # boards showing the same view share one render of this stamp and minute (the
                # rows say times "near" now)
                view = (tuple(sorted(filters.items())), w.lang)
                minute = int(engine.now().timestamp() // 60)
                html, down, rounds = await live.shared(
                    view, lambda: call(_live, engine, filters, w), minute
                )
            except FaultflowError as err:
                log.warning("board: cannot read the tickets: %s", err)
                continue
            if html != sent:
                sent = html
                yield f"event: now\ndata: {_ms(engine.now())}\n\n" + _sse("rows", html)
            if down != sent_down:
                sent_down = down
                yield _sse("down", down)
            if rounds != sent_rounds:
                sent_rounds = rounds
                yield _sse("rounds", rounds)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # no proxy buffering
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


# -- one ticket -----------------------------------------------------------------------------


def clock_rows(ticket: Any, contract: Any, w: Any) -> list[dict[str, Any]]:
    """A ticket's promises as the ticket page shows them: the contract's words, the limit and
    due time, and a stopped clock's outcome in a sentence ("met at 14:43, 12 min before due")."""
    out = []
    for name, c in ticket.clocks.items():
        if c.status == "stopped" and c.stopped_at is not None:
            said = w.stopped(c.stopped_at, c.due_at, show(c.stopped_at))
        else:
            said = w[f"clock.{c.status}"]
        out.append({
            "label": w.clock(contract, name), "limit": w.limit(c.limit, c.calendar),
            "due": show(c.due_at), "status": c.status, "said": said,
            "due_ms": _ms(c.due_at) if c.due_at and c.status == "running" else "",
            "remaining_ms": int(c.remaining.total_seconds() * 1000),
            "breached": c.breached, "warned": c.warned,
        })  # fmt: skip
    return out


def _ticket_page(request: Request, found: Session, ticket: Any, status: int = 200,
                 message: str | None = None) -> Response:  # fmt: skip
    engine = request.app.state.engine
    contract = engine.contract_of(ticket)
    w = words_for(request)
    tracking = link_for(request, "track", code=engine.tracking_code(ticket.id))
    return page(
        request, "ticket.html", status, w=w, ticket=ticket, session=found, message=message,
        state=state_words(engine, ticket, w), clocks=clock_rows(ticket, contract, w),
        options=engine.options(ticket), contract=contract, now=_ms(engine.now()),
        people=sorted(engine.people.people) if engine.people is not None else None,
        final=ticket.state in contract.finals, csrf=found.csrf(request),
        may_act=found.allows("operate"), tracking=tracking,
        where=engine.whereabouts(ticket) if ticket.unit else {},
        suggested=_suggested(engine, ticket, contract, w), round_of=_round_of(ticket),
        group=_group(engine, ticket), candidates=engine.candidates(ticket.id),
        followup=_followup(engine, ticket, contract),
    )  # fmt: skip


def _followup(engine: Any, ticket: Any, contract: Any) -> Any:
    """A reported ticket's follow-up (回访), when it has one."""
    if ticket.state not in contract.finals:
        return None
    try:
        return engine.followup_of(ticket.id)
    except FaultflowError:
        return None


def _group(engine: Any, ticket: Any) -> Any:
    """The ticket's group and links, when it has any (read only then)."""
    linked = any(e.trigger in ("link", "unlink") for e in ticket.history)
    return engine.group(ticket.id) if ticket.parent is not None or linked else None


def _round_of(ticket: Any) -> str | None:
    """The inspection round a ticket came from (a finding, a missed round), if it did."""
    if ticket.channel != "inspection" or not ticket.history:
        return None
    said = ticket.history[0].data.get("channel_data") or {}
    found = said.get("round")
    return str(found) if found else None


def _suggested(engine: Any, ticket: Any, contract: Any, w: Any) -> list[dict[str, Any]]:
    """The experience base's entries for the ticket (while it is open), and whether each was
    already said to have helped it."""
    if ticket.state in contract.finals:
        return []
    used = {e.data.get("entry") for e in ticket.history if e.trigger == "kb"}
    return [
        {"id": f.entry.id, "symptom": f.entry.symptom.splitlines()[0],
         "cause": f.entry.cause, "fix": f.entry.fix, "spare": f.entry.spare,
         "took": w.duration(f.entry.fix_time) if f.entry.fix_time is not None else None,
         "used": f.entry.id in used}
        for f in engine.suggestions(ticket)
    ]  # fmt: skip


@router.get("/tickets/{ticket_id}")
async def ticket(ticket_id: str, request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    try:
        current = await call(request.app.state.engine.get, ticket_id)
    except FaultflowError as err:
        return refusal(request, err)
    return await call(_ticket_page, request, found, current)


def act(engine: Any, ticket_id: str, form: dict[str, str], actor: str) -> None:
    """One action of the ticket page's forms, through the engine (as the API would)."""
    action = form.get("action", "")
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    text = {
        k: (form.get(k, "").strip() or None)
        for k in ("reason", "note", "text", "tier", "person", "trigger")
    }
    if action == "advance":
        if not text["trigger"]:
            raise InvalidInput("which trigger? (none was given)")
        engine.advance(ticket_id, text["trigger"], actor=actor, note=text["note"],
                       reason=text["reason"], version=version)  # fmt: skip
    elif action == "hold":
        engine.hold(ticket_id, reason=text["reason"] or "", actor=actor, version=version)
    elif action == "resume":
        engine.resume(ticket_id, actor=actor, note=text["note"], version=version)
    elif action == "note":
        engine.note(ticket_id, text["text"] or "", actor=actor, version=version)
    elif action == "reclassify":
        engine.reclassify(ticket_id, tier=text["tier"], reason=text["reason"] or "", actor=actor,
                          version=version)  # fmt: skip
    elif action == "ack":
        engine.ack(ticket_id, actor=actor, note=text["note"])
    elif action == "escalate":
        engine.escalate(ticket_id, reason=text["reason"] or "", actor=actor)
    elif action == "assign":
        engine.assign(ticket_id, text["person"] or "", reason=text["reason"] or "", actor=actor,
                      version=version)  # fmt: skip
    elif action == "merge":
        into = form.get("into", "").strip()
        if not into:
            raise InvalidInput("merge into which ticket? (give the parent's ID)")
        engine.merge(ticket_id, into, actor=actor, reason=text["reason"])
    elif action == "unmerge":
        engine.unmerge(ticket_id, actor=actor, reason=text["reason"])
    elif action == "followup":
        rating = form.get("rating", "").strip()
        if rating not in ("1", "2", "3", "4", "5"):
            raise InvalidInput("rating: a whole number from 1 to 5")
        engine.followup(ticket_id, int(rating), text["note"], actor=actor)
    elif action == "kb":
        engine.kb_use(ticket_id, form.get("entry", ""), actor=actor, note=text["note"])
    else:
        raise InvalidInput(f"unknown action {action!r}")


async def _submitted(
    request: Request, found: Session, scope: str, action: Callable[[dict[str, str]], None],
    again: Callable[[int, str], Response],
) -> Response | None:  # fmt: skip
    """Do one board form's ``action`` (a token with ``scope`` only; each in the worker pool):
    ``None`` when done, else the page shown ``again`` with the refusal in the reader's words."""
    w = words_for(request)
    try:
        form = await read_form(request)
        await found.check(request, form)
        if not found.allows(scope):
            raise BadForm("board.read_only", 403)
        await call(action, form)
    except (BadForm, FaultflowError) as err:
        message, status = said(w, err)
        if isinstance(err, ConcurrentUpdate):
            message = w["board.stale"]
        try:
            return await call(again, status, message)
        except FaultflowError as missing:
            return refusal(request, missing)
    return None


@router.post("/tickets/{ticket_id}")
async def change(ticket_id: str, request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    engine = request.app.state.engine
    refused = await _submitted(
        request, found, "operate", lambda form: act(engine, ticket_id, form, found.actor),
        lambda status, message: _ticket_page(
            request, found, engine.get(ticket_id), status, message
        ),
    )  # fmt: skip
    return refused or RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


# -- inspection rounds --------------------------------------------------------------------------


def _round_page(request: Request, found: Session, rid: str, status: int = 200,
                message: str | None = None) -> Response:  # fmt: skip
    engine = request.app.state.engine
    w = words_for(request)
    r = engine.round(rid)
    now = engine.now()
    plan = engine.contract.inspections.get(r.plan)
    return page(
        request, "round.html", status, w=w, round=r, session=found, message=message,
        what=(plan.description if plan is not None and plan.description else r.plan),
        said=w[f"round.{r.status}"], at=show(r.scheduled_at, "near", now),
        due=show(r.due_at, "near", now), started=show(r.started_at, "near", now),
        finished=show(r.finished_at, "near", now), csrf=found.csrf(request),
        may_act=found.allows("inspect"), open=r.status not in ("done", "late", "skipped"),
    )  # fmt: skip


@router.get("/rounds/{plan}/{stamp}")
async def round_(plan: str, stamp: str, request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    try:
        return await call(_round_page, request, found, f"{plan}/{stamp}")
    except FaultflowError as err:
        return refusal(request, err)


def act_on_round(engine: Any, rid: str, form: dict[str, str], actor: str) -> None:
    """One action of the round page's forms, through the engine (as the API would)."""
    action = form.get("action", "")
    if action == "record":
        engine.inspect_record(rid, form.get("item", ""), form.get("value", ""), actor=actor)
    elif action == "finish":
        engine.inspect_finish(rid, actor=actor, note=form.get("note", "").strip() or None)
    elif action == "skip":
        engine.inspect_skip(rid, form.get("reason", ""), actor=actor)
    else:
        raise InvalidInput(f"unknown action {action!r}")


@router.post("/rounds/{plan}/{stamp}")
async def do_round(plan: str, stamp: str, request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    engine = request.app.state.engine
    rid = f"{plan}/{stamp}"
    refused = await _submitted(
        request, found, "inspect", lambda form: act_on_round(engine, rid, form, found.actor),
        lambda status, message: _round_page(request, found, rid, status, message),
    )  # fmt: skip
    return refused or RedirectResponse(f"/rounds/{rid}", status_code=303)


# -- the compliance report --------------------------------------------------------------------


@router.get("/report")
async def report(request: Request) -> Response:
    found = await session(request)
    if found is None:
        return _back(request)
    from ..contract.graph import lifecycle_html
    from ..reports.html import context

    engine = request.app.state.engine
    start = request.query_params.get("from") or None
    end = request.query_params.get("to") or None
    try:
        result = await call(engine.report, start, end)
    except FaultflowError as err:
        return refusal(request, err, template="report.html", body=None, session=found,
                       start=start or "", end=end or "")  # fmt: skip
    w = words_for(request)
    drawing = await call(lifecycle_html, engine.contract, w)
    body = context(result, lifecycle=drawing, contract=engine.contract, words=w)
    return page(request, "report.html", body=body, session=found, w=w,
                start=start or result.start.date().isoformat(),
                end=end or result.end.date().isoformat(), message=None)  # fmt: skip
