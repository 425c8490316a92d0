"""Inspection rounds (巡检) on the command line: ``faultflow inspect plan`` (when the
contract's rounds fall), ``list`` and ``show`` (the rounds made), ``start``, ``record``,
``finish`` and ``skip`` (doing one), ``keep`` (one pass of the scheduler's planner and sweep)."""

from __future__ import annotations

from typing import Any

import click
from faultflow.timekeeping.times import show

from .base import Settings, actor_option, emit_json, json_option

STATUSES = ("planned", "due", "running", "done", "late", "missed", "skipped")


@click.group()
def inspect() -> None:
    """Inspection rounds (巡检): the contract's plans, the rounds made from them (a day ahead,
    by the scheduler), and doing one item by item. A finding ("not ok", a number out of
    bounds) opens a fault ticket; a round not done by its due time opens one and pages."""


@inspect.command("plan")
@click.option("--from", "start", metavar="TIME", help="Start of the window (default: now).")
@click.option("--to", "end", metavar="TIME", help="End of the window (default: 7 days later).")
@click.option("--plan", metavar="NAME", help="Only this plan's rounds.")
@json_option
@click.pass_obj
def plan(settings: Settings, start: str | None, end: str | None, plan: str | None,
         as_json: bool) -> None:  # fmt: skip
    """The rounds the contract's [inspections.NAME] plans place in a window, in time order:
    when each starts, by when it must be done, who does it, what it covers."""
    engine = settings.engine()
    found = engine.planned(start, end, plan)
    if as_json:
        emit_json({"rounds": [r.to_dict() for r in found]})
        return
    if not engine.contract.inspections:
        click.echo("the contract has no [inspections.NAME] plans (docs/inspections.md)")
        return
    if not found:
        click.echo("no round falls in this window")
    now = engine.now()
    for r in found:
        when, due = show(r.scheduled_at, "near", now), show(r.due_at, "near", now)
        click.echo(f"{when:>16}  {r.plan:<18} due {due}  {r.role}  {', '.join(r.targets)}")


def _line(r: Any, now: Any) -> str:
    when, due = show(r.scheduled_at, "near", now), show(r.due_at, "near", now)
    extra = []
    if r.caught_up:
        extra.append("caught up")
    if r.findings:
        extra.append(f"{len(r.findings)} finding(s): " + ", ".join(f["ticket"] for f in r.findings))
    if r.ticket:
        extra.append(f"breach ticket {r.ticket}")
    tail = f"  ({'; '.join(extra)})" if extra else ""
    return f"{r.id:<32} {r.status:<8} {when:>11}  due {due:>11}  {r.role}{tail}"


@inspect.command("list")
@click.option("--from", "start", metavar="TIME", help="Start of the window (default: today 00:00).")
@click.option("--to", "end", metavar="TIME", help="End of the window (default: a day later).")
@click.option("--plan", metavar="NAME", help="Only this plan's rounds.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only rounds in this status (repeatable).")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rounds.")
@json_option
@click.pass_obj
def list_(settings: Settings, start: str | None, end: str | None, plan: str | None,
          statuses: tuple[str, ...], limit: int | None, as_json: bool) -> None:  # fmt: skip
    """The rounds made for a window (default: today), in time order, with where each stands:
    planned, due, running, done, late (done after its due time), missed, skipped."""
    engine = settings.engine()
    found = engine.rounds(start, end, plan, statuses or None, limit)
    if as_json:
        emit_json({"rounds": [r.to_dict() for r in found]})
        return
    if not found:
        click.echo("no round in this window (`faultflow inspect plan` shows when rounds fall; "
                   "the scheduler makes them a day ahead)")  # fmt: skip
    now = engine.now()
    for r in found:
        click.echo(_line(r, now))


def _show(engine: Any, r: Any, as_json: bool, history: bool = False) -> None:
    if as_json:
        out = r.to_dict()
        if history:
            out["history"] = engine.round_history(r.id)
        emit_json(out)
        return
    now = engine.now()
    click.echo(f"round {r.id}: {r.status}" + (" (caught up: made after its time)"
                                                if r.caught_up else ""))  # fmt: skip
    click.echo(f"  scheduled {show(r.scheduled_at, 'minute')}, due by {show(r.due_at, 'minute')}"
               f", by {r.role}; covers {', '.join(r.targets)}")  # fmt: skip
    if r.started_at:
        click.echo(f"  started {show(r.started_at, 'near', now)} by {r.started_by}")
    if r.finished_at:
        verb = "skipped" if r.status == "skipped" else "finished"
        why = f": {r.reason}" if r.reason else ""
        click.echo(f"  {verb} {show(r.finished_at, 'near', now)} by {r.finished_by}{why}")
    if r.breached_at:
        click.echo(f"  not done by its due time: ticket {r.ticket} opened "
                   f"{show(r.breached_at, 'near', now)}")  # fmt: skip
    for a in r.checklist:
        if a.value is None:
            answer = "-"
        else:
            value = ("ok" if a.value else "not ok") if isinstance(a.value, bool) else a.value
            answer = f"{value}  ({a.by}, {show(a.at, 'near', now)})"
        mark = f"  FINDING → {a.ticket}" if a.finding else ""
        click.echo(f"  [{a.expected:>7}] {a.item}: {answer}{mark}")
    if history:
        for e in engine.round_history(r.id):
            rest = {k: v for k, v in e.items() if k not in ("action", "actor", "at")}
            click.echo(f"  {e['at']}  {e['action']:<9} {e['actor']}  "
                       f"{rest if rest else ''}")  # fmt: skip


