"""Reports and the audit chain: ``report`` (SLA compliance) and ``verify``."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .base import (
    Settings,
    emit_json,
    json_option,
    write_out,
)


@click.command()
@click.option(
    "--from",
    "start",
    metavar="TIME",
    help="Start of the period (default: 30 days "
    "before --to). A clock belongs to the period in which it started.",
)
@click.option("--to", "end", metavar="TIME", help="End of the period (default: now).")
@click.option(
    "--month",
    metavar="YYYY-MM",
    help="Instead: the monthly service report (月度运维服务报告) of that month, as md (default), "
    "html, pdf (with --out) or json.",
)
@click.option(
    "--unit",
    metavar="CODE",
    help="Only the tickets of this unit of the registry (`faultflow units list`).",
)
@click.option(
    "--ticket",
    "ticket_id",
    metavar="ID",
    help="Instead: the customer's handling report of one ticket (P11).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "html", "md", "pdf"]),
    help="table (default), json, csv or html; for --ticket: md (default) or html; for --month: "
    "md (default), html, pdf or json.",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    help="The language of the html report and the handling report (default: the contract's "
    "`language`).",
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
    month: str | None,
    unit: str | None,
    ticket_id: str | None,
    fmt: str | None,
    lang: str | None,
    out: str | None,
) -> None:
    """SLA compliance per promise and tier: met, breached, median, p90, worst overrun; and per
    unit of the registry (or, with --unit, of one unit's tickets only).

    With --month, the monthly service report the customer files: the month's figures, tickets
    by tier, channel and unit, outages and downtime, inspections, planned maintenance,
    follow-ups, spares, and every promise kept or broken.

    With --ticket, the handling report to the customer instead: the fault, its owner, what was
    done, each promise met or missed, the spare used.
    """
    engine = settings.engine()
    if month is not None:
        if start or end or ticket_id:
            raise click.UsageError("--month is a month: leave out --from, --to and --ticket")
        if fmt not in (None, "md", "html", "pdf", "json"):
            raise click.UsageError("--month takes --format md, html, pdf or json")
        if fmt == "pdf" and out is None:
            raise click.UsageError("a PDF goes to a file: give --out FILE")
        made = engine.monthly_report(month, unit, fmt or "md", lang)
        if isinstance(made, bytes):
            _write_bytes(made, str(out))
        else:
            write_out(made, out)
        return
    if fmt == "pdf":
        raise click.UsageError("--format pdf is for --month")
    if ticket_id is not None:
        if start or end or unit:
            raise click.UsageError("--ticket reports one ticket; leave out --from, --to and --unit")
        if fmt not in (None, "md", "html"):
            raise click.UsageError("--ticket takes --format md or html")
        write_out(engine.handling_report(ticket_id, fmt or "md", lang), out)
        return
    if fmt == "md":
        raise click.UsageError("--format md is for --ticket; use table, json, csv or html")
    if lang is not None and fmt != "html":
        raise click.UsageError("--lang is for --format html and for --ticket")
    result = engine.report(start, end, unit)
    from faultflow.reports import render as report_render

    if fmt == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    elif fmt == "csv":
        text = report_render.to_csv(result)
    elif fmt == "html":
        from faultflow.contract.graph import lifecycle_html
        from faultflow.reports import html as report_html
        from faultflow.words import Words

        w = Words(lang or engine.contract.language)
        drawing = lifecycle_html(engine.contract, w)
        text = report_html.render(result, lifecycle=drawing, contract=engine.contract, words=w)
    else:
        text = report_render.table(result)
    write_out(text, out)


def _write_bytes(data: bytes, out: str) -> None:
    """A binary report to ``out``, whole or not at all."""
    from pathlib import Path

    from faultflow.errors import InvalidInput

    path = Path(out)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {path}: there is no folder {path.parent}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {path}: {err.strerror or err}") from None
    click.echo(f"wrote {path}", err=True)


@click.command()
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
    "--jobs",
    "workers",
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
        logs = [
            f"{n} {what}{'' if n == 1 else 's'}"
            for n, what in (
                (result.registry, "registry change"),
                (result.kb, "experience base change"),
                (result.rounds, "inspection round change"),
                (result.spares, "spare movement"),
                (result.maintenance, "maintenance window change"),
            )
            if n
        ]  # each log beside the tickets that has entries: its own chain holds
        chained = f"; {', '.join(logs)}" if logs else ""
        click.echo(
            f"ok: {result.events} events of {result.tickets} tickets verified{sealed}{extra}"
            f"{chained}"
        )
    for broken_at, log, unit in (
        (result.registry_broken, "the registry's log", "change"),
        (result.kb_broken, "the experience base's log", "change"),
        (result.rounds_broken, "the inspection rounds' log", "change"),
        (result.spares_broken, "the spares' log", "movement"),
        (result.maintenance_broken, "the maintenance windows' log", "change"),
    ):
        if broken_at is None:
            continue
        click.echo(
            f"error: {log} is broken at {unit} {broken_at}: it was changed after it was "
            f"written (or a {unit} before it was taken out)",
            err=True,
        )
        if not result.broken:  # else the tickets' broken chains are told too, below
            raise SystemExit(1)
    if result.registry_differs:
        named = ", ".join(result.registry_differs[:5])
        more = len(result.registry_differs) - 5
        click.echo(
            f"error: the registry's rows of {named}{f' and {more} more' if more > 0 else ''} "
            "are not what its log wrote: changed behind faultflow's back",
            err=True,
        )
        if not result.broken:
            raise SystemExit(1)
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
