"""The ``faultflow`` command: parse, call the engine, print. No rules and no tables here.

Imports of the engine (and so of SQLAlchemy) happen inside the commands, so that
``faultflow --help`` and shell completion stay fast.
"""

from __future__ import annotations

import click

from .base import (
    ENV_CONFIG,
    ENV_DB,
    ENV_NOW,
    TIME_HELP,
    FaultflowGroup,
    Settings,
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
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Services (run, serve, mail watch) log debug lines too, the state machine's included.",
)
@click.version_option(package_name="faultflow", prog_name="faultflow")
@click.pass_context
def cli(
    ctx: click.Context, db: str, config: str | None, now: str | None, people: str | None,
    verbose: bool,
) -> None:  # fmt: skip
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
    ctx.obj = Settings(db, config, now, people, verbose)


# -- commands ------------------------------------------------------------------------------------


@cli.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Create the database, or upgrade it; safe to run again."""
    engine = settings.engine(create=True)
    from faultflow.db.migrations import HEAD

    for revision in engine.store.migrated:
        click.echo(f"applied migration {revision}")
    click.echo(f"database ready: {engine.store.safe_url} (schema revision {HEAD})")


def main() -> None:
    """Entry point of the ``faultflow`` command."""
    cli(prog_name="faultflow")


def _register() -> None:
    """The commands, kept in modules by area."""
    from .checks import channels, check, graph
    from .contracts import contract
    from .demo import demo
    from .followup import followup, followups
    from .inspect import inspect
    from .kb import kb
    from .mail import mail
    from .maintenance import maintenance
    from .merging import link, merge, unlink, unmerge
    from .network import groups
    from .people import ack, assign, escalate, oncall
    from .reports import report, verify
    from .running import run, tick
    from .serve import serve
    from .spares import spares
    from .tickets import advance, hold, intake, list_, note, reclassify, resume, show
    from .tokens import token

    for command in (
        intake, advance, reclassify, hold, resume, note, show, list_, tick, run, channels,
        check, graph, report, verify, demo, token, serve, oncall, ack, escalate, assign, mail,
        contract, kb, inspect, spares, link, unlink, merge, unmerge, maintenance,
        followup, followups, *groups(),
    ):  # fmt: skip
        cli.add_command(command)


_register()
