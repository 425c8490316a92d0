"""Clock arithmetic: pure functions from a clock's facts to its reading and its next alarm.

A clock is described by its *facts*: when it started, its limit, how long it has been paused in
total, since when it is paused (if it is), and when it stopped (if it did). Everything else is
derived from the facts and a moment ``now``:

- due time = start + limit + time spent paused (no due time while paused);
- over a business calendar (calendars.py) "+" is "add working time" and "-" is "working time
  between": the same formulas with the clock's
  :class:`~faultflow.timekeeping.calendars.Timeline` (the paused time is then working time too);
  24x7 is plain arithmetic;
- *met* when it stops at or before due; *breached* when it stops after due or is still running
  after due (equivalently: the active time — wall time less paused time — exceeds the limit);
- the warning falls at ``warning_share`` of the limit, shifted by the pauses likewise.

Moments and durations are integer microseconds (moments since the Unix epoch): exact, and the
same numbers the store keeps. Nothing here reads a database or a wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from .calendars import ALWAYS, Timeline

Status = Literal["running", "paused", "stopped"]
Alarm = Literal["warning", "breach"]


class StoredClock(Protocol):
    """What :func:`facts_of` reads of a stored clock (a ``records.ClockRecord``)."""

    @property
    def started_us(self) -> int: ...
    @property
    def limit_us(self) -> int: ...
    @property
    def paused_us(self) -> int: ...
    @property
    def paused_since_us(self) -> int | None: ...
    @property
    def stopped_us(self) -> int | None: ...


def facts_of(row: StoredClock, cal: Timeline = ALWAYS) -> ClockFacts:
    """The facts a stored clock row holds, counted over ``cal`` (its spec's calendar)."""
    return ClockFacts(
        row.started_us, row.limit_us, row.paused_us, row.paused_since_us, row.stopped_us, cal
    )


@dataclass(frozen=True, slots=True)
class ClockFacts:
    """What is known of one clock of one ticket (µs); every other figure derives from these."""

    started: int
    limit: int
    paused: int = 0  # over a calendar: working time spent paused
    paused_since: int | None = None
    stopped: int | None = None
    cal: Timeline = field(default=ALWAYS, compare=False)  # how it counts: not a stored fact

    @property
    def status(self) -> Status:
        if self.stopped is not None:
            return "stopped"
        return "paused" if self.paused_since is not None else "running"


@dataclass(frozen=True, slots=True)
class Reading:
    """A clock as it reads at one moment (µs)."""

    status: Status
    started_at: int
    due_at: int | None
    stopped_at: int | None
    limit: int
    elapsed: int
    remaining: int
    breached: bool


def pause(facts: ClockFacts, at: int) -> ClockFacts:
    """Pause a running clock at ``at``; a paused or stopped clock is returned unchanged."""
    if facts.status != "running":
        return facts
    return ClockFacts(
        facts.started, facts.limit, facts.paused, max(at, facts.started), None, facts.cal
    )


def resume(facts: ClockFacts, at: int) -> ClockFacts:
    """Restart a paused clock at ``at``; its due time moves by the length of the pause."""
    if facts.paused_since is None or facts.stopped is not None:
        return facts
    paused = facts.paused + facts.cal.span(facts.paused_since, at)
    return ClockFacts(facts.started, facts.limit, paused, None, None, facts.cal)


def stop(facts: ClockFacts, at: int) -> ClockFacts:
    """Stop the clock at ``at``; an open pause ends there. A stopped clock stays as it was."""
    if facts.stopped is not None:
        return facts
    facts = resume(facts, at)
    stopped = max(at, facts.started)
    return ClockFacts(facts.started, facts.limit, facts.paused, None, stopped, facts.cal)


def due_at(facts: ClockFacts) -> int | None:
    """start + limit + paused time; ``None`` while paused (the due time is not yet known)."""
    if facts.paused_since is not None and facts.stopped is None:
        return None
    return facts.cal.add(facts.started, facts.limit + facts.paused)


def active(facts: ClockFacts, now: int) -> int:
    """Time the clock has run: from start to stop (or pause, or now), less the time paused."""
    end = (
        facts.stopped
        if facts.stopped is not None
        else (facts.paused_since if facts.paused_since is not None else now)
    )
    return max(facts.cal.span(facts.started, end) - facts.paused, 0)


def is_breached(facts: ClockFacts, now: int) -> bool:
    """Stopped after due, or still running (or paused) with more active time than the limit."""
    return active(facts, now) > facts.limit


def read(facts: ClockFacts, now: int) -> Reading:
    """The clock's reading at ``now``; for a stopped clock ``now`` does not matter."""
    elapsed = active(facts, now)
    return Reading(
        status=facts.status,
        started_at=facts.started,
        due_at=due_at(facts),
        stopped_at=facts.stopped,
        limit=facts.limit,
        elapsed=elapsed,
        remaining=facts.limit - elapsed,
        breached=elapsed > facts.limit,
    )


def alarm_times(facts: ClockFacts, share: float) -> tuple[int, int] | None:
    """When the warning and the breach fall for a running clock; ``None`` if paused or stopped.

    The breach falls one microsecond after due: a clock that stops exactly at due has met it.
    """
    if facts.status != "running":
        return None
    add, base = facts.cal.add, facts.paused
    return (
        add(facts.started, base + round(facts.limit * share)),
        add(facts.started, base + facts.limit + 1),
    )


def next_alarm(
    facts: ClockFacts, share: float, warned: bool, breach_fired: bool
) -> tuple[int, Alarm] | None:
    """The next alarm still to fire for this clock, or ``None``.

    A clock that is paused or stopped has none; a breach that has fired ends its alarms.
    """
    times = alarm_times(facts, share)
    if times is None or breach_fired:
        return None
    warn, breach = times
    return (breach, "breach") if warned else (warn, "warning")


def due_alarm(
    facts: ClockFacts, share: float, warned: bool, breach_fired: bool, now: int
) -> Alarm | None:
    """The alarm to fire at ``now``, if any.

    When the breach is already due, it fires and a warning not yet fired is dropped: a warning
    after the breach would tell nobody anything.
    """
    times = alarm_times(facts, share)
    if times is None or breach_fired:
        return None
    warn, breach = times
    if breach <= now:
        return "breach"
    if not warned and warn <= now:
        return "warning"
    return None
