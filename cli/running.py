"""The background work from the command line: ``tick`` (once) and ``run`` (the run loop)."""

from __future__ import annotations

from typing import Any

import click

from .base import (
    Settings,
    emit_json,
    json_option,
    log_like_run,
    max_sleep_option,
)


@click.command()
@json_option
@click.pass_obj
def tick(settings: Settings, as_json: bool) -> None:
    """Fire every warning and breach due now, once (safe to run from several hosts)."""
    log_like_run(settings.verbose)
    engine = settings.engine(interactive=False)  # a sweep waits like `run` does
    fired = engine.tick(deliver=False)
    attempts = engine.deliver()  # every notification due, these alarms' included
    failed = sum(1 for a in attempts if not a.ok)
    counts = {
        "warnings": sum(1 for f in fired if f.event == "warning"),
        "breaches": sum(1 for f in fired if f.event == "breach"),
        "delivered": len(attempts) - failed,
        "failed": failed,
    }
    if as_json:
        emit_json({"fired": [f.to_dict() for f in fired], "summary": counts})
        return
    from .render import fired_text, tick_summary

    if fired:
        click.echo(fired_text(fired, engine.now()))
    click.echo(tick_summary(counts))


@click.command()
@max_sleep_option
@click.pass_obj
def run(settings: Settings, max_sleep: float) -> None:
    """Keep firing warnings and breaches as they fall due, until Ctrl-C or SIGTERM.

    Several `run` processes may share one database: each alarm fires once.
    """
    log_like_run(settings.verbose)
    engine = settings.engine(interactive=False)
    from .render import fired_text

    click.echo(f"faultflow run: watching {engine.store.safe_url} (Ctrl-C to stop)", err=True)

    def report(fired: list[Any]) -> None:
        click.echo(fired_text(fired, engine.now()))

    engine.run(max_sleep=max_sleep, on_fired=report)
    click.echo("faultflow run: stopped", err=True)
