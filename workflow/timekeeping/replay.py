"""A clock's course rebuilt from a ticket's history, by the same rules the engine follows as the
history is written (tickets/draft.py): used to recompute clocks after a reclassification or a
late entry, and by ``verify`` to check the stored clocks. Pure: values in, values out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..db.records import EventRecord
from . import clocks as clk
from .clocks import ClockFacts

if TYPE_CHECKING:
    from ..contract.model import ClockSpec


def in_time_order(events: Iterable[EventRecord]) -> list[tuple[str, str, int]]:
    """(trigger, state after, at) of a history in the order things happened: by ``at``, then
    by seq (a late entry sits where it happened, not where it was typed)."""
    return [(e.trigger, e.to_state, e.at_us) for e in sorted(events, key=_when)]


def _when(e: EventRecord) -> tuple[int, int]:
    return (e.at_us, e.seq)


def replay(
    spec: ClockSpec, limit: int, finals: frozenset[str], events: Iterable[tuple[str, str, int]]
) -> ClockFacts | None:
    """A clock's facts rebuilt from a ticket's history of (trigger, state after, at).

    The same rules as the incremental path in :class:`Draft`: a stop trigger or a final state
    stops it, a start trigger starts it once, holds pause it when it is pausable, and a clock
    started while the ticket is on hold starts paused.
    """
    facts: ClockFacts | None = None
    held = False
    for trigger, to_state, at in events:
        if trigger == "hold":
            held = True
            if facts is not None and spec.pausable:
                facts = clk.pause(facts, at)
        elif trigger == "resume":
            held = False
            if facts is not None and spec.pausable:
                facts = clk.resume(facts, at)
        else:
            final = to_state in finals
            if facts is not None and (trigger in spec.stop or final):
                facts = clk.stop(facts, at)
            if facts is None and trigger in spec.start:
                facts = ClockFacts(started=at, limit=limit, cal=spec.calendar)
                if held and spec.pausable:
                    facts = clk.pause(facts, at)
            if final:
                held = False
    return facts
