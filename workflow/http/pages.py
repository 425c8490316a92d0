"""What every web page shares: rendering a template with the request's language, and an error
as a page (a readable message, the status a browser's user agent reports, nothing written)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from ..errors import FaultflowError
from ..reports.templating import generate, render
from .errors import one_line, status_of
from .sessions import BadForm, keep_browser
from .words import COOKIE, Words, language


def words_for(request: Request) -> Words:
    return Words(
        language(request.query_params, request.cookies, request.headers.get("accept-language", ""))
    )


_R = TypeVar("_R", bound=Response)


def page(
    request: Request, template: str, status: int = 200, headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:  # fmt: skip
    """``templates/web/<template>`` as the answer; the language chosen by ``?lang=`` sticks."""
    w = context.pop("w", None) or words_for(request)
    body = render(f"web/{template}", w=w, request=request, path_for=_paths(request), **context)
    return _kept(request, w, HTMLResponse(body, status_code=status, headers=headers))


def streamed(request: Request, template: str, **context: Any) -> StreamingResponse:
    """Like :func:`page`, but sent as it is rendered (status 200): the duty board's head at
    once, its rows as they are drawn from an iterable in ``context``."""
    w = context.pop("w", None) or words_for(request)
    body = generate(f"web/{template}", w=w, request=request, path_for=_paths(request), **context)
    return _kept(request, w, StreamingResponse(_gathered(body), media_type="text/html"))


def _gathered(pieces: Iterator[str], size: int = 8192) -> Iterator[str]:
    """The template's pieces sent in parts of ``size`` characters or more: it yields one per
    text and expression, and each part sent costs a hop to the event loop."""
    part: list[str] = []
    n = 0
    for piece in pieces:
        part.append(piece)
        n += len(piece)
        if n >= size:
            yield "".join(part)
            part, n = [], 0
    if part:
        yield "".join(part)


def _kept(request: Request, w: Words, response: _R) -> _R:
    """What every page's answer carries: the language chosen by ``?lang=`` kept in a cookie,
    the browser's cookie renewed, and no caching (pages show live state and private links)."""
    if request.query_params.get("lang") == w.lang:
        response.set_cookie(COOKIE, w.lang, max_age=365 * 86400, samesite="lax", path="/")
    keep_browser(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def path_for(request: Request, name: str, **params: Any) -> str:
    """A link within the site as a path (with the root path the app is mounted under): never
    built from the request's Host header, which the client chooses."""
    return str(request.scope.get("root_path", "")) + str(request.app.url_path_for(name, **params))


def link_for(request: Request, name: str, **params: Any) -> str:
    """A link given to a person to keep (the reporter's tracking link): absolute under the
    configured base URL (``serve --base-url``), else the path alone — never from the Host
    header (a forged one would hand the reporter a link to another site)."""
    base = getattr(request.app.state, "base_url", None)
    path = path_for(request, name, **params)
    return f"{base.rstrip('/')}{path}" if base else path


def _paths(request: Request) -> Any:
    def paths(name: str, **params: Any) -> str:
        return path_for(request, name, **params)

    return paths


def state_words(engine: Any, ticket: Any, w: Words) -> str:
    """The ticket's state in the page's language, by the contract version it runs under."""
    state = engine.contract_of(ticket).states.get(ticket.state)
    return w.of(state.labels, ticket.state) if state is not None else str(ticket.state)


def said(w: Words, err: FaultflowError | BadForm) -> tuple[str, int]:
    """What a page says of an error, and its status."""
    if isinstance(err, BadForm):
        # the detail names the fields (error.missing: said by their labels), or is the
        # technical why (for the log)
        if err.key == "error.missing":
            fields = (f.strip() for f in err.detail.split(","))
            named = w["list.sep"].join(w.get(f, f) for f in fields)
            return w[err.key] + named, err.status
        return w[err.key], err.status
    return one_line(str(err)), status_of(err)


def refusal(request: Request, err: FaultflowError | BadForm, **context: Any) -> HTMLResponse:
    """An error as a page: the message in the page's language where it is ours, the engine's
    one line where it is the engine's."""
    w = words_for(request)
    message, status = said(w, err)
    return page(request, context.pop("template", "message.html"), status, w=w,
                message=message, **context)  # fmt: skip
