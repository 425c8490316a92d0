"""The scheduler loop behind ``faultflow run``: keep sweeping until told to stop.

It holds no timers of its own — they are rows (see :meth:`Engine.tick`). It only decides how
long to sleep: until the next due time, never longer than ``max_sleep``, so that a timer written
meanwhile by another process is noticed within that bound. Nothing stops it but a stop request,
SIGINT or SIGTERM: a failed sweep is logged and retried with backoff.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ..errors import DatabaseDamaged, FaultflowError
from ..tickets.views import Fired

log = logging.getLogger("faultflow.scheduler")

MAINTAIN_EVERY, CHECK_EVERY = 3600.0, 86400.0  # WAL checkpoint hourly; quick_check daily
DELIVERY_PASS_S = 2.0
# A short cap: once the database is back, alarms must fire within seconds, not half a minute.
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 5.0


def next_backoff(previous: float) -> float:
    """0.5 s after the first failure, doubling up to 5 s."""
    return min(max(previous * 2, BACKOFF_FIRST), BACKOFF_MAX)


class Sweeper(Protocol):
    """What the loop drives (an :class:`~faultflow.Engine`); named here, not imported, so that
    the engine may import this module and not the other way round."""

    def tick(self, now: Any = None, batch: int = 500, deliver: bool = True) -> list[Fired]: ...
    def deliver(self, now: Any = None, budget_s: float = 20.0) -> list[Any]: ...
    def next_due(self) -> datetime | None: ...
    def now(self) -> datetime: ...
    def maintain(self, integrity: bool = False) -> None: ...


class Outage:
    """One stretch of failed sweeps: logged once when it starts (in full if it is not one of
    faultflow's errors, i.e. a bug), again only if the error changes, and once when it ends."""

    def __init__(self, err: Exception, what: str = "tick") -> None:
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


def run(
    engine: Sweeper,
    stop: threading.Event,
    max_sleep: float = 1.0,
    on_fired: Callable[[list[Fired]], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Sweep ``engine`` until ``stop`` is set (or SIGINT/SIGTERM, in the main thread)."""
    stop.clear()
    previous: dict[signal.Signals, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    backoff = 0.0
    outage: Outage | None = None
    checked = maintained = float("-inf")  # integrity at start, then daily; the WAL hourly
    # Notifications go out on a thread of their own: a receiver that never answers must not
    # delay the next breach.
    delivery = threading.Thread(
        target=deliver_until, args=(engine, stop, max_sleep), name="faultflow-delivery"
    )
    delivery.start()
    try:
        while not stop.is_set():
            try:
                moment = time.monotonic()
                if moment - maintained >= MAINTAIN_EVERY:
                    integrity = moment - checked >= CHECK_EVERY
                    engine.maintain(integrity=integrity)
                    maintained = moment
                    if integrity:
                        checked = moment
                fired = engine.tick(deliver=False)
                if fired and on_fired is not None:
                    on_fired(fired)
                if outage is not None:
                    outage.over()
                    outage = None
                backoff = 0.0
                wait = max_sleep
                nxt = engine.next_due()
                if nxt is not None:
                    wait = min(max_sleep, max(0.0, (nxt - engine.now()).total_seconds()))
            except DatabaseDamaged as err:
                log.error("stopped: %s", err)
                raise  # writing on into a damaged file would spread the damage
            except Exception as err:  # nothing else stops the scheduler; a bug is logged in full
                backoff = next_backoff(backoff)
                if outage is None:
                    outage = Outage(err)
                else:
                    outage.again(err)
                wait = backoff
            stop.wait(wait)
    finally:
        stop.set()  # the delivery thread ends with the sweeps, whatever ended them
        delivery.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def deliver_until(engine: Sweeper, stop: threading.Event, max_sleep: float) -> None:
    """Deliver due notifications every ``max_sleep`` s until ``stop``; an outage of the
    database is logged once and retried with the same capped backoff as the sweeps."""
    backoff = 0.0
    outage: Outage | None = None
    while not stop.is_set():
        try:
            engine.deliver(budget_s=DELIVERY_PASS_S)  # short passes: a stop is heard soon
            if outage is not None:
                outage.over()
                outage = None
            backoff, wait = 0.0, max_sleep
        except Exception as err:  # a notifier's bug is recorded per attempt; this is the rest
            backoff = next_backoff(backoff)
            if outage is None:
                outage = Outage(err, "delivery")
            else:
                outage.again(err)
            wait = backoff
        stop.wait(wait)
