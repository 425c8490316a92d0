"""The run loop behind ``faultflow run`` and ``faultflow serve``: modules, each with a budget.

The loop holds no timers of its own — they are rows. It drives *modules* behind one small
interface (GoAlert's engine loop is the model): a module has a ``name``, a time ``budget`` and a
``run_once(deadline)`` that does one pass of its work, stopping by the deadline (monotonic
seconds), and says in how many seconds it wants to run again (``None``: whenever the lane next
wakes). A pass that takes longer than its budget is logged, naming the module.

Modules run in *lanes*, one thread each: a lane runs its modules one after another and then
sleeps until the earliest one wants to run again; a module whose work may be written by another
process (timers, escalation steps, the outbox) runs at least every ``max_sleep``, so that such
work is noticed within that bound. Work that can wait on
the outside world has a lane of its own — delivery (a receiver that never answers) and the
mailbox (an IMAP server) — so that none can delay a breach. A failing module is logged once per
outage and retried with a capped backoff; it does not stop its lane, except
:class:`DatabaseDamaged`, which stops everything (writing on would spread the damage).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import DatabaseDamaged, FaultflowError

log = logging.getLogger("faultflow.scheduler")

# A short cap: once the database is back, alarms must fire within seconds, not half a minute.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 5.0


def next_backoff(previous: float) -> float:
    """0.5 s after the first failure, doubling up to 5 s."""
    return min(max(previous * 2, BACKOFF_FIRST), BACKOFF_MAX)


class Module(Protocol):
    """One kind of background work (timers, escalation, delivery, mailbox, maintenance)."""

    name: str
    budget: float
    """Seconds one pass should take at most; longer is logged as an overrun."""
    polls: bool
    """Whether its work may appear from elsewhere (another process): then it runs again at
    least every ``max_sleep`` whatever it asked for."""

    def run_once(self, deadline: float) -> float | None:
        """Do one pass, stopping by ``deadline`` (``time.monotonic()`` seconds); in how many
        seconds to run again (``None``: at the lane's next wake-up)."""
        ...


class Outage:
    """One stretch of failed passes of a module: logged once when it starts (in full if it is
    not one of faultflow's errors, i.e. a bug), again only if the error changes, and once when
    it ends."""

    def __init__(self, err: Exception, what: str) -> None:
        self.started = time.monotonic()
        self.failures = 1
        self.last = str(err)
        self.what = what
        if isinstance(err, FaultflowError):
            log.error("%s failed (%s); retrying every %.1fs at most", what, err, BACKOFF_MAX)
        else:
            log.exception("%s failed unexpectedly; retrying every %.1fs at most", what, BACKOFF_MAX)

    def again(self, err: Exception) -> None:
        self.failures += 1
        if str(err) != self.last:
            self.last = str(err)
            log.error("%s still failing, now: %s", self.what, err)

    def over(self) -> None:
        log.warning(
            "%s works again after %.1fs and %d failed attempts",
            self.what,
            time.monotonic() - self.started,
            self.failures,
        )


@dataclass
class Lane:
    """Modules run one after another on one thread."""

    name: str
    modules: Sequence[Module]
    daemon: bool = False
    """A lane that may block in the outside world (an IMAP IDLE) need not be waited for at exit."""
    _backoff: dict[str, float] = field(default_factory=dict)
    _outages: dict[str, Outage] = field(default_factory=dict)

    def run(self, stop: threading.Event, max_sleep: float) -> None:
        """Run the modules until ``stop`` is set, each when it asked to run again."""
        # Seconds until each module's next pass, counted down by the waits themselves.
        remaining = [0.0] * len(self.modules)
        while not stop.is_set():
            for i, module in enumerate(self.modules):
                if stop.is_set():
                    return
                if remaining[i] <= 0:
                    remaining[i] = self._pass(module, stop, max_sleep)
            wait = max(0.0, min(remaining))
            stop.wait(wait)
            remaining = [r - wait for r in remaining]

    def _pass(self, module: Module, stop: threading.Event, max_sleep: float) -> float:
        """One pass of ``module``; the seconds until its next one."""
        name = module.name
        started = time.monotonic()
        try:
            again = module.run_once(started + module.budget)
        except DatabaseDamaged as err:
            log.error("stopped: %s", err)
            stop.set()
            raise
        except Exception as err:  # nothing else stops the loop; a bug is logged in full
            backoff = self._backoff[name] = next_backoff(self._backoff.get(name, 0.0))
            outage = self._outages.get(name)
            if outage is None:
                self._outages[name] = Outage(err, name)
            else:
                outage.again(err)
            return backoff  # not capped by max_sleep: a failing module is not hammered
        took = time.monotonic() - started
        if took > module.budget:
            log.warning("%s: a pass took %.1fs, over its budget of %.1fs", name, took,
                        module.budget)  # fmt: skip
        outage = self._outages.pop(name, None)
        if outage is not None:
            outage.over()
        self._backoff.pop(name, None)
        if again is None:
            return max_sleep
        # work that others may create (a timer written by another process) is looked for
        # at least every max_sleep; a module on its own schedule (maintenance) is not
        return min(again, max_sleep) if getattr(module, "polls", True) else again


def run(
    lanes: Sequence[Lane],
    stop: threading.Event,
    max_sleep: float = 1.0,
    handle_signals: bool = True,
) -> None:
    """Run every lane until ``stop`` is set (or SIGINT/SIGTERM, in the main thread): the first
    on this thread, the others on threads of their own, stopped and joined with it."""
    stop.clear()
    previous: dict[signal.Signals, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    damaged: list[DatabaseDamaged] = []
    threads = []
    for lane in lanes[1:]:
        args = (lane, stop, max_sleep, damaged)
        name = f"faultflow-{lane.name}"
        threads.append(threading.Thread(target=_lane, args=args, name=name, daemon=lane.daemon))
    for t in threads:
        t.start()
    try:
        lanes[0].run(stop, max_sleep)
    finally:
        stop.set()  # the other lanes end with the first, whatever ended it
        for t in threads:
            if not t.daemon:
                t.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if damaged:
        raise damaged[0]


def _lane(
    lane: Lane, stop: threading.Event, max_sleep: float, damaged: list[DatabaseDamaged]
) -> None:
    try:
        lane.run(stop, max_sleep)
    except DatabaseDamaged as err:  # logged by the lane, which set stop: the caller raises it
        damaged.append(err)
