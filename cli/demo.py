"""``faultflow demo``: a simulated month of the seed contract (simulation.py) on a fresh
database, and the summary printed after it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import (
    Settings,
    emit_json,
    json_option,
)


@click.command()
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
    from faultflow.contract.compile import default_contract_path
    from faultflow.duty.people import seed_people_path
    from faultflow.engine import Engine
    from faultflow.reports.render import table

    from .simulation import simulate

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
        if not engine.entries("units"):  # the network it maintains: the example registry
            from faultflow.network.sheets import example

            engine.import_registry(example(), actor="demo", source="example registry")
            _stock(engine)
        if sys.stderr.isatty() and not as_json:
            with click.progressbar(
                length=days, label=f"simulating {days} days", file=sys.stderr
            ) as bar:
                outcome = simulate(engine, clock, days, seed, bar.update)
        else:
            outcome = simulate(engine, clock, days, seed)
        result = engine.report(outcome.start, outcome.end)
        paging = _paging(engine, outcome)
        down = engine.status()
        drafts = len(engine.kb_entries(["draft"], 100_000))
        registered = len(engine.entries("units"))
        monthly = _monthly(engine, outcome, Path(db).parent)
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
                "down": down.to_dict()["down"],
                "kb_drafts": drafts,
                "rounds": outcome.rounds,
                "spares_taken": outcome.spares,
                "outage": {"ticket": outcome.outage[0], "reports": outcome.outage[1]}
                if outcome.outage
                else None,
                "maintenance": outcome.window,
                "followups": {"ratings": outcome.ratings, "reviews": outcome.reviews},
                "findings": outcome.findings,
                "monthly_report": str(monthly) if monthly else None,
                "report": result.to_dict(),
            }
        )
        return
    click.echo(table(result))
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
    placed = sum(u.tickets for u in result.units)
    click.echo(
        f"Units: {placed} of the tickets were placed at {len(result.units)} of the "
        f"{registered} units of the example registry (by the caller's number or mail, the unit "
        f"named, the alerting device); {len(down.down)} unit(s) down at the end."
    )
    click.echo(
        f"Experience base: {drafts} draft entries, one from each reported ticket, wait for an "
        "engineer to edit and approve them."
    )
    if outcome.rounds:
        r = outcome.rounds
        said = ", ".join(f"{r[k]} {k}" for k in ("done", "late", "missed", "skipped") if r.get(k))
        click.echo(
            f"Inspection rounds: {sum(r.values())} kept ({said}); each not done by its due time "
            f"opened a ticket and paged; {len(outcome.findings)} finding(s) became fault tickets"
            + (f" ({', '.join(outcome.findings)})." if outcome.findings else ".")
        )
    if outcome.ratings:
        mean = sum(outcome.ratings) / len(outcome.ratings)
        click.echo(
            f"Follow-ups (回访): {len(outcome.ratings)} reporters called back, a mean rating of "
            f"{mean:.1f}/5; {len(outcome.reviews)} low rating(s) opened a review for the unit's "
            "manager"
            + (
                f" ({', '.join(outcome.reviews[:5])}"
                + (", …)." if len(outcome.reviews) > 5 else ").")
                if outcome.reviews
                else "."
            )
        )
    if outcome.window:
        nw = outcome.window
        click.echo(
            f"Planned work: maintenance window {nw['id']} at {nw['unit']} (a night's cut-over) "
            f"recorded {len(nw['planned'])} faults as planned and paged nobody; "
            f"{len(nw['cleared'])} cleared during it, {len(nw['opened'])} still stood and opened "
            "when it was over."
        )
    if outcome.outage and outcome.outage[1]:
        parent, merged = outcome.outage
        click.echo(
            f"One outage, {len(merged) + 1} reports: Alertmanager, then the hotline, the customer "
            f"manager and the portal reported one core switch; {', '.join(merged)} were merged "
            f"into {parent}, whose promises ran from the first report, and closed with it."
        )
    if outcome.spares:
        click.echo(
            f"Spares: {len(outcome.spares)} substitution(s) took a spare of the same model from "
            f"stock ({', '.join(outcome.spares)})."
        )
    if monthly is not None:
        click.echo(f"The monthly service report for the customer (月度运维服务报告): {monthly}")
    click.echo(f"The demo database is {db}. Look around, in this shell:")
    click.echo(f"  export FAULTFLOW_DB={shlex.quote(db)}")
    hints = []
    if outcome.sample_breached:
        hints.append((f"show {outcome.sample_breached}", "a ticket with a broken promise"))
    if outcome.sample_met:
        hints.append((f"show {outcome.sample_met}", "a ticket handled in time"))
    hints.append(("list", "what is still open, most urgent first"))
    hints.append(("status", "which units are down now"))
    hints.append(("kb list --state draft", "the experience entries drafted from the reports"))
    if outcome.rounds:
        hints.append(("inspect list --from -30d --to now", "the month's inspection rounds"))
    if outcome.outage and outcome.outage[1]:
        hints.append((f"show {outcome.outage[0]}", "one outage, its reports merged in"))
    if outcome.ratings:
        hints.append(("followups --state due", "whom to call back (回访)"))
    if outcome.window:
        hints.append((f"maintenance show {outcome.window['id']}", "a night of planned work"))
    if monthly is not None:
        month = monthly.stem.removeprefix("monthly-")
        hints.append((f"report --month {month}", "the month's summary, as the customer reads it"))
    if outcome.spares:
        hints.append(("spares status", "the spares by model, and what is out"))
    if result.units:
        busiest = result.units[0].unit
        hints.append((f"units show {busiest}", "a unit: its manager, sites, lines, tickets"))
        hints.append((f"report --unit {busiest}", "one unit's month"))
    if paging:
        roster_file = shlex.quote(str(seed_people_path()))
        roster = "" if settings.people_path() else f"--people {roster_file} "
        hints.append((f"{roster}oncall --week", "who is on duty, the coming week"))
    hints.append(("report --format html --out report.html", "the report, for a browser"))
    hints.append(("token create duty --scope operate", "a token to log in to the duty board"))
    hints.append(("serve", "the portal on http://127.0.0.1:8000/, the board on /board"))
    # aligned, but a long command (a roster's path) does not push every line past the screen
    width = max(len(command) for command, _ in hints if len(command) <= 40)
    for command, what in hints:
        click.echo(f"  faultflow {command:<{width}}   # {what}")


def _monthly(engine: Any, outcome: Any, folder: Path) -> Path | None:
    """The monthly service report of the month the simulation covered most, as the customer
    gets it: a PDF (HTML when this machine cannot draw one, said on stderr)."""
    from faultflow.errors import ConfigError

    month = (outcome.end - (outcome.end - outcome.start) / 2).strftime("%Y-%m")
    try:
        document = engine.monthly_report(month, fmt="pdf")
        path = folder / f"monthly-{month}.pdf"
        path.write_bytes(document)
    except ConfigError as err:
        click.echo(f"note: {err}; the monthly report is written as HTML", err=True)
        path = folder / f"monthly-{month}.html"
        path.write_text(str(engine.monthly_report(month, fmt="html")), encoding="utf-8")
    return path


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
        holders.append(f"{duty.person.id} from {show(at, 'day')}")
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


def _stock(engine: Any) -> None:
    """Two spares of each device model of the registry, on the contractor's shelf."""
    models = sorted({d["model"] for d in engine.entries("devices") if d.get("model")})
    for i, model in enumerate(models):
        for n in (1, 2):
            engine.spares_add(f"SP-{i + 1:02d}{n}", model, "备件库", actor="demo")
