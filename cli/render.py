"""What a person at a terminal reads: tickets, clocks and lists in words, most urgent first.

Everything here takes views and returns text; colours are added with ``click.style`` and
dropped by ``click.echo`` when the output is not a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from faultflow.timekeeping import durations
from faultflow.timekeeping.durations import span
from faultflow.timekeeping.times import show

if TYPE_CHECKING:
    from faultflow.tickets.views import Clock, Fired, Intake, Ticket

COLOURS = {"breach": "red", "warn": "yellow", "ok": "green", "paused": "cyan", "done": None}


def moment(value: datetime | None, now: datetime) -> str:
    """``10:15`` today, ``03-02 10:15`` another day, ``2025-12-31 10:15`` another year."""
    return show(value, "near", now)


def clock_state(clock: Clock) -> str:
    """One of breach, warn, ok, paused, done: how much this clock needs attention."""
    if clock.status == "stopped":
        return "breach" if clock.breached else "done"
    if clock.breached:
        return "breach"
    if clock.status == "paused":
        return "paused"
    if clock.warned or clock.remaining <= clock.limit * 0.2:
        return "warn"
    return "ok"


def clock_phrase(clock: Clock, now: datetime) -> str:
    """What matters about a clock, in a few words."""
    if clock.status == "stopped":
        if clock.breached:
            return (
                f"BROKEN by {span(-clock.remaining)} (stopped {moment(clock.stopped_at, now)},"
                f" due {moment(clock.due_at, now)})"
            )
        return f"met, {span(clock.remaining)} to spare (stopped {moment(clock.stopped_at, now)})"
    if clock.status == "paused":
        left = (
            f"{span(clock.remaining)} left"
            if clock.remaining > timedelta(0)
            else f"BREACHED {span(-clock.remaining)} over"
        )
        return f"paused since {moment(clock.paused_since, now)}, {left}"
    if clock.breached:
        return f"BREACHED {span(-clock.remaining)} ago (due {moment(clock.due_at, now)})"
    waiting = (
        f"paused until {day_and_time(clock.opens_at, now)} (outside working hours), "
        if clock.opens_at is not None
        else ""
    )
    return f"{waiting}{span(clock.remaining)} left (due {moment(clock.due_at, now)})"


def day_and_time(value: datetime, now: datetime) -> str:
    """``Mon 02-23 08:30`` (``Mon 08:30`` today): when a wait ends, with its weekday."""
    return f"{value.astimezone(now.tzinfo):%a} {moment(value, now)}"


def limit_text(clock: Clock) -> str:
    """The promise's limit: wall time (24x7), or working time over its calendar."""
    return durations.working(clock.limit, clock.calendar)


def styled(text: str, state: str, bold: bool = False) -> str:
    colour = COLOURS.get(state)
    return click.style(text, fg=colour, bold=bold or state == "breach") if colour else text


def most_urgent(ticket: Ticket) -> Clock | None:
    """The clock that most needs attention: breached first, then the one due soonest."""
    running = [c for c in ticket.clocks.values() if c.status != "stopped"]
    if not running:
        return None
    return min(running, key=lambda c: (not c.breached, c.remaining))


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def safe(text: str | None) -> str:
    """Text from the database as the terminal should show it: a control character (ESC, BEL,
    CR, LF, ... — from a ticket taken in before intake stripped them) is written as its escape
    (``\\x1b``), never sent to the terminal raw."""
    if not text:
        return ""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def place_lines(where: dict[str, Any]) -> list[str]:
    """Where the ticket is, as the registry knows it (``Engine.whereabouts``): the unit and its
    manager, site, line, and the device with its vendor and warranty."""
    parts = []
    unit = where.get("unit")
    if unit:
        manager = unit.get("manager") or {}
        reach = " ".join(manager.get(k, "") for k in ("name", "mobile") if manager.get(k))
        parts.append(f"unit {unit['code']} {unit.get('name', '')}".rstrip()
                     + (f" (manager {reach})" if reach else ""))  # fmt: skip
    site, line = where.get("site"), where.get("line")
    if site:
        parts.append(f"site {site['code']} {site.get('name', '')}".rstrip())
    if line:
        parts.append(
            f"line {line['code']} {line.get('carrier') or ''} {line.get('kind') or ''}".rstrip()
        )
    lines = ["  at " + " · ".join(safe(p) for p in parts)] if parts else []
    device = where.get("device")
    if device:
        said = [f"device {device['code']} {device.get('name') or ''} {device.get('model') or ''}"]
        vendor = device.get("vendor")
        if isinstance(vendor, dict):
            said.append(f"vendor {vendor.get('name') or vendor['code']} "
                        f"{vendor.get('hotline') or ''}".rstrip())  # fmt: skip
        if device.get("warranty_end"):
            state = "in force" if device.get("under_warranty") else "RUN OUT"
            said.append(f"warranty to {device['warranty_end']} ({state})")
        lines.append("  " + " · ".join(safe(" ".join(p.split())) for p in said))
    return lines


