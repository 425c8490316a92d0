"""Inspection rounds (巡检) on the command line: ``faultflow inspect plan`` — when the
contract's rounds fall."""

from __future__ import annotations

import click
from faultflow.timekeeping.times import show

from .base import Settings, emit_json, json_option


@click.group()
def inspect() -> None:
    """Inspection rounds (巡检): the contract's plans, and when their rounds fall."""


@inspect.command("plan")
@click.option("--from", "start", metavar="TIME", help="Start of the window (default: now).")
@click.option("--to", "end", metavar="TIME", help="End of the window (default: 7 days later).")
@click.option("--plan", metavar="NAME", help="Only this plan's rounds.")
@json_option
@click.pass_obj
def plan(settings: Settings, start: str | None, end: str | None, plan: str | None,
         as_json: bool) -> None:  # fmt: skip
    """The rounds the contract's [inspections.NAME] plans place in a window, in time order:
    when each starts, by when it must be done, who does it, what it covers."""
    engine = settings.engine()
    found = engine.planned(start, end, plan)
    if as_json:
        emit_json({"rounds": [r.to_dict() for r in found]})
        return
    if not engine.contract.inspections:
        click.echo("the contract has no [inspections.NAME] plans (docs/inspections.md)")
        return
    if not found:
        click.echo("no round falls in this window")
    now = engine.now()
    for r in found:
        when, due = show(r.scheduled_at, "near", now), show(r.due_at, "near", now)
        click.echo(f"{when:>16}  {r.plan:<18} due {due}  {r.role}  {', '.join(r.targets)}")
