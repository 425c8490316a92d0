"""Draining what falls due: the scheduler's sweeps (timers.py, escalation.py) fetch the ids due
in batches and fire each; an id fired in this pass is not fired again in it, even if firing it
made it due again (a later alarm of the same ticket waits for the next pass)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


def each_due(batch: Callable[[], Iterable[str]]) -> Iterator[str]:
    """Every id the batches name, once, until a batch names none not yet seen."""
    done: set[str] = set()
    while True:
        fresh = [x for x in batch() if x not in done]
        if not fresh:
            return
        for x in fresh:
            done.add(x)
            yield x
