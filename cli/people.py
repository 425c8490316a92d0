"""People on the command line: who is on duty (`oncall`), overrides, and a ticket's
acknowledgement, escalation by hand and handover (`ack`, `escalate`, `assign`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from faultflow.timekeeping.times import show as show_time

from .base import TIME_HELP, Settings, actor_option, emit_json, json_option, show_ticket


class _OncallGroup(click.Group):
    """`oncall [ROLE]` shows; `oncall override|overrides|remove ...` manage overrides."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_OncallGroup)
def oncall() -> None:
    """Who holds each duty role (people.toml), now or at a time, and until when.

    \b
      faultflow oncall                        every role, now
      faultflow oncall duty-engineer --at 2026-03-07T22:00
      faultflow oncall --week                 the coming week, shift by shift
      faultflow oncall override duty-engineer --person wang \
          --from 18:00 --to 2026-03-08T09:00 --reason "swap with li"
    """


@oncall.command("show", hidden=True)
@click.argument("role", required=False)
@click.option("--at", metavar="TIME", help=f"When (default now): {TIME_HELP}.")
@click.option("--week", is_flag=True, help="The coming seven days, one line a handover.")
@json_option
@click.pass_obj
def show(settings: Settings, role: str | None, at: str | None, week: bool, as_json: bool) -> None:
    engine = settings.engine()
    moment = engine.now() if at is None else _moment(engine, at)
    if week:
        _week(engine, role, moment, as_json)
        return
    found = engine.oncall(role, moment)
    if as_json:
        emit_json(
            {
                "at": moment.isoformat(),
                "roles": {
                    name: [
                        {"person": d.person.id, "name": d.person.name,
                         "until": d.until.isoformat() if d.until else None,
                         **({"override": d.override} if d.override is not None else {})}
                        for d in duty
                    ]
                    for name, duty in found.items()
                },
            }
        )  # fmt: skip
        return
    width = max((len(n) for n in found), default=0)
    for name, duty in found.items():
        who = "; ".join(
            f"{d.person.name} [{d.person.id}]"
            + (f" until {show_time(d.until, 'day')}" if d.until else "")
            + (f" (override {d.override})" if d.override is not None else "")
            for d in duty
        )
        click.echo(f"{name:<{width}}  {who or 'NOBODY'}")


def _moment(engine: Any, text: str) -> Any:
    from faultflow.timekeeping.times import parse_time

    return parse_time(text, engine.now(), engine.contract.timezone)


def _week(engine: Any, role: str | None, start: Any, as_json: bool) -> None:
    """Each role's holders over seven days: one entry per change of hands."""
    end = start + timedelta(days=7)
    table = {
        name: [
            {"from": a.isoformat(), "to": b.isoformat(), "people": list(who)} for a, b, who in rows
        ]
        for name, rows in engine.shifts(start, end, role).items()
    }
    if as_json:
        emit_json({"from": start.isoformat(), "to": end.isoformat(), "roles": table})
        return
    from datetime import datetime

    for name, rows in table.items():
        click.echo(click.style(name, bold=True))
        for r in rows:
            began = show_time(datetime.fromisoformat(r["from"]), "weekday")
            ended = show_time(datetime.fromisoformat(r["to"]), "weekday")
            click.echo(f"  {began} → {ended}  {', '.join(r['people'])}")


@oncall.command("override")
@click.argument("role")
@click.option("--person", required=True, help="Who holds the role meanwhile.")
@click.option("--from", "start", required=True, metavar="TIME", help=TIME_HELP)
@click.option("--to", "end", required=True, metavar="TIME", help=TIME_HELP)
@click.option("--reason", required=True, help="A swap, sick leave...")
@actor_option
@json_option
@click.pass_obj
def override(settings: Settings, role: str, person: str, start: str, end: str, reason: str,
             actor: str, as_json: bool) -> None:  # fmt: skip
    """Put a person in a role for a while; recorded with who made it."""
    engine = settings.engine()
    made = engine.override(role, person, start, end, reason, actor)
    if as_json:
        emit_json(next(o for o in engine.overrides() if o["id"] == made))
        return
    click.echo(f"override {made}: {person} holds {role}")


@oncall.command("overrides")
@click.option("--all", "removed", is_flag=True, help="Removed ones too.")
@json_option
@click.pass_obj
def overrides(settings: Settings, removed: bool, as_json: bool) -> None:
    """The overrides recorded."""
    found = settings.engine().overrides(removed)
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no overrides")
    for o in found:
        gone = f"  (removed {o['removed'][:16]})" if o["removed"] else ""
        click.echo(
            f"{o['id']:>4}  {o['role']:<18} {o['person']:<10} {o['from'][:16]} → {o['to'][:16]}"
            f"  by {o['by']}: {o['reason']}{gone}"
        )


@oncall.command("remove")
@click.argument("override_id", metavar="ID", type=int)
@click.pass_obj
def remove(settings: Settings, override_id: int) -> None:
    """Remove an override (it stays on record, marked removed)."""
    settings.engine().remove_override(override_id)
    click.echo(f"override {override_id} removed")


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--note", help="What you are doing about it.")
@actor_option
@json_option
@click.pass_obj
def ack(settings: Settings, ticket_id: str, note: str | None, actor: str, as_json: bool) -> None:
    """Acknowledge a ticket's escalation: its pages stop (who and when are recorded)."""
    show_ticket(settings, settings.engine().ack(ticket_id, actor=actor, note=note), as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--reason", required=True, help="Why it goes up now.")
@actor_option
@json_option
@click.pass_obj
def escalate(settings: Settings, ticket_id: str, reason: str, actor: str, as_json: bool) -> None:
    """Escalate by hand (P5 向上升级): the next step of the tier's chain pages now."""
    t = settings.engine().escalate(ticket_id, reason=reason, actor=actor)
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("person")
@click.option("--reason", required=True, help="Why it changes hands.")
@actor_option
@json_option
@click.pass_obj
def assign(settings: Settings, ticket_id: str, person: str, reason: str, actor: str,
           as_json: bool) -> None:  # fmt: skip
    """Hand a ticket over: the current owner changes, the first-ask owner stays recorded."""
    t = settings.engine().assign(ticket_id, person, reason=reason, actor=actor)
    show_ticket(settings, t, as_json)