def ticket_text(ticket: Ticket, now: datetime, where: dict[str, Any] | None = None) -> str:
    """``faultflow show``: header, owner, where it is, clocks, then the timeline."""
    lines = []
    hold = f"  ON HOLD ({safe(ticket.hold_reason)})" if ticket.on_hold else ""
    cause = f" ({ticket.cause})" if ticket.cause else ""
    lines.append(
        click.style(f"{ticket.id}  {ticket.state}", bold=True)
        + f"  tier {ticket.tier}  {ticket.kind}{cause}  via {ticket.channel}"
        + f"  owner {safe(ticket.owner)}  v{ticket.version}"
        + (styled(hold, "paused") if hold else "")
    )
    lines.append(f"  {safe(ticket.title)}")
    if ticket.recurs:
        lines.append(f"  recurs {ticket.recurs} (the same alert or id, an earlier incident)")
    carried = ticket.occurrences
    if carried is not None:
        lines.append(
            f"  carries {carried.faults} fault(s) of a group or storm: {carried.firing} firing "
            f"now; fired {carried.fired} time(s), resolved {carried.resolved}"
        )
    who = [
        f"reporter {safe(ticket.reporter)}" if ticket.reporter else "",
        f"contact {safe(ticket.contact)}" if ticket.contact else "",
    ]
    if any(who):
        lines.append("  " + "  ".join(w for w in who if w))
    lines += place_lines(where or {})
    if ticket.description and ticket.description != ticket.title:
        for text in ticket.description.splitlines()[:6]:
            lines.append(f"  | {safe(text)}")
    lines.append("")
    lines.append(click.style("promises", bold=True))
    if ticket.merged_into is not None:
        lines.append(f"  (stopped when merged into {ticket.merged_into}: the outage's promises "
                     "are kept there)")  # fmt: skip
    if not ticket.clocks:
        lines.append("  (no clock has started)")
    width = max((len(n) for n in ticket.clocks), default=0)
    for name, clock in ticket.clocks.items():
        state = clock_state(clock)
        lines.append(
            f"  {name:<{width}}  {styled(clock_phrase(clock, now), state)}"
            f"  [limit {limit_text(clock)}]"
        )
    lines.append("")
    lines.append(click.style("timeline", bold=True))
    shown_occurrences = 0
    for e in ticket.history:
        if e.trigger == "occurrence":
            shown_occurrences += 1
            if shown_occurrences > OCCURRENCES_SHOWN:
                continue  # said once, below
        move = (
            e.to_state if e.from_state in (None, e.to_state) else f"{e.from_state} → {e.to_state}"
        )
        state = {"breach": "breach", "warning": "warn"}.get(e.trigger, "done")
        head = styled(f"{e.trigger:<11}", state)
        extra = f"  {safe(e.note)}" if e.note else ""
        reason = f"  (reason: {safe(e.reason)})" if e.reason else ""
        actor = safe(e.actor)
        lines.append(f"  {moment(e.at, now):>11}  {head} {move:<26} {actor}{extra}{reason}")
    if shown_occurrences > OCCURRENCES_SHOWN:
        lines.append(
            f"  … and {shown_occurrences - OCCURRENCES_SHOWN} more occurrence(s): "
            f"faultflow show {ticket.id} --json has them all"
        )
    return "\n".join(lines)


