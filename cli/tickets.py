"""Commands on tickets: ``intake``, ``advance``, ``reclassify``, ``hold``, ``resume``, ``note``,
``show``, ``list``. Parse, call the engine, print."""

from __future__ import annotations

import os
from typing import Any

import click

from .base import (
    Settings,
    actor_option,
    at_option,
    emit_json,
    json_option,
    show_ticket,
)


@click.command()
@click.option(
    "--channel", required=True, metavar="NAME", help="Intake channel (see `faultflow channels`)."
)
@click.option(
    "--file",
    "file",
    type=click.File("rb"),
    metavar="PATH|-",
    help="The payload as the channel delivers it (JSON, an e-mail, an alert); - reads stdin.",
)
@click.option("--title", help="Short description of the fault.")
@click.option("--description", help="What was reported, in full.")
@click.option("--tier", metavar="T", help="A tier of the contract (any case; `check` lists them).")
@click.option("--kind", metavar="K", help="A kind of fault of the contract.")
@click.option("--cause", metavar="C", help="A cause of the contract (e.g. external).")
@click.option("--reporter", help="Who reported it.")
@click.option("--contact", help="How to reach the reporter.")
@click.option("--external-id", help="The channel's own id: the same id never opens two tickets.")
@at_option
@actor_option
@json_option
@click.pass_obj
def intake(
    settings: Settings,
    channel: str,
    file: Any,
    title: str | None,
    description: str | None,
    tier: str | None,
    kind: str | None,
    cause: str | None,
    reporter: str | None,
    contact: str | None,
    external_id: str | None,
    at: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Open a ticket through a channel; you become its owner (first-ask responsibility).

    Without --file the options are the payload; with --file they override what the payload
    says (e.g. --tier A for an e-mail).
    """
    fields = {
        "title": title,
        "description": description,
        "tier": tier,
        "kind": kind,
        "cause": cause,
        "reporter": reporter,
        "contact": contact,
        "external_id": external_id,
    }
    engine = settings.engine()
    if file is not None:
        payload: Any = file.read()
        overrides = {k: v for k, v in fields.items() if v is not None}
    else:
        payload = {k: v for k, v in fields.items() if v is not None}
        overrides = {}
    results = engine.intake_all(channel, payload, actor=actor, at=at, overrides=overrides)
    results = engine.with_suggestions(results)
    if as_json:
        if len(results) == 1:
            emit_json(results[0].to_dict())
        else:
            emit_json({"results": [r.to_dict() for r in results]})
        return
    if not results:
        click.echo("nothing to do: the payload only resolves alerts that have no ticket")
    from .render import clock_phrase, outcome_line

    for r in results:
        click.echo(outcome_line(r))
        if len(results) == 1 and r.outcome in ("opened", "recurrence"):
            for name, clock in r.ticket.clocks.items():
                click.echo(f"  {name}: {clock_phrase(clock, engine.now())}")
        if r.ticket.merged_into is not None:
            click.echo(f"  merged into {r.ticket.merged_into}: the same place, within the "
                       "merge window ([merge] auto)")  # fmt: skip
        elif r.candidates:
            click.echo("  perhaps the same outage as (faultflow merge "
                       f"{r.ticket.id} into PARENT):")  # fmt: skip
            for c in r.candidates:
                part, code = c.where
                click.echo(f"    {c.id}  {c.state}  via {c.channel}  {c.title[:50]}  "
                           f"(same {part} {code}, {c.created_at:%H:%M})")  # fmt: skip
        for found in r.suggestions:
            e = found.entry
            fix = (e.fix.splitlines() or ["-"])[0][:60]
            click.echo(f"  experience {e.id}: {e.symptom.splitlines()[0][:50]} — fix: {fix}")


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("trigger")
@at_option
@actor_option
@click.option("--note", help="What was done.")
@click.option("--reason", help="Why (required by some guards, e.g. cancel or a direct dispatch).")
@click.option(
    "--attach-report",
    is_flag=True,
    help="Store the customer's handling report in this event (e.g. with `report`).",
)
@click.option(
    "--send",
    is_flag=True,
    help="Then mail the customer's handling report to the reporter (the email notifier's SMTP).",
)
@click.option("--spare", "--serial", "spare", metavar="SERIAL", help="substitute: the spare "
              "taken from stock "
              "(default: one of the faulty device's model, at its site first).")  # fmt: skip
@click.option("--model", help="substitute: the faulty part's model, when its device is not "
              "in the registry.")  # fmt: skip
@click.option("--faulty", metavar="SERIAL", help="substitute: the serial of the part taken "
              "out (default: the ticket's device), entered as a spare in repair.")  # fmt: skip
@json_option
@click.pass_obj
def advance(
    settings: Settings,
    ticket_id: str,
    trigger: str,
    at: str | None,
    actor: str,
    note: str | None,
    reason: str | None,
    attach_report: bool,
    send: bool,
    spare: str | None,
    model: str | None,
    faulty: str | None,
    as_json: bool,
) -> None:
    """Fire TRIGGER on a ticket (respond, remote, dispatch, arrive, resolve, ...)."""
    engine = settings.engine()
    t = engine.advance(
        ticket_id,
        trigger,
        actor=actor,
        at=at,
        note=note,
        reason=reason,
        attach_report=attach_report,
        spare=spare,
        model=model,
        faulty=faulty,
    )
    if send:  # after the step is committed: a mail server away refuses the mail, not the step
        t = engine.send_handling_report(t.id, actor=actor,
                                        base_url=os.environ.get("FAULTFLOW_BASE_URL"))  # fmt: skip
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--tier", metavar="T")
@click.option("--kind", metavar="K")
@click.option("--cause", metavar="C", help="A cause of the contract, or '' to clear it.")
@click.option("--reason", required=True, help="Why the classification changes.")
@at_option
@actor_option
@json_option
@click.pass_obj
def reclassify(
    settings: Settings,
    ticket_id: str,
    tier: str | None,
    kind: str | None,
    cause: str | None,
    reason: str,
    at: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Change tier, kind or cause; every promise is recomputed from its start."""
    t = settings.engine().reclassify(
        ticket_id, tier=tier, kind=kind, cause=cause, reason=reason, actor=actor, at=at
    )
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--reason", required=True, help="Why the clocks stop (e.g. waiting for access).")
@at_option
@actor_option
@json_option
@click.pass_obj
def hold(
    settings: Settings, ticket_id: str, reason: str, at: str | None, actor: str, as_json: bool
) -> None:
    """Pause the ticket's pausable clocks (the contract says which: in the seed, on-site ones)."""
    t = settings.engine().hold(ticket_id, reason=reason, actor=actor, at=at)
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@at_option
@actor_option
@click.option("--note")
@json_option
@click.pass_obj
def resume(
    settings: Settings, ticket_id: str, at: str | None, actor: str, note: str | None, as_json: bool
) -> None:
    """Restart the clocks a hold paused; their due times move by the pause."""
    t = settings.engine().resume(ticket_id, actor=actor, at=at, note=note)
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("text")
@at_option
@actor_option
@json_option
@click.pass_obj
def note(
    settings: Settings, ticket_id: str, text: str, at: str | None, actor: str, as_json: bool
) -> None:
    """Add a note to a ticket's history (closed tickets too); no state or clock moves."""
    t = settings.engine().note(ticket_id, text, actor=actor, at=at)
    show_ticket(settings, t, as_json)


@click.command()
@click.argument("ticket_id", metavar="ID")
@json_option
@click.pass_obj
def show(settings: Settings, ticket_id: str, as_json: bool) -> None:
    """One ticket: its promises (what is at risk), its group and links, and its timeline."""
    engine = settings.engine()
    t = engine.get(ticket_id)
    group = engine.group(t.id) if t.parent is not None or _linked(t) else None
    if as_json:
        emit_json({**t.to_dict(), **({"group": group.to_dict()} if group else {})})
        return
    show_ticket(settings, t, False)
    if group is not None:
        from .merging import group_lines

        click.echo(click.style("group and links", bold=True))
        for line in group_lines(group):
            click.echo(line)


def _linked(ticket: Any) -> bool:
    """Whether the ticket's history says it was ever linked (its links are read only then)."""
    return any(e.trigger in ("link", "unlink") for e in ticket.history)


@click.command(name="list")
@click.option("--state", metavar="S")
@click.option("--tier", metavar="T")
@click.option("--owner", metavar="ACTOR")
@click.option("--unit", metavar="CODE", help="Only the tickets at this unit of the registry.")
@click.option(
    "--search",
    metavar="TEXT",
    help="Only tickets whose title, description or notes match, best first (Chinese or English).",
)
@click.option(
    "--breached/--not-breached",
    default=None,
    help="Only tickets with (or without) a broken promise.",
)
@click.option("--all", "show_all", is_flag=True, help="Include reported and cancelled tickets.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N tickets.")
@click.option(
    "--after",
    metavar="ID",
    help="Start behind ticket ID (the last of the page before): page with --limit.",
)
@json_option
@click.pass_obj
def list_(
    settings: Settings,
    state: str | None,
    tier: str | None,
    owner: str | None,
    unit: str | None,
    search: str | None,
    breached: bool | None,
    show_all: bool,
    limit: int | None,
    after: str | None,
    as_json: bool,
) -> None:
    """Tickets, most urgent first: broken promises on top, then the nearest due.

    Without --state or --all, only open tickets (not in a final state) are listed.
    """
    engine = settings.engine()
    if search is not None:
        if after is not None:
            raise click.UsageError("--search lists the best matches; --after pages by urgency")
        found = engine.search_tickets(search, limit or 50)
        final = engine.contract.finals
        tickets = [
            t for t in found
            if (state is None or t.state == state) and (tier is None or t.tier == tier)
            and (owner is None or t.owner == owner) and (unit is None or t.unit == unit)
            and (breached is None or t.breached == breached)
            and (show_all or state is not None or t.state not in final)
        ]  # fmt: skip
        if as_json:
            emit_json([t.to_dict(history=False) for t in tickets])
            return
        from .render import list_text

        click.echo(list_text(tickets, engine.now()))
        return
    tickets = engine.list(
        state=state,
        tier=tier,
        breached=breached,
        owner=owner,
        limit=limit,
        final=None if state is not None or show_all else False,
        after=after,
        unit=unit,
    )
    if as_json:
        emit_json([t.to_dict() for t in tickets])
        return
    from .render import list_text

    click.echo(list_text(tickets, engine.now()))
