"""``faultflow mail``: the mailbox poller ([channels.email.imap] in the contract)."""

from __future__ import annotations

from typing import Any

import click

from .base import Settings, emit_json, json_option, log_like_run


def _box(settings: Settings) -> Any:
    from faultflow.errors import ConfigError
    from faultflow.run.mailbox import configured

    box = configured(settings.contract())
    if box is None:
        raise ConfigError(
            "no mailbox: the contract has no [channels.email.imap] table (docs/mail.md)"
        )
    return box


@click.group()
def mail() -> None:
    """Read fault reports (and replies) from an IMAP mailbox (docs/mail.md)."""


@mail.command()
@click.option("--as", "actor", default="mailbox", show_default=True, help="The intake's actor.")
@json_option
@click.pass_obj
def fetch(settings: Settings, actor: str, as_json: bool) -> None:
    """One pass: every message in the folder to a ticket or a note, then moved aside."""
    from faultflow.run.mailbox import fetch as one_pass

    box = _box(settings)
    engine = settings.engine()
    result = one_pass(lambda raw: engine.intake_all("email", raw, actor), box)
    if as_json:
        emit_json(
            {"read": result.read, "outcomes": result.outcomes, "refused": result.refused,
             "left": result.left}
        )  # fmt: skip
        return
    said = ", ".join(f"{n} {k}" for k, n in sorted(result.outcomes.items())) or "nothing new"
    click.echo(f"mail: {result.read} read: {said}; {len(result.refused)} refused")
    for line in result.refused:
        click.echo(f"  refused {line}")
    if result.left:
        click.echo(f"  {result.left} left in the mailbox: the database was unavailable")


@mail.command()
@click.option("--as", "actor", default="mailbox", show_default=True, help="The intake's actor.")
@click.pass_obj
def watch(settings: Settings, actor: str) -> None:
    """Keep reading: a pass, then IMAP IDLE until new mail (reconnecting with backoff)."""
    import threading

    from faultflow.run import loop
    from faultflow.run.modules import Mailbox

    log_like_run(settings.verbose)
    box = _box(settings)
    engine = settings.engine(interactive=False)
    click.echo(f"faultflow mail: watching {box.user}@{box.host}/{box.folder}", err=True)

    def report(result: Any) -> None:
        if result.read:
            said = ", ".join(f"{n} {k}" for k, n in sorted(result.outcomes.items()))
            click.echo(f"mail: {result.read} read: {said}; {len(result.refused)} refused", err=True)

    reader = Mailbox(lambda raw: engine.intake_all("email", raw, actor), box, 5.0, report)
    loop.run([loop.Lane("mailbox", [reader])], threading.Event(), max_sleep=5.0)
    click.echo("faultflow mail: stopped", err=True)
