"""The registry and where tickets are, over HTTP: what is down now (``read``), the entries of
each kind and a place's latest tickets (``read``), adding, editing, archiving and removing
entries and importing a spreadsheet (``registry``). Each is the same engine call as the command
line's (``faultflow units ...``, ``status``, ``registry import``); locating a ticket is a
ticket's change (tickets.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..errors import InvalidInput
from .auth import Reader, Registrar

router = APIRouter(tags=["registry"])
KINDS = ("units", "sites", "lines", "devices", "vendors")
MAX_TICKETS = 1000


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API shows it (as ``faultflow units show --json``)."""
    out = {k: v for k, v in entry.items() if k not in ("changed_us", "archived_us")}
    return out | {"archived": entry.get("archived_us") is not None}


@router.get("/v1/status", summary="What is down now: units, longest down first")
def status(request: Request, token: Reader) -> dict[str, Any]:
    found: dict[str, Any] = request.app.state.engine.status().to_dict()
    return found


@router.post("/v1/registry/import", summary="Import a CSV or XLSX file (all rows or none)")
async def import_registry(
    request: Request, token: Registrar,
    name: Annotated[str, Query(description="The file's name: units.csv, registry.xlsx...")],
    dry_run: bool = False, kind: str | None = None, lang: str | None = None,
) -> JSONResponse:  # fmt: skip
    """The body is the file itself. Answers ``{"created", "updated", "unchanged"}`` (and, dry,
    the changes it would make); 422 with every problem, by row and column, writing nothing."""
    from starlette.concurrency import run_in_threadpool

    from ..network.sheets import read

    body = await request.body()
    safe = Path(name).name
    if not safe or Path(safe).suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise InvalidInput("name: the file's name, ending .csv or .xlsx")
    engine = request.app.state.engine

    def imported() -> Any:
        with tempfile.TemporaryDirectory(prefix="faultflow-import-") as folder:
            path = Path(folder) / safe
            path.write_bytes(body)
            if kind is not None and kind not in KINDS:
                raise InvalidInput(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
            sheets = read(path, kind)
            return engine.import_registry(sheets, dry_run, token.actor, lang, safe)

    plan = await run_in_threadpool(imported)
    answer = plan.to_dict() | {"dry_run": dry_run}
    return JSONResponse(answer, status_code=422 if plan.problems else 200)


def _routes(kind: str) -> None:
    """The routes of one kind: ``/v1/units``, ``/v1/units/{code}``... (named paths, so that
    no other ``/v1/...`` route is shadowed by a parameter)."""
    one = kind[:-1]

    def entries(
        request: Request, token: Reader, archived: bool = False, unit: str | None = None
    ) -> dict[str, Any]:
        where = {"unit": unit} if unit else {}
        found = request.app.state.engine.entries(kind, archived, **where)
        return {kind: [_shown(e) for e in found]}

    def entry(
        code: str, request: Request, token: Reader,
        limit: Annotated[int, Query(ge=1, le=MAX_TICKETS)] = 20,
    ) -> dict[str, Any]:  # fmt: skip
        engine = request.app.state.engine
        shown = _shown(engine.entry(kind, code))
        if kind != "vendors":
            shown["tickets"] = [t.to_dict() for t in engine.served(kind, code, limit)]
        return shown

    def add(values: dict[str, str | None], request: Request, token: Registrar,
            lang: str | None = None) -> dict[str, Any]:  # fmt: skip
        return _shown(request.app.state.engine.add_entry(kind, values, token.actor, lang))

    def edit(code: str, values: dict[str, str | None], request: Request, token: Registrar,
             lang: str | None = None) -> dict[str, Any]:  # fmt: skip
        engine = request.app.state.engine
        return _shown(engine.edit_entry(kind, code, values, token.actor, lang))

    def archive(code: str, request: Request, token: Registrar) -> dict[str, Any]:
        return _shown(request.app.state.engine.archive_entry(kind, code, token.actor))

    def remove(code: str, request: Request, token: Registrar, lang: str | None = None) -> None:
        request.app.state.engine.remove_entry(kind, code, token.actor, lang)

    add_ = router.add_api_route
    add_(f"/v1/{kind}", entries, methods=["GET"], summary=f"The {kind}")
    latest = "" if kind == "vendors" else ", and its latest tickets"
    add_(f"/v1/{kind}/{{code}}", entry, methods=["GET"], summary=f"One {one}{latest}")
    add_(f"/v1/{kind}", add, methods=["POST"], status_code=201, summary=f"Add a {one}")
    add_(f"/v1/{kind}/{{code}}", edit, methods=["PATCH"],
         summary=f"Change fields of a {one} (an empty value clears one)")  # fmt: skip
    add_(f"/v1/{kind}/{{code}}/archive", archive, methods=["POST"],
         summary=f"Archive a {one}: kept, out of the lists")  # fmt: skip
    add_(f"/v1/{kind}/{{code}}", remove, methods=["DELETE"], status_code=204,
         summary=f"Remove a {one} nothing names (archive it otherwise)")  # fmt: skip


for _kind_name in KINDS:
    _routes(_kind_name)