OCCURRENCES_SHOWN = 10
"""Occurrences a storm's timeline lists before it says how many more there are."""


def outcome_line(result: Intake) -> str:
    """What an intake did with one fault, and the ticket, on one line."""
    t = result.ticket
    said = {
        "opened": "opened",
        "duplicate": f"already open as {t.id}",
        "note": f"note added to {t.id}",
        "recurrence": f"recurrence of {t.recurs}",
        "occurrence": f"an occurrence on {t.id}",
    }[result.outcome]
    return f"{said}: {t.id}  {t.state}  tier {t.tier}  owner {safe(t.owner)}  {safe(t.title)}"


def list_text(tickets: Sequence[Ticket], now: datetime) -> str:
    """``faultflow list``: one line a ticket, the most urgent promise in words."""
    if not tickets:
        return "no tickets match"
    rows = []
    for t in tickets:
        clock = most_urgent(t)
        if clock is None:
            risk, state = "-", "done"
        else:
            risk, state = f"{clock.name}: {clock_phrase(clock, now)}", clock_state(clock)
        rows.append((t.id, t.state, t.tier, safe(t.owner), risk, state, safe(t.title)))
    w_state = max(5, *(len(r[1]) for r in rows))
    w_owner = max(5, *(len(r[3]) for r in rows))
    w_risk = max(len("next promise"), *(len(r[4]) for r in rows))
    out = [
        click.style(
            f"{'ID':<7}  {'STATE':<{w_state}}  T  {'OWNER':<{w_owner}}  "
            f"{'NEXT PROMISE':<{w_risk}}  TITLE",
            bold=True,
        )
    ]
    for tid, st, tier, owner, risk, state, title in rows:
        out.append(
            f"{tid:<7}  {st:<{w_state}}  {tier}  {owner:<{w_owner}}  "
            f"{styled(f'{risk:<{w_risk}}', state)}  {title[:60]}"
        )
    return "\n".join(out)


def fired_text(fired: Iterable[Fired], now: datetime) -> str:
    lines = []
    for f in fired:
        state = "breach" if f.event == "breach" else "warn"
        lines.append(
            styled(f"{f.event:<7}", state) + f"  {f.ticket}  {f.clock}  due {moment(f.due_at, now)}"
        )
    return "\n".join(lines) if lines else "nothing due"


def tick_summary(counts: dict[str, int]) -> str:
    """``tick: 2 breaches, 1 warning; 3 notifications delivered, 1 failed (retried later)``."""

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    fired = f"{n(counts['breaches'], 'breach')}, {n(counts['warnings'], 'warning')}"
    fired = fired.replace("breachs", "breaches")
    sent = f"{n(counts['delivered'], 'notification')} delivered"
    if counts["failed"]:
        sent += f", {counts['failed']} failed (retried later)"
    return f"tick: {fired}; {sent}"


def status_text(status: Any) -> str:
    """``faultflow status``: the units down now, longest first, each with since when."""
    now = status.at
    if not status.down:
        return f"{moment(now, now)}  no unit is down"
    lines = [click.style(f"{moment(now, now)}  {len(status.down)} unit(s) down", bold=True)]
    width = max(len(d.unit) for d in status.down)
    for d in status.down:
        since = f"down since {moment(d.since, now)} ({span(now - d.since)})"
        lines.append(
            f"  {d.unit:<{width}}  {safe(d.name)}  {styled(since, 'breach')}  "
            f"tickets {', '.join(d.tickets)}"
        )
    return "\n".join(lines)


def served_lines(served: Sequence[Any], now: datetime) -> list[str]:
    """A place's tickets (``Engine.served``), newest first: opened, and how long the fault
    lasted (or has lasted, while open)."""
    lines = []
    for t in served:
        if t.restored is not None:
            lasted = f"restored after {span(t.duration)}"
        elif t.open:
            lasted = styled(f"open for {span(now - t.opened)}", "breach" if t.outage else "warn")
        else:
            lasted = "closed"
        mark = " outage" if t.outage else ""
        lines.append(
            f"  {t.id}  {moment(t.opened, now)}  tier {t.tier}{mark}  {t.state:<17} {lasted}  "
            f"{safe(t.title)}"
        )
    return lines
