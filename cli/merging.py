"""Commands on one outage reported many times: ``link``, ``unlink``, ``merge``, ``unmerge``
(docs/tickets.md, "One outage, many reports"). Parse, call the engine, print."""

from __future__ import annotations

from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import Settings, actor_option, by_option, emit_json, json_option, show_ticket

LINK_KINDS = ("duplicate", "related", "caused-by")


def group_lines(group: Any) -> list[str]:
    """A ticket's group and links in words (``show`` and these commands)."""
    lines = []
    if group.parent is not None and group.parent != group.ticket:
        lines.append(f"  merged into {group.parent} (the outage's ticket: work on it there)")
    elif group.parent == group.ticket:
        first = show(group.origin, "minute") if group.origin else "?"
        lines.append(
            f"  parent of {len(group.reports)} report(s): {', '.join(group.reports)}; its "
            f"promises run from the first report, {first}"
        )
    for k in group.links:
        lines.append(f"  {k.kind} {k.other}  (linked by {k.actor})")
    return lines


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("other", metavar="OTHER")
@click.option("--as", "kind", type=click.Choice(LINK_KINDS), default="related",
              show_default=True, help="What ID is to OTHER.")  # fmt: skip
@click.option("--note", help="Why they belong together.")
@by_option
@json_option
@click.pass_obj
def link(
    settings: Settings, ticket_id: str, other: str, kind: str, note: str | None, actor: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Say that ticket ID is a duplicate of, related to or caused by OTHER: an event on both;
    no clock moves (to run them as one outage, merge them)."""
    group = settings.engine().link(ticket_id, other, kind, actor=actor, note=note)
    if as_json:
        emit_json(group.to_dict())
        return
    click.echo(f"linked: {group.ticket} {kind} {other.upper()}")


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("other", metavar="OTHER")
@actor_option
@click.pass_obj
def unlink(settings: Settings, ticket_id: str, other: str, actor: str) -> None:
    """Take back the link between ID and OTHER (either way it was said)."""
    group = settings.engine().unlink(ticket_id, other, actor=actor)
    click.echo(f"unlinked: {group.ticket} and {other.upper()}")


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.argument("target", nargs=-1, metavar="[into PARENT]")
@click.option("--into", "into", metavar="PARENT", help="The outage's ticket.")
@click.option("--reason", help="Why they are one outage.")
@actor_option
@json_option
@click.pass_obj
def merge(
    settings: Settings, ticket_id: str, target: tuple[str, ...], into: str | None,
    reason: str | None, actor: str, as_json: bool,
) -> None:  # fmt: skip
    """Merge the report ID into the open ticket PARENT (`faultflow merge ID --into PARENT`, or
    `merge ID into PARENT`): one outage. ID's clocks stop and it closes with PARENT;
    PARENT's promises run from the first report of the group (a promise that this breaks
    fires and pages at once). Undo with `faultflow unmerge ID`."""
    if into is not None and not target:
        parent = into
    elif into is None and len(target) == 2 and target[0].casefold() == "into":
        parent = target[1]
    elif into is None and len(target) == 1 and target[0].casefold() != "into":
        parent = target[0]
    else:
        raise click.UsageError("give the parent once: faultflow merge ID --into PARENT")
    engine = settings.engine()
    t = engine.merge(ticket_id, parent, actor=actor, reason=reason)
    if as_json:
        emit_json({**t.to_dict(), "group": engine.group(t.id).to_dict()})
        return
    click.echo(f"merged {ticket_id.upper()} into {t.id}")
    show_ticket(settings, t, False)


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--reason", help="Why it is a fault of its own after all.")
@actor_option
@json_option
@click.pass_obj
def unmerge(
    settings: Settings, ticket_id: str, reason: str | None, actor: str, as_json: bool
) -> None:
    """Take the report ID out of the outage it was merged into: its own promises run again
    from its own report (what fell due meanwhile fires), its history kept."""
    show_ticket(settings, settings.engine().unmerge(ticket_id, actor=actor, reason=reason),
                as_json)  # fmt: skip
