"""Clock arithmetic, as properties (hypothesis). Pure values: no database, no wall clock."""

from __future__ import annotations

import dataclasses
from functools import cache
from zoneinfo import ZoneInfo

from faultflow.contract.model import ClockSpec
from faultflow.tickets.draft import replay
from faultflow.timekeeping import clocks as clk
from faultflow.timekeeping.calendars import Calendar, official, parse_hours
from faultflow.timekeeping.clocks import ClockFacts
from faultflow.timekeeping.replay import Moment
from hypothesis import given, settings
from hypothesis import strategies as st

MIN = 60_000_000  # µs
START = 1_780_000_000_000_000
limits = st.integers(1, 48 * 60).map(lambda m: m * MIN)
gaps = st.integers(0, 10 * 60 * MIN)


@st.composite
def histories(draw: st.DrawFn) -> tuple[ClockFacts, int, list[tuple[int, int]], int | None]:
    """A clock with random pauses (each a start and a length) and maybe a stop."""
    limit = draw(limits)
    facts = ClockFacts(START, limit)
    t = START
    pauses = []
    for _ in range(draw(st.integers(0, 4))):
        t += draw(gaps)
        length = draw(gaps)
        facts = clk.resume(clk.pause(facts, t), t + length)
        pauses.append((t, length))
        t += length
    stop_at = None
    if draw(st.booleans()):
        stop_at = t + draw(gaps)
        facts = clk.stop(facts, stop_at)
    return facts, limit, pauses, stop_at


@given(histories())
def test_due_is_start_plus_limit_plus_paused_time(h: tuple) -> None:
    facts, limit, pauses, _ = h
    assert clk.due_at(facts) == START + limit + sum(length for _, length in pauses)


@given(histories(), gaps)
def test_met_iff_stopped_at_or_before_due(h: tuple, later: int) -> None:
    facts, _, _, stop_at = h
    due = clk.due_at(facts)
    assert due is not None
    now = (stop_at or START) + later
    reading = clk.read(facts, now)
    if stop_at is not None:
        assert reading.breached == (stop_at > due)
        assert reading.status == "stopped"
    else:
        assert reading.breached == (now > due)
        assert reading.status == "running"
    assert reading.remaining == reading.limit - reading.elapsed


@given(histories(), gaps, gaps)
def test_reading_a_stopped_clock_does_not_depend_on_when(h: tuple, a: int, b: int) -> None:
    facts, _, _, stop_at = h
    if stop_at is None:
        facts = clk.stop(facts, START + 10 * MIN)
        stop_at = START + 10 * MIN
    assert clk.read(facts, stop_at + a) == clk.read(facts, stop_at + b)


@given(histories(), limits)
def test_reclassification_recomputes_from_the_original_start(h: tuple, new_limit: int) -> None:
    """Reclassifying replays the history under the new limit (draft.replay)."""
    _, _, pauses, stop_at = h
    timeline: list[Moment] = [("go", "open", START, None)]
    for at, length in pauses:
        timeline += [("hold", "open", at, None), ("resume", "open", at + length, None)]
    if stop_at is not None:
        timeline.append(("done", "open", stop_at, None))
    moved = replay(SPEC, new_limit, frozenset({"closed"}), timeline)
    assert moved is not None and moved.started == START
    assert clk.due_at(moved) == START + new_limit + sum(length for _, length in pauses)


@given(limits, gaps, gaps)
def test_a_paused_clock_has_no_due_time_and_does_not_advance(limit: int, a: int, b: int) -> None:
    paused = clk.pause(ClockFacts(START, limit), START + a)
    assert clk.due_at(paused) is None
    assert clk.active(paused, START + a + b) == clk.active(paused, START + a)
    assert clk.next_alarm(paused, 0.8, False, False) is None


@given(limits, st.floats(0.05, 0.95))
def test_alarms_fall_at_the_share_and_just_after_due(limit: int, share: float) -> None:
    facts = ClockFacts(START, limit)
    warn, breach = clk.alarm_times(facts, share)  # type: ignore[misc]
    assert START <= warn < breach
    assert breach == START + limit + 1
    assert clk.due_alarm(facts, share, False, False, warn - 1) is None
    assert clk.due_alarm(facts, share, False, False, warn) == "warning"
    assert clk.due_alarm(facts, share, True, False, START + limit) is None  # exactly due: met
    # a breach that is due supersedes a warning that was never fired
    assert clk.due_alarm(facts, share, False, False, breach) == "breach"
    assert clk.due_alarm(facts, share, True, True, breach + MIN) is None


