"""``faultflow.http``: the HTTP service of ``faultflow serve`` as an ASGI application.

``create_app(engine)`` builds it (FastAPI); an integrator can mount it in an application of
their own. It is a surface: it authenticates, parses and answers, and calls the same Engine
methods as the command line — never the store. Routes: ``intake.py`` (webhook intake),
``tickets.py`` (look and change), ``reports.py`` (compliance, handling report, verify); here:
health, readiness and metrics. docs/http.md has every endpoint with a curl example.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from ..engine import Engine
from ..errors import FaultflowError
from .admission import Bounds, Busy, Lane, Limit, TooMany
from .auth import Forbidden, Tokens, Unauthorized
from .errors import body_of, headers_of, one_line, status_of
from .hands import Apart, Hands, Here
from .intake import TooLarge, channel_at, door
from .metrics import Metrics

PORTAL_LIMIT = (10, 60.0)
"""The public forms: 10 submissions at once from one address, then one a minute."""
MAX_BODY = 1024 * 1024
"""The largest request body accepted (bytes); beyond it, 413. The contract's ``[limits]
payload_bytes`` still applies to what a channel reads."""


class App(FastAPI):
    """FastAPI, with deliveries (``POST /v1/intake/{channel}``) answered at the door, in front
    of the middleware stack (``intake.door``): its layers were an eighth of the event loop's
    time for each delivery (123 → 107 µs, docs/performance.md). An integrator's middleware
    (``add_middleware``) sees every request: with one, deliveries go through the stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = None if self.user_middleware else channel_at(scope)
        if channel is None:
            await super().__call__(scope, receive, send)
        else:
            await door(self, scope, receive, send, channel)


def create_app(
    engine: Engine,
    *,
    max_body: int = MAX_BODY,
    web: bool = True,
    portal_limit: tuple[int, float] = PORTAL_LIMIT,
    portal_trusted: Sequence[str] = (),
    live_interval: float = 1.0,
    base_url: str | None = None,
    intake_engine: Engine | None = None,
    intake_process: Callable[[], Engine] | None = None,
    bounds: Bounds | None = None,
) -> FastAPI:
    """The faultflow API over ``engine`` (which it shares with nothing it does not know of:
    calls are serialised by the engine, so one engine may serve every request). With ``web``,
    also the reporting portal (``/``, ``/t/CODE``) and the duty board (``/login``, ``/board``,
    ``/tickets/ID``, ``/report``): ``portal_limit`` is (burst, seconds per further report) for
    each client address (only accepted reports count; addresses in the ``portal_trusted``
    networks, e.g. ``10.20.0.0/16`` behind one extranet NAT, are not limited);
    ``live_interval`` how often the board looks for changes; ``base_url``
    (``https://faults.example.gov.cn``) the start of the tracking links given to reporters —
    without it they are paths, never built from a request's Host header.

    Intake runs in a bounded lane of its own (``admission.py``; ``bounds``), on
    ``intake_engine`` when given (so that a flood of intake never holds the engine the board
    and ``/readyz`` use), else on ``engine``; or, with ``intake_process`` (a function that
    opens an engine, and pickles: ``serve`` gives one), in a process of its own that opens
    its engine with it (``hands.py`` says why)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("faultflow")
    except PackageNotFoundError:  # pragma: no cover (a source tree that was not installed)
        release = "0"
    app = App(
        title="faultflow",
        version=release,
        summary="Fault tickets under a service-level contract",
        description=f"Contract: {engine.contract.name}. See docs/http.md.",
        docs_url=None,  # no page that loads scripts from a CDN; /openapi.json is served
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.base_url = base_url  # the links given to people to keep (tracking links)
    app.state.max_body = max_body
    app.state.metrics = Metrics(engine)
    if intake_process is not None:
        hands: Hands = Apart(intake_process)
    else:
        hands = Here(intake_engine or engine)
    app.state.intake = Lane(bounds or Bounds(), hands)
    app.state.metrics.watch(app.state.intake)
    app.state.tokens = Tokens(engine)
    _errors(app)
    from . import inspections, intake, kb, maintenance, network, reports, spares, tickets

    app.router.routes.insert(0, intake.route())  # what the router knows of the door
    app.include_router(tickets.router)
    app.include_router(reports.router)
    app.include_router(network.router)
    app.include_router(kb.router)
    app.include_router(inspections.router)
    app.include_router(spares.router)
    app.include_router(maintenance.router)
    _service(app)
    _document(app, intake.PATH, intake.openapi_operation())
    if web:
        _web(app, Limit(*portal_limit, trusted=portal_trusted), live_interval)
    return app


def _web(app: FastAPI, portal_limit: Limit, live_interval: float) -> None:
    from pathlib import Path

    from starlette.staticfiles import StaticFiles

    from . import board, portal
    from .live import Live
    from .sessions import Used

    app.state.engine.signer  # noqa: B018 (the database's web key made now, not by a first visitor)
    app.state.portal_limit = portal_limit
    app.state.used_nonces = Used()
    app.state.live = Live(app.state.engine, live_interval)
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # browsers ask for it whatever the page says
        body = (static / "favicon.svg").read_bytes()
        cached = {"Cache-Control": "max-age=86400"}
        return Response(body, media_type="image/svg+xml", headers=cached)

    app.include_router(portal.router)
    app.include_router(board.router)


def _service(app: FastAPI) -> None:
    # async: answered on the event loop itself, never queued behind work in a thread pool
    @app.get("/healthz", tags=["service"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], summary="The database answers, at our schema")
    def readyz(request: Request) -> dict[str, str]:
        request.app.state.engine.ready()  # raises: 503 (unreachable) or 500 (schema)
        return {"status": "ready"}

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics")
    def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        body = generate_latest(request.app.state.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def _document(app: FastAPI, path: str, operation: dict[str, Any]) -> None:
    """Add a route that is not FastAPI's own to ``/openapi.json``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, cached until the routes change
        if path not in schema["paths"]:
            schema["paths"] = {path: operation, **schema["paths"]}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _errors(app: FastAPI) -> None:
    """Every error as ``{"error": "<one line>"}``, with the status a client acts on."""

    @app.exception_handler(FaultflowError)
    async def refused(request: Request, err: FaultflowError) -> JSONResponse:
        return JSONResponse(body_of(err), status_code=status_of(err), headers=headers_of(err))

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, err: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"error": "a valid token is needed (Authorization: Bearer SECRET)"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="faultflow"'},
        )

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, err: Forbidden) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=403)

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, err: TooLarge) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=413)

    @app.exception_handler(Busy)
    async def busy(request: Request, err: Busy) -> JSONResponse:
        headers = {"Retry-After": str(err.retry_after)}
        return JSONResponse({"error": str(err)}, status_code=503, headers=headers)

    @app.exception_handler(TooMany)
    async def too_many(request: Request, err: TooMany) -> JSONResponse:
        headers = {"Retry-After": str(err.retry_after)}
        return JSONResponse({"error": str(err)}, status_code=429, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _first(err.errors())}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": one_line(str(err.detail))},
            status_code=err.status_code,
            headers=getattr(err, "headers", None),
        )


def _first(errors: Any) -> str:
    """A request model's first complaint, as one line naming the field."""
    if not errors:
        return "the request is not valid"
    e = errors[0]
    where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
    return one_line(f"{where}: {e.get('msg', 'not valid')}")
