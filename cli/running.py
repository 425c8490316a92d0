"""The background work from the command line: ``tick`` (once) and ``run`` (the run loop)."""

from __future__ import annotations

from typing import Any

import click

from .base import (
    ENV_CONFIG,
    ENV_DB,
    ENV_NOW,
    TIME_HELP,
    FaultflowGroup,
    Settings,
    emit_json,
    json_option,
    log_like_run,
    max_sleep_option,
)


@click.group(cls=FaultflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar=ENV_DB,
    default="faultflow.db",
    show_default=True,
    metavar="URL|PATH",
    help=f"Database: an SQLite file or a URL such as postgresql://host/db [{ENV_DB}].",
)
@click.option(
    "--config",
    envvar=ENV_CONFIG,
    metavar="PATH",
    help=f"Contract file [{ENV_CONFIG}]; default ./states.toml, else the packaged one.",
)
@click.option(
    "--now",
    envvar=ENV_NOW,
    metavar="TIME",
    help=f"The engine clock for this command, for drills and replays [{ENV_NOW}]: {TIME_HELP}.",
)
@click.option(
    "--people",
    envvar="FAULTFLOW_PEOPLE",
    metavar="PATH",
    help="Duty rosters and escalation chains [FAULTFLOW_PEOPLE]; default ./people.toml if any.",
)
@click.version_option(package_name="faultflow", prog_name="faultflow")
@click.pass_context
def cli(
    ctx: click.Context, db: str, config: str | None, now: str | None, people: str | None
) -> None:
    """faultflow: fault tickets under a service-level contract.

    \b
    Start here:
      faultflow demo                      a simulated month of the seed contract
      faultflow init                      create the database (./faultflow.db)
      faultflow intake --channel hotline --tier A --title "core switch down"
      faultflow list                      open tickets, most urgent first
      faultflow show ID                   one ticket: promises and timeline
      faultflow advance ID respond        fire a trigger
      faultflow run                       keep firing warnings and breaches

    Every command that shows data takes --json. Exit codes: 0 done, 1 refused, 2 usage,
    75 the database is busy or unreachable (nothing was written: try again later).
    """
    ctx.obj = Settings(db, config, now, people)


# -- commands ------------------------------------------------------------------------------------



@click.command()
@json_option
@click.pass_obj
def tick(settings: Settings, as_json: bool) -> None:
    """Fire every warning and breach due now, once (safe to run from several hosts)."""
    log_like_run()
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
    log_like_run()
    engine = settings.engine(interactive=False)
    from .render import fired_text

    click.echo(f"faultflow run: watching {engine.store.safe_url} (Ctrl-C to stop)", err=True)

    def report(fired: list[Any]) -> None:
        click.echo(fired_text(fired, engine.now()))

    engine.run(max_sleep=max_sleep, on_fired=report)
    click.echo("faultflow run: stopped", err=True)
