"""Spare parts on the command line (备品备件): ``faultflow spares add|list|show|move|repair|
return|retire|status``. A substitution takes one from stock: ``faultflow advance ID substitute``
(``--spare SERIAL``, ``--model MODEL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import Settings, actor_option, emit_json, json_option

STATES = ("in_stock", "reserved", "taken", "in_repair", "retired")


def _echo(engine: Any, s: Any, as_json: bool) -> None:
    if as_json:
        emit_json(s.to_dict())
        return
    ticket = f" for {s.ticket}" if s.ticket else ""
    click.echo(f"{s.serial}  {s.model}  {s.state}{ticket} at {s.location} since "
               f"{show(s.since, 'near', engine.now())} ({s.by})")  # fmt: skip


@click.group()
def spares() -> None:
    """Spare parts (备品备件): the stock by serial and model, and each one's movements. A
    substitution (`faultflow advance ID substitute`) takes a spare of the faulty device's
    model from stock, or is refused with where that model's spares are (docs/spares.md)."""


@spares.command("add")
@click.argument("serial", required=False)
@click.option("--serial", "named", metavar="SERIAL", help="Its serial (or as the argument).")
@click.option("--model", required=True, help="Its model, as the registry's devices name it.")
@click.option("--location", required=True, help="Where it is kept (a site code, a store).")
@click.option("--in-repair", is_flag=True, help="A faulty part away for repair, not in stock.")
@click.option("--note", help="A remark.")
@actor_option
@json_option
@click.pass_obj
def add(settings: Settings, serial: str | None, named: str | None, model: str, location: str,
        in_repair: bool, note: str | None, actor: str, as_json: bool) -> None:  # fmt: skip
    """Register a spare: in stock (or away for repair). `faultflow spares add SERIAL --model M
    --location L`, or `--serial SERIAL`."""
    if (serial is None) == (named is None):
        raise click.UsageError("give the serial once: SERIAL or --serial SERIAL")
    serial = serial or named
    assert serial is not None
    engine = settings.engine()
    state = "in_repair" if in_repair else "in_stock"
    _echo(engine, engine.spares_add(serial, model, location, actor, note, state), as_json)


@spares.command("list")
@click.option("--model", help="Only this model's spares.")
@click.option("--state", type=click.Choice(STATES), help="Only spares in this state.")
@click.option("--location", help="Only spares at this location.")
@json_option
@click.pass_obj
def list_(settings: Settings, model: str | None, state: str | None, location: str | None,
          as_json: bool) -> None:  # fmt: skip
    """The spares, by model and location; `--state taken` lists those out, with since when."""
    engine = settings.engine()
    found = engine.spares(model, state, location)
    if as_json:
        emit_json({"spares": [s.to_dict() for s in found]})
        return
    if not found:
        click.echo("no spare (register one with `faultflow spares add`)")
    for s in found:
        _echo(engine, s, False)


@spares.command("show")
@click.argument("serial")
@json_option
@click.pass_obj
def show_(settings: Settings, serial: str, as_json: bool) -> None:
    """One spare, with every movement."""
    engine = settings.engine()
    s, moves = engine.spare(serial), engine.spare_history(serial)
    if as_json:
        emit_json({**s.to_dict(), "history": moves})
        return
    _echo(engine, s, False)
    for m in moves:
        ticket = f" ({m['ticket']})" if m["ticket"] else ""
        click.echo(f"  {m['at']}  {m['action']:<8} {m['state']} at {m['location']}{ticket}  "
                   f"{m['actor']}")  # fmt: skip


def _moved(name: str, doc: str) -> Any:
    """A command that moves one spare: ``move``, ``repair``, ``return``."""

    @spares.command(name, help=doc)
    @click.argument("serial")
    @click.option("--location", required=name == "move", help="Where it goes now.")
    @click.option("--note", help="A remark kept with the movement.")
    @actor_option
    @json_option
    @click.pass_obj
    def command(settings: Settings, serial: str, location: str | None, note: str | None,
                actor: str, as_json: bool) -> None:  # fmt: skip
        engine = settings.engine()
        if name == "move":
            s = engine.spares_move(serial, location or "", actor, note)
        elif name == "repair":
            s = engine.spares_repair(serial, actor, note)
        else:
            s = engine.spares_return(serial, location, actor, note)
        _echo(engine, s, as_json)

    return command


_moved("move", "Move a spare (on the shelf, or away for repair) to another location.")
_moved("repair", "Send a spare away for repair.")
_moved("return", "Put a spare back in stock: repaired, or back from its ticket.")


@spares.command("retire")
@click.argument("serial")
@click.option("--reason", required=True, help="Why (beyond repair, scrapped...).")
@actor_option
@json_option
@click.pass_obj
def retire(settings: Settings, serial: str, reason: str, actor: str, as_json: bool) -> None:
    """Retire a spare for good."""
    engine = settings.engine()
    _echo(engine, engine.spares_retire(serial, reason, actor), as_json)


@spares.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@actor_option
@json_option
@click.pass_obj
def import_(settings: Settings, path: Path, dry_run: bool, actor: str, as_json: bool) -> None:
    """Register the spares of a spreadsheet (CSV, or an XLSX workbook's first sheet): columns
    序列号/serial, 型号/model, 存放地点/location, and optionally 状态/state (在库/in_stock,
    维修中/in_repair) and 备注/note. All rows or none: any problem refuses the whole file."""
    done = settings.engine().spares_import(path, dry_run, actor)
    if as_json:
        emit_json(done)
    else:
        verb = "would register" if dry_run else "registered"
        click.echo(f"{verb} {done['created']} spare(s); {done['unchanged']} registered already")
    if done["problems"]:
        for problem in done["problems"][:20]:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1)


@spares.command("status")
@json_option
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Each model: its spares in stock, taken, in repair, retired, and its devices in the
    registry."""
    found = settings.engine().spares_status()
    if as_json:
        emit_json({"models": found})
        return
    if not found:
        click.echo("no spare and no device model yet")
    for m in found:
        low = (f"  wanted {m['wanted']:>3}" + ("  LOW" if m["low"] else "")) if "low" in m else ""
        click.echo(f"{m['model']:<20} in stock {m['in_stock']:>3}  reserved {m['reserved']:>3}  "
                   f"taken {m['taken']:>3}  in repair {m['in_repair']:>3}  retired "
                   f"{m['retired']:>3}  devices {m['devices']:>4}{low}")  # fmt: skip
