"""Follow-up calls on the command line (回访): ``faultflow followup ID --rating N [--note TEXT]``
records one; ``faultflow followups [--state due|done|missed]`` lists them (docs/followup.md)."""

from __future__ import annotations

from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import Settings, actor_option, emit_json, json_option


def _line(engine: Any, f: Any) -> str:
    now = engine.now()
    said = f"{f.rating}/5" + (f" {f.comment}" if f.comment else "") if f.rating else ""
    review = f"  review {f.review}" if f.review else ""
    return (f"{f.ticket}  {f.state:<6}  due {show(f.due_at, 'near', now)}  {f.unit or '-'}  "
            f"{f.channel}  {f.owner}  {said}{review}").rstrip()  # fmt: skip


@click.command()
@click.argument("ticket_id", metavar="ID")
@click.option("--rating", required=True, type=click.IntRange(1, 5),
              help="The customer's rating, 1 (very unhappy) to 5 (very satisfied).")  # fmt: skip
@click.option("--note", help="What the customer said.")
@actor_option
@json_option
@click.pass_obj
def followup(settings: Settings, ticket_id: str, rating: int, note: str | None, actor: str,
             as_json: bool) -> None:  # fmt: skip
    """Record the follow-up call (回访) of a reported ticket: the customer's rating and comment.
    Once per ticket; a low rating opens a review ticket for the unit's customer manager."""
    engine = settings.engine()
    f = engine.followup(ticket_id, rating, note, actor=actor)
    if as_json:
        emit_json(f.to_dict())
        return
    click.echo(_line(engine, f))
    if f.review:
        click.echo(f"  a low rating: review ticket {f.review} opened for the unit's manager")


@click.command()
@click.option("--state", type=click.Choice(["due", "done", "missed"]),
              help="Only those due (to call), done, or missed.")  # fmt: skip
@json_option
@click.pass_obj
def followups(settings: Settings, state: str | None, as_json: bool) -> None:
    """The follow-ups, the soonest due first: whom to call back, and what they said."""
    engine = settings.engine()
    found = engine.followups(state)
    if as_json:
        emit_json({"followups": [f.to_dict() for f in found]})
        return
    if not found:
        click.echo("no follow-up")
    for f in found:
        click.echo(_line(engine, f))
