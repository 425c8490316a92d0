"""A clock's course rebuilt from a ticket's history, by the same rules the engine follows as the
history is written (tickets/draft.py): used to recompute clocks after a reclassification or a
late entry, and by ``verify`` to check the stored clocks. Pure: values in, values out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..db.records import EventRecord
from . import clocks as clk
from .clocks import ClockFacts

if TYPE_CHECKING:
    from ..contract.model import ClockSpec


Moment = tuple[str, str, int, "int | None"]
"""One event as the clocks see it: (trigger, state after, at, origin) — ``origin`` only on a
``group`` event: when the group's first report came in (merge, tickets/groups.py)."""

GROUP = "group"
"""The event of a parent whose group of reports changed: its intake clocks run from the
``origin`` it carries."""
MERGE, UNMERGE = "merge", "unmerge"
"""The events of a report merged into a parent (its clocks stop) and taken out again (they
run on, from its own intake, as if never stopped)."""


def moment(e: EventRecord) -> Moment:
    """An event as the clocks see it."""
    origin = json.loads(e.data)["origin_us"] if e.trigger == GROUP else None
    return (e.trigger, e.to_state, e.at_us, origin)


def in_time_order(events: Iterable[EventRecord]) -> list[Moment]:
    """The moments of a history in the order things happened: by ``at``, then by seq (a late
    entry sits where it happened, not where it was typed)."""
    return [moment(e) for e in sorted(events, key=_when)]


def _when(e: EventRecord) -> tuple[int, int]:
    return (e.at_us, e.seq)


def replay(
    spec: ClockSpec, limit: int, finals: frozenset[str], events: Iterable[Moment]
) -> ClockFacts | None:
    """A clock's facts rebuilt from a ticket's history of moments.

    The same rules as the incremental path in :class:`Draft`: a stop trigger or a final state
    stops it, a start trigger starts it once, holds pause it when it is pausable, and a clock
    started while the ticket is on hold starts paused. A report merged into a parent stops its
    clocks; taken out again (``unmerge``) the clocks it stopped run on as if never stopped. A
    parent's clocks that started with its intake run from its group's first report
    (``group``).
    """
    facts: ClockFacts | None = None
    held = False
    first = True  # the first moment is the intake
    from_intake = False
    merged: ClockFacts | None = None  # the clock as it was when a merge stopped it
    for trigger, to_state, at, origin in events:
        if trigger == "hold":
            held = True
            if facts is not None and spec.pausable:
                facts = clk.pause(facts, at)
        elif trigger == "resume":
            held = False
            if facts is not None and spec.pausable:
                facts = clk.resume(facts, at)
        elif trigger == MERGE:
            if facts is not None and facts.stopped is None:
                merged, facts = facts, clk.stop(facts, at)
        elif trigger == UNMERGE:
            if merged is not None:
                facts, merged = merged, None
        elif trigger == GROUP:
            if facts is not None and from_intake and origin is not None:
                facts = replace(facts, started=origin)
        else:
            final = to_state in finals
            if facts is not None and (trigger in spec.stop or final):
                facts = clk.stop(facts, at)
            if facts is None and trigger in spec.start:
                facts = ClockFacts(started=at, limit=limit, cal=spec.calendar)
                from_intake = first
                if held and spec.pausable:
                    facts = clk.pause(facts, at)
            if final:
                held = False
        first = False
    return facts
