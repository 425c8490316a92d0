"""Maintenance windows on the command line: ``faultflow maintenance add|list|show|cancel|keep``.
Planned work that pages nobody and breaks no promise (docs/maintenance.md)."""

from __future__ import annotations

from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import TIME_HELP, Settings, actor_option, emit_json, json_option


def _line(engine: Any, w: Any) -> str:
    now = engine.now()
    return (f"#{w.id}  {w.status:<9}  {w.scope:<24}  {show(w.starts_at, 'near', now)} – "
            f"{show(w.ends_at, 'near', now)}  {w.reason}")  # fmt: skip


@click.group()
def maintenance() -> None:
    """Maintenance windows: planned work (a line cut over at night, a switch replaced) on a
    unit, site, line, device or all of the network. Faults there during a window are recorded
    as planned — no promise runs, nobody is paged — and escalations there pause; when it is
    over, what still stands opens normally (docs/maintenance.md)."""


@maintenance.command("add")
@click.option(
    "--from", "start", required=True, metavar="TIME", help=f"When it begins: {TIME_HELP}."
)
@click.option("--to", "end", required=True, metavar="TIME", help="When it ends.")
@click.option("--scope", required=True, metavar="SCOPE",
              help="unit:CODE, site:CODE, line:CODE, device:SERIAL or all.")  # fmt: skip
@click.option("--reason", required=True, help="The work (shown to the units in scope).")
@actor_option
@json_option
@click.pass_obj
def add(settings: Settings, start: str, end: str, scope: str, reason: str, actor: str,
        as_json: bool) -> None:  # fmt: skip
    """Schedule a window ahead (at most the contract's [maintenance] max long)."""
    engine = settings.engine()
    w = engine.maintenance_add(start, end, scope, reason, actor=actor)
    if as_json:
        emit_json(w.to_dict())
        return
    click.echo(f"scheduled {_line(engine, w)}")


@maintenance.command("list")
@click.option("--from", "start", metavar="TIME", help="Those still going on or ahead of TIME.")
@click.option("--to", "end", metavar="TIME", help="Those that begin before TIME.")
@click.option("--cancelled", is_flag=True, help="Those called off too.")
@json_option
@click.pass_obj
def list_(settings: Settings, start: str | None, end: str | None, cancelled: bool,
          as_json: bool) -> None:  # fmt: skip
    """The windows, soonest first (by default every one scheduled)."""
    engine = settings.engine()
    found = engine.maintenance(start, end, cancelled=cancelled)
    if as_json:
        emit_json({"windows": [w.to_dict() for w in found]})
        return
    if not found:
        click.echo("no maintenance window")
    for w in found:
        click.echo(_line(engine, w))


@maintenance.command("show")
@click.argument("window_id", metavar="ID")
@json_option
@click.pass_obj
def show_(settings: Settings, window_id: str, as_json: bool) -> None:
    """One window, and the tickets it touched."""
    engine = settings.engine()
    w = engine.maintenance_window(window_id)
    if as_json:
        emit_json(w.to_dict())
        return
    click.echo(_line(engine, w))
    click.echo(f"  scheduled by {w.created_by} at {show(w.created_at, 'near', engine.now())}")
    if w.planned:
        click.echo(f"  faults recorded as planned: {', '.join(w.planned)}")
    if w.paused:
        click.echo(f"  escalations paused: {', '.join(w.paused)}")


@maintenance.command("cancel")
@click.argument("window_id", metavar="ID")
@click.option("--reason", required=True, help="Why it is called off.")
@actor_option
@json_option
@click.pass_obj
def cancel(settings: Settings, window_id: str, reason: str, actor: str, as_json: bool) -> None:
    """Call a window off: one ahead is cancelled, one going on ends now."""
    engine = settings.engine()
    w = engine.maintenance_cancel(window_id, reason, actor=actor)
    if as_json:
        emit_json(w.to_dict())
        return
    click.echo(f"{'cancelled' if w.status == 'cancelled' else 'ended'}: {_line(engine, w)}")


@maintenance.command("keep")
@json_option
@click.pass_obj
def keep(settings: Settings, as_json: bool) -> None:
    """One pass now, as the scheduler makes (`run` and `serve` do it themselves): pause the
    escalations where a window has begun; open what still stands where one is over."""
    kept = settings.engine().keep_windows()
    if as_json:
        emit_json(kept.to_dict())
        return
    said = kept.to_dict()
    click.echo(", ".join(f"{k} {len(v)}" for k, v in said.items()))
