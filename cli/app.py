"""The ``faultflow`` command: parse, call the engine, print. No rules and no tables here.

Imports of the engine (and so of SQLAlchemy) happen inside the commands, so that
``faultflow --help`` and shell completion stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .base import (
    ENV_CONFIG,
    ENV_DB,
    ENV_NOW,
    TIME_HELP,
    FaultflowGroup,
    Settings,
    actor_option,
    at_option,
    emit_json,
    json_option,
    log_like_run,
    max_sleep_option,
    show_ticket,
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


@cli.command()
@click.pass_obj
def init(settings: Settings) -> None:
    """Create the database, or upgrade it; safe to run again."""
    engine = settings.engine(create=True)
    from faultflow.db.migrations import HEAD

    for revision in engine.store.migrated:
        click.echo(f"applied migration {revision}")
    click.echo(f"database ready: {engine.store.safe_url} (schema revision {HEAD})")


@cli.command()
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


@cli.command()
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
    )
    if send:  # after the step is committed: a mail server away refuses the mail, not the step
        t = engine.send_handling_report(t.id, actor=actor)
    show_ticket(settings, t, as_json)


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
@click.argument("ticket_id", metavar="ID")
@json_option
@click.pass_obj
def show(settings: Settings, ticket_id: str, as_json: bool) -> None:
    """One ticket: its promises (what is at risk) and its timeline."""
    show_ticket(settings, settings.engine().get(ticket_id), as_json)


@cli.command(name="list")
@click.option("--state", metavar="S")
@click.option("--tier", metavar="T")
@click.option("--owner", metavar="ACTOR")
@click.option(
    "--breached/--not-breached",
    default=None,
    help="Only tickets with (or without) a broken promise.",
)
@click.option("--all", "show_all", is_flag=True, help="Include reported and cancelled tickets.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N")
@json_option
@click.pass_obj
def list_(
    settings: Settings,
    state: str | None,
    tier: str | None,
    owner: str | None,
    breached: bool | None,
    show_all: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """Tickets, most urgent first: broken promises on top, then the nearest due.

    Without --state or --all, only open tickets (not in a final state) are listed.
    """
    engine = settings.engine()
    tickets = engine.list(
        state=state,
        tier=tier,
        breached=breached,
        owner=owner,
        limit=limit,
        final=None if state is not None or show_all else False,
    )
    if as_json:
        emit_json([t.to_dict() for t in tickets])
        return
    from .render import list_text

    click.echo(list_text(tickets, engine.now()))


@cli.command()
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


@cli.command()
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


@cli.command()
@json_option
@click.pass_obj
def channels(settings: Settings, as_json: bool) -> None:
    """The installed intake channels and notifiers, and any plugin that failed to load."""
    from faultflow.registry import discover

    registry = discover()
    if as_json:
        emit_json(
            {
                "channels": {
                    n: {"description": c.description, "plugin": registry.origin[n]}
                    for n, c in sorted(registry.channels.items())
                },
                "notifiers": {
                    n: {"plugin": registry.origin[n]} for n in sorted(registry.notifiers)
                },
                "broken": registry.broken,
            }
        )
        return
    click.echo(click.style("channels", bold=True))
    for name, channel in sorted(registry.channels.items()):
        click.echo(f"  {name:<17} {channel.description}")
    click.echo(click.style("notifiers", bold=True))
    for name in sorted(registry.notifiers):
        click.echo(f"  {name}")
    for plugin, problem in sorted(registry.broken.items()):
        click.echo(click.style(f"broken plugin {plugin}: {problem}", fg="red"), err=True)


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@json_option
@click.pass_obj
def check(settings: Settings, path: str | None, as_json: bool) -> None:
    """Validate a contract file (default: the one --config would use), and the people file
    (--people, else ./people.toml) with it."""
    from faultflow.contract.model import load_contract

    contract = load_contract(Path(path) if path else settings.config_path())
    summary: dict[str, Any] = {
        "file": contract.source,
        "name": contract.name,
        "timezone": contract.timezone.key,
        "tiers": list(contract.tiers),
        "states": list(contract.states),
        "triggers": list(contract.triggers),
        "clocks": list(contract.clocks),
        "notifiers": list(contract.notifiers),
    }
    # The people file of this setup (--people, FAULTFLOW_PEOPLE, ./people.toml) is checked with
    # its contract; checking another contract file (PATH) checks it with that one only if
    # --people names it.
    people_file = settings.people_path() if path is None or settings.people_option else None
    if people_file is not None:
        from faultflow.duty.people import load

        roster = load(people_file, contract)
        summary["people"] = {
            "file": roster.source,
            "people": list(roster.people),
            "roles": list(roster.roles),
            "chains": list(roster.chains),
        }
    for warning in contract.warnings:
        click.echo(f"warning: {warning}", err=True)
    against = _against_database(settings, contract)
    if against is not None:
        summary["database"] = against
    if as_json:
        emit_json({"ok": True, **summary, "warnings": list(contract.warnings)})
        return
    click.echo(f"ok: {contract.source}")
    click.echo(f"  {contract.name} ({contract.timezone.key})")
    click.echo(
        f"  tiers {', '.join(contract.tiers)}; {len(contract.states)} states, "
        f"{len(contract.transitions)} transitions; clocks {', '.join(contract.clocks)}"
    )
    if people_file is not None:
        p = summary["people"]
        click.echo(
            f"ok: {p['file']}: {len(p['people'])} people, roles {', '.join(p['roles'])}; "
            f"escalation chains for tiers {', '.join(p['chains']) or 'none'}"
        )
    if against is not None:
        click.echo(f"ok: the database: {against['said']}")


def _against_database(settings: Settings, contract: Any) -> dict[str, Any] | None:
    """The contract against the database's open tickets, when there is a database: refused
    (InvalidInput) if open tickets are in states it does not have; else what applying it
    would mean. ``None`` when there is no database to look at."""
    from faultflow.engine import Engine
    from faultflow.errors import DatabaseError, InvalidInput

    try:
        engine = Engine.open(db=settings.db, config=contract, create=False, pinned=False,
                             lock_timeout=5)  # fmt: skip
    except DatabaseError:
        return None  # no database here (or not one at our schema): the file alone is checked
    try:
        found = engine.contract_diff(contract)
    finally:
        engine.close()
    if found.orphans:
        named = ", ".join(f"{t.ticket} ({t.state})" for t in found.orphans[:10])
        raise InvalidInput(
            f"{len(found.orphans)} open ticket(s) of the database are in states "
            f"{contract.source} does not have: {named} (see `faultflow contract diff`)"
        )
    if found.same:
        said = f"runs this version ({contract.version})"
    else:
        moving = sum(1 for t in found.tickets if any(m.change != "same" for m in t.moves))
        said = (
            f"runs version {found.current}; this file is {contract.version}: "
            f"`faultflow contract apply` takes it on ({moving} open ticket(s) would see due "
            "times move with --migrate-open; `faultflow contract diff` shows them)"
        )
    return {"current": found.current, "version": contract.version, "said": said}


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg"]),
    default="mermaid",
    show_default=True,
    help="Mermaid text (needs nothing) or SVG (needs Graphviz).",
)
@click.option("--out", metavar="FILE", help="Write to FILE instead of stdout.")
@click.pass_obj
def graph(settings: Settings, path: str | None, fmt: str, out: str | None) -> None:
    """Draw the contract's lifecycle: states, triggers and guards (default: --config's)."""
    from faultflow.contract.graph import draw
    from faultflow.contract.model import load_contract

    contract = load_contract(Path(path)) if path else settings.contract()
    write_out(draw(contract, fmt), out)


@cli.command()
@click.option(
    "--from",
    "start",
    metavar="TIME",
    help="Start of the period (default: 30 days "
    "before --to). A clock belongs to the period in which it started.",
)
@click.option("--to", "end", metavar="TIME", help="End of the period (default: now).")
@click.option(
    "--ticket",
    "ticket_id",
    metavar="ID",
    help="Instead: the customer's handling report of one ticket (P11).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "html", "md"]),
    help="table (default), json, csv or html; for --ticket: md (default) or html.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write to FILE instead of stdout.",
)
@click.pass_obj
def report(
    settings: Settings,
    start: str | None,
    end: str | None,
    ticket_id: str | None,
    fmt: str | None,
    out: str | None,
) -> None:
    """SLA compliance per promise and tier: met, breached, median, p90, worst overrun.

    With --ticket, the handling report to the customer instead: the fault, its owner, what was
    done, each promise met or missed, the spare used.
    """
    engine = settings.engine()
    if ticket_id is not None:
        if start or end:
            raise click.UsageError("--ticket reports one ticket; leave out --from and --to")
        if fmt not in (None, "md", "html"):
            raise click.UsageError("--ticket takes --format md or html")
        write_out(engine.handling_report(ticket_id, fmt or "md"), out)
        return
    if fmt == "md":
        raise click.UsageError("--format md is for --ticket; use table, json, csv or html")
    result = engine.report(start, end)
    from faultflow.reports import render as report_render

    if fmt == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    elif fmt == "csv":
        text = report_render.to_csv(result)
    elif fmt == "html":
        from faultflow.contract.graph import lifecycle_html
        from faultflow.reports import html as report_html

        text = report_html.render(result, lifecycle=lifecycle_html(engine.contract))
    else:
        text = report_render.table(result)
    write_out(text, out)


@cli.command()
@click.option(
    "--head",
    "show_head",
    is_flag=True,
    help="Print the chain head to keep as proof (with --out, save every ticket's head).",
)
@click.option(
    "--against",
    type=click.File("r"),
    metavar="FILE",
    help="A head saved earlier with --head --out: prove nothing before it changed.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="With --head: where to save it.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=lambda: min(4, os.cpu_count() or 1),
    show_default="the CPUs, at most 4",
    help="Processes to check a big database with (from 20,000 tickets).",
)
@json_option
@click.pass_obj
def verify(
    settings: Settings,
    show_head: bool,
    against: Any,
    out: str | None,
    workers: int,
    as_json: bool,
) -> None:
    """Check the audit chain and what is stored beside it.

    Every event is hashed over its content and its predecessor (sealed with an HMAC when
    FAULTFLOW_AUDIT_KEY is set), and every ticket's row and clocks are replayed from its
    history. Exit 0 with the number of events checked, or exit 1 naming the first broken link
    (ticket, seq) of every ticket whose history or rows were edited, reordered or cut short.
    See docs/reports.md for what each mode proves.
    """
    engine = settings.engine()
    if show_head:
        head = engine.head(tickets=out is not None)
        if out is not None:
            write_out(json.dumps(head, ensure_ascii=False), out)
        summary = {k: v for k, v in head.items() if k != "heads"}
        if as_json:
            emit_json(summary)
        else:
            click.echo(
                f"head {summary['head']}  ({summary['tickets']} tickets, "
                f"{summary['events']} events, {summary['at']})"
            )
        return
    saved = None
    if against is not None:
        from faultflow.audit.chain import SavedHead

        try:
            text = json.load(against)
        except ValueError:
            text = None  # refused below, naming the file: not a usage error
        saved = SavedHead.load(text, against.name)
    result = engine.verify(against=saved, workers=workers)
    if as_json:
        emit_json(result.to_dict())
    elif result.ok:
        sealed = f" ({result.sealed} sealed with the audit key)" if engine.sealer.keyed else ""
        extra = ""
        if saved is not None:
            extra = (
                f"; every ticket of head {saved.digest[:16]}… ({len(saved.heads)} tickets, "
                f"{against.name}) still holds"
            )
        click.echo(
            f"ok: {result.events} events of {result.tickets} tickets verified{sealed}{extra}"
        )
    if not result.ok:
        first = result.broken[0]
        click.echo(
            f"error: the audit chain is broken at ticket {first.ticket} seq {first.seq}: "
            f"{first.reason} ({len(result.broken)} ticket(s) affected)",
            err=True,
        )
        if not as_json:
            for b in result.broken[1:]:
                click.echo(f"  also ticket {b.ticket} seq {b.seq}: {b.reason}", err=True)
        raise SystemExit(1)


def write_out(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text)
        return
    from faultflow.errors import InvalidInput

    path = Path(out)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {path}: there is no folder {path.parent}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        tmp.replace(path)  # never a half-written report
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {path}: {err.strerror or err}") from None
    click.echo(f"wrote {path}", err=True)


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=30,
    show_default=True,
    help="How many days to simulate.",
)
@click.option(
    "--seed",
    type=int,
    default=2023,
    show_default=True,
    help="Random seed: the same seed gives the same month.",
)
@json_option
@click.pass_context
def demo(ctx: click.Context, days: int, seed: int, as_json: bool) -> None:
    """Simulate a month of the seed contract on a fresh database and print the SLA report.

    Faults arrive through every built-in channel; operators respond, work remotely, go on
    site, resolve or substitute a spare and report, mostly in time. Nothing sleeps: the engine
    runs on the simulation's clock. The database is left behind for you to look at (a new
    temporary one unless you give --db).
    """
    import tempfile
    from datetime import datetime

    from click.core import ParameterSource
    from faultflow.contract.model import default_contract_path
    from faultflow.duty.people import seed_people_path
    from faultflow.engine import Engine
    from faultflow.reports.render import table

    from .demo import simulate

    settings: Settings = ctx.obj
    given = ctx.parent.get_parameter_source("db") if ctx.parent else None
    if given in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        db = settings.db
    else:
        db = str(Path(tempfile.mkdtemp(prefix="faultflow-demo-")) / "demo.db")
    contract = settings.contract()
    real_clock = settings.clock()
    end = real_clock() if real_clock else datetime.now(contract.timezone)
    clock = [end]
    people = settings.people_path()
    if people is None and contract.source == str(default_contract_path()):
        people = seed_people_path()  # the seed contract's roster, made-up people
    engine = Engine.open(db=db, config=contract, clock=lambda: clock[0], create=True, people=people)
    try:
        if engine.list(limit=1):
            raise click.UsageError(
                f"{db} already has tickets; the demo needs a fresh database "
                "(leave out --db for a temporary one)"
            )
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(
                length=days, label=f"simulating {days} days", file=sys.stderr
            ) as bar:
                outcome = simulate(engine, clock, days, seed, bar.update)
        else:
            outcome = simulate(engine, clock, days, seed)
        result = engine.report(outcome.start, outcome.end)
        paging = _paging(engine, outcome)
    finally:
        engine.close()
    if as_json:
        emit_json(
            {
                "db": db,
                "tickets": outcome.opened,
                "repeats_absorbed": outcome.duplicates,
                "alarms_fired": outcome.fired,
                "people": paging,
                "report": result.to_dict(),
            }
        )
        return
    click.echo(table(result))
    prefix = f"faultflow --db {db}"
    click.echo("")
    click.echo(
        f"{outcome.opened} tickets; {outcome.duplicates} repeated alerts and messages and "
        f"{outcome.resolved_alerts} resolved alerts "
        f"opened none; the scheduler fired {outcome.fired} warnings and breaches."
    )
    if paging:
        most = ", ".join(f"{who} {n}" for who, n in paging["paged_most"])
        click.echo(
            f"People: {paging['chains']} escalation chains sent {paging['pages']} pages "
            f"(most paged: {most}); {paging['acks']} acknowledged, a median "
            f"{paging['median_ack_min']} min after the first page; {paging['handovers']} tickets "
            f"handed over to the on-site engineers. Rotation: {paging['rotation']}."
        )
    click.echo(f"The demo database is {db}. Look around:")
    hints = []
    if outcome.sample_breached:
        hints.append((f"show {outcome.sample_breached}", "a ticket with a broken promise"))
    if outcome.sample_met:
        hints.append((f"show {outcome.sample_met}", "a ticket handled in time"))
    hints.append(("list", "what is still open, most urgent first"))
    if paging:
        roster = "" if settings.people_path() else f"--people {seed_people_path()} "
        hints.append((f"{roster}oncall --week", "who is on duty, the coming week"))
    hints.append(("report --format html --out report.html", "the report, for a browser"))
    hints.append(("token create duty --scope operate", "a token to log in to the duty board"))
    hints.append(("serve", "the portal on http://127.0.0.1:8000/, the board on /board"))
    width = max(len(command) for command, _ in hints)
    for command, what in hints:
        click.echo(f"  {prefix} {command:<{width}}   {what}")


def _paging(engine: Any, outcome: Any) -> dict[str, Any]:
    """What the people side of the demo did: pages, whom, acknowledgements, handovers."""
    if engine.people is None:
        return {}
    import statistics
    from collections import Counter
    from datetime import timedelta

    paged: Counter[str] = Counter()
    pages = 0
    waits = []
    for tid in sorted(outcome.escalated):
        history = engine.history(tid)
        first_page = next((e.at for e in history if e.trigger == "page"), None)
        for e in history:
            if e.trigger == "page":
                pages += 1
                paged.update(p["person"] for p in e.data.get("paged", []))
            elif e.trigger == "ack" and first_page is not None:
                waits.append((e.at - first_page).total_seconds() / 60)
    holders = []
    at = outcome.start
    while at < outcome.start + timedelta(days=4):
        (duty,) = engine.oncall("duty-engineer", at)["duty-engineer"]
        holders.append(f"{duty.person.id} from {at:%m-%d %H:%M}")
        at = duty.until
    return {
        "chains": len(outcome.escalated),
        "pages": pages,
        "paged_most": sorted(paged.items(), key=lambda kv: (-kv[1], kv[0]))[:3],
        "acks": outcome.acks,
        "median_ack_min": round(statistics.median(waits), 1) if waits else None,
        "handovers": outcome.handovers,
        "rotation": ", ".join(holders) + ", ...",
    }


def main() -> None:
    """Entry point of the ``faultflow`` command."""
    cli(prog_name="faultflow")


def _register() -> None:
    """The commands kept in modules of their own."""
    from .contracts import contract
    from .mail import mail
    from .people import ack, assign, escalate, oncall
    from .serve import serve
    from .tokens import token

    for command in (token, serve, oncall, ack, escalate, assign, mail, contract):
        cli.add_command(command)


_register()
