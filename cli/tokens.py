"""``faultflow token``: the API tokens of ``faultflow serve``."""

from __future__ import annotations

import click
from faultflow.timekeeping.times import show

from .base import Settings, emit_json, json_option


@click.group()
def token() -> None:
    """API tokens for `faultflow serve` (secrets shown once, stored as a hash).

    \b
    Scopes: intake:CHANNEL (or intake:*) deliver faults through a channel; read looks at
    tickets, reports and history; operate changes tickets (and reads); admin does everything.
    """


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="SCOPE",
    help="intake:CHANNEL, intake:*, read, operate, registry, kb or admin; repeat for several.",
)
@click.option(
    "--as",
    "actor",
    metavar="ACTOR",
    help="Whom the history names for what the token does (default: its name).",
)
@json_option
@click.pass_obj
def create(settings: Settings, name: str, scopes: tuple[str, ...], actor: str | None,
           as_json: bool) -> None:  # fmt: skip
    """Make a token; its secret is printed once, alone on the last line."""
    made, secret = settings.engine().create_token(name, scopes, actor)
    if as_json:
        emit_json({"name": made.name, "secret": secret, "scopes": list(made.scopes)})
        return
    click.echo(
        f"token {made.name}: scopes {' '.join(made.scopes)}, acting as {made.actor}. "
        "Its secret (shown this once; keep it in a secret store):",
        err=True,
    )
    click.echo(secret)


@token.command("list")
@json_option
@click.pass_obj
def list_(settings: Settings, as_json: bool) -> None:
    """Every token: name, scopes, actor, when made, whether revoked (never a secret)."""
    found = settings.engine().tokens()
    if as_json:
        emit_json([t.to_dict() for t in found])
        return
    if not found:
        click.echo("no tokens (make one with `faultflow token create NAME --scope ...`)")
    for t in found:
        state = f"revoked {show(t.revoked_at)}" if t.revoked_at else "active"
        click.echo(
            f"{t.name:<20} {state:<24} as {t.actor:<16} {' '.join(t.scopes)}"
            f"  (made {show(t.created_at)})"
        )


@token.command("revoke")
@click.argument("name")
@click.pass_obj
def revoke(settings: Settings, name: str) -> None:
    """Revoke a token for good; requests with its secret get 401 from now on."""
    gone = settings.engine().revoke_token(name)
    click.echo(f"token {gone.name} revoked")