SPEC = ClockSpec(
    name="c",
    description="",
    start=frozenset({"go"}),
    stop=frozenset({"done"}),
    limits={},
    overrides=(),
    pausable=True,
    warning_share=0.8,
    applies=None,
    escalate=True,
)
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(
            ["go", "done", "hold", "resume", "other", "end", "merge", "unmerge", "group"]
        ),
        gaps,
    ),
    max_size=8,
)


@given(EVENTS, limits, gaps)
def test_replay_agrees_with_the_step_by_step_path(
    steps: list[tuple[str, int]], limit: int, earlier: int
) -> None:
    """Rebuilding a clock from the history gives what applying each event as it came gave —
    a merge (the report's clock stops; taken out, it runs on as if never stopped) and a
    parent's regrouping (a clock started with the intake runs from the group's first
    report) too."""
    t = START
    timeline: list[Moment] = []
    facts: ClockFacts | None = None
    held = False
    merged: ClockFacts | None = None
    from_intake = False
    for trigger, gap in steps:
        t += gap
        to_state = "closed" if trigger == "end" else "open"
        origin = START - earlier if trigger == "group" else None
        first = not timeline
        timeline.append((trigger, to_state, t, origin))
        # the incremental rules, as Engine/Draft apply them one event at a time
        if trigger == "merge":
            if facts is not None and facts.stopped is None:
                merged, facts = facts, clk.stop(facts, t)
        elif trigger == "unmerge":
            if merged is not None:
                facts, merged = merged, None
        elif trigger == "group":
            if facts is not None and from_intake:
                facts = dataclasses.replace(facts, started=START - earlier)
        elif trigger == "hold":
            held = True
            facts = clk.pause(facts, t) if facts else None
        elif trigger == "resume":
            held = False
            facts = clk.resume(facts, t) if facts else None
        else:
            if facts is not None and (trigger == "done" or trigger == "end"):
                facts = clk.stop(facts, t)
            if facts is None and trigger == "go":
                facts = ClockFacts(t, limit)
                from_intake = first
                if held:
                    facts = clk.pause(facts, t)
            if trigger == "end":
                held = False
        assert replay(SPEC, limit, frozenset({"closed"}), timeline) == facts


# -- over a business calendar: the same formulas with working time ------------------------------


@cache
def office() -> Calendar:
    """Monday to Friday 08:30-12:00 and 13:30-17:30 in Shanghai, China's holidays."""
    hours = parse_hours(["08:30-12:00", "13:30-17:30"], "hours")
    zone = ZoneInfo("Asia/Shanghai")
    return Calendar("office", zone, frozenset(range(5)), hours, holidays=official("CN"))


@settings(deadline=None)  # the first examples compute the calendar's days
@given(histories(), gaps)
def test_over_a_calendar_pauses_take_away_the_working_time_they_cover(h: tuple, later: int) -> None:
    """Replay the same random history over the office calendar: the clock's active time is the
    working time from start to end less the working time of its pauses, and the due time is
    where that reaches the limit."""
    _, limit, pauses, stop_at = h
    cal = office()
    facts = ClockFacts(START, limit, cal=cal)
    for at, length in pauses:
        facts = clk.resume(clk.pause(facts, at), at + length)
    if stop_at is not None:
        facts = clk.stop(facts, stop_at)
    paused = sum(cal.span(at, at + length) for at, length in pauses)
    assert facts.paused == paused
    now = (stop_at or START) + later
    end = stop_at if stop_at is not None else now
    assert clk.active(facts, now) == max(cal.span(START, end) - paused, 0)
    due = clk.due_at(facts)
    assert due is not None and cal.span(START, due) - paused == limit
    reading = clk.read(facts, now)
    assert reading.breached == (clk.active(facts, now) > limit)
    if not reading.breached and stop_at is None:
        assert end <= due or cal.span(due, end) == 0  # past due only in time that does not count


@settings(deadline=None)
@given(limits, st.floats(0.05, 0.95))
def test_over_a_calendar_the_breach_falls_at_the_next_working_microsecond(
    limit: int, share: float
) -> None:
    cal = office()
    facts = ClockFacts(START, limit, cal=cal)
    warn, breach = clk.alarm_times(facts, share)  # type: ignore[misc]
    due = clk.due_at(facts)
    assert due is not None and START <= warn <= due < breach
    assert not clk.is_breached(facts, breach - 1) and clk.is_breached(facts, breach)
    assert clk.due_alarm(facts, share, True, False, due) is None  # exactly due: met