@inspect.command("show")
@click.argument("round_id", metavar="ROUND")
@click.option("--history", is_flag=True, help="With every change of the round: who, what, when.")
@json_option
@click.pass_obj
def show_(settings: Settings, round_id: str, history: bool, as_json: bool) -> None:
    """One round: its checklist with each answer (who, when), findings and their tickets."""
    engine = settings.engine()
    _show(engine, engine.round(round_id), as_json, history)


@inspect.command("start")
@click.argument("round_id", metavar="ROUND")
@actor_option
@json_option
@click.pass_obj
def start(settings: Settings, round_id: str, actor: str, as_json: bool) -> None:
    """Start a round (who and when go into its log)."""
    engine = settings.engine()
    _show(engine, engine.inspect_start(round_id, actor), as_json)


@inspect.command("record")
@click.argument("round_id", metavar="ROUND")
@click.argument("item")
@click.argument("value")
@click.option("--note", help="A remark kept with the answer (and in a finding's ticket).")
@click.option("--target", metavar="KIND:CODE",
              help="The registry entry a finding concerns (device:SERIAL, line:CODE...); "
                   "default: the round's one target.")  # fmt: skip
@actor_option
@json_option
@click.pass_obj
def record(settings: Settings, round_id: str, item: str, value: str, note: str | None,
           target: str | None, actor: str, as_json: bool) -> None:  # fmt: skip
    """Record the answer to one checklist item: ok / "not ok" (正常 / 异常), a number, or a
    text. "not ok" or a number out of bounds is a finding: it opens a fault ticket of the
    plan's tier, linked to the round."""
    engine = settings.engine()
    r = engine.inspect_record(round_id, item, value, actor, note, target)
    if as_json:
        _show(engine, r, True)
        return
    answered = next(a for a in r.checklist if a.item == item)
    if answered.finding:
        click.echo(f"{r.id}: {item} = {value}: a finding (expected {answered.expected}) — "
                   f"ticket {answered.ticket} opened")  # fmt: skip
    else:
        click.echo(f"{r.id}: {item} = {value} recorded")


@inspect.command("finish")
@click.argument("round_id", metavar="ROUND")
@click.option("--note", help="A remark kept in the round's log.")
@actor_option
@json_option
@click.pass_obj
def finish(settings: Settings, round_id: str, note: str | None, actor: str,
           as_json: bool) -> None:  # fmt: skip
    """Finish a round: every ok and number item must be answered. After its due time, it
    counts as done late."""
    engine = settings.engine()
    r = engine.inspect_finish(round_id, actor, note)
    if as_json:
        _show(engine, r, True)
        return
    click.echo(f"{r.id}: {'done' if r.status == 'done' else 'done late'}"
               + (f", {len(r.findings)} finding(s)" if r.findings else ""))  # fmt: skip


@inspect.command("skip")
@click.argument("round_id", metavar="ROUND")
@click.option("--reason", required=True, help="Why the round is not done (kept in its log).")
@actor_option
@json_option
@click.pass_obj
def skip(settings: Settings, round_id: str, reason: str, actor: str, as_json: bool) -> None:
    """Skip a round, with the reason: it counts as skipped, not missed."""
    engine = settings.engine()
    r = engine.inspect_skip(round_id, reason, actor)
    if as_json:
        _show(engine, r, True)
        return
    click.echo(f"{r.id}: skipped ({reason})")


@inspect.command("keep")
@click.option("--ahead", metavar="DURATION", help="Make the rounds this far ahead (e.g. 30d, "
              "at most 366d; default: a day, as the scheduler does).")  # fmt: skip
@json_option
@click.pass_obj
def keep(settings: Settings, ahead: str | None, as_json: bool) -> None:
    """One pass of what the scheduler does for rounds (`run` and `serve` do it every minute):
    make the rounds of the next day not made yet, and open a ticket, and page, for each
    round not done by its due time."""
    span = None
    if ahead is not None:
        from faultflow.errors import InvalidInput
        from faultflow.timekeeping.durations import parse_duration

        try:
            span = parse_duration(ahead)
        except ValueError as err:
            raise InvalidInput(f"--ahead: {err}") from None
    kept = settings.engine().keep_rounds(ahead=span)
    if as_json:
        emit_json(kept.to_dict())
        return
    late = f" ({kept.late} after their time: marked late)" if kept.late else ""
    click.echo(f"{kept.made} round(s) made{late}")
    for rid, tid in kept.missed:
        click.echo(f"missed: {rid} → ticket {tid}")


@inspect.command("feed")
@click.option("--person", metavar="ID", help="Their shifts, and the rounds of the roles they hold "
              "then (default: every round and shift).")  # fmt: skip
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How far ahead.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write the .ics file here (default: standard output).")  # fmt: skip
@click.option("--link", is_flag=True, help="Print the feed's path under `faultflow serve` "
              "instead (/calendar/CODE.ics), for a phone's calendar to subscribe to.")  # fmt: skip
@click.option("--lang", type=click.Choice(["zh", "en"]), help="Words of the events "
              "(default: the contract's language).")  # fmt: skip
@click.pass_obj
def feed(settings: Settings, person: str | None, days: int, out: str | None, link: bool,
         lang: str | None) -> None:  # fmt: skip
    """The calendar feed (iCalendar) of the coming rounds and the duty shifts: import the file,
    or subscribe to its link from a phone's calendar (`faultflow serve` answers it)."""
    engine = settings.engine()
    if link:
        click.echo(engine.feed_link(person))
        return
    data = engine.calendar_feed(person, days, lang)
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    from pathlib import Path

    Path(out).write_bytes(data)
    click.echo(f"wrote {out}", err=True)
