"""What keeps ``serve`` answering through a flood of intake: intake work runs in a lane of its
own, bounded, and refused at once when the lane is full.

- **The lane.** Intake calls run on a few threads of their own (and, in ``serve``, an engine of
  their own), never on the thread pool that answers the board, ``/readyz`` and ``/metrics``.
  The engine serialises its calls, so more threads would only queue inside it.
- **The bound.** At most ``workers + queue`` intake requests are admitted at once (their bodies
  read, their work queued or under way). One more is answered ``503`` with ``Retry-After`` before
  its body is read: Alertmanager (and any sane sender) retries a 5xx, and the process holds no
  more than the bound, however many senders there are.
- **Fair shares.** Each token has a bucket (``rate`` requests a second, ``burst`` at once); past
  it, ``429`` with ``Retry-After``. A noisy integrator cannot take the lane from the others.
- **Gone clients.** Work queued for a client that has hung up is dropped before it starts (the
  sender will retry it; a retry of work that did run is a duplicate, answered as one).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

T = TypeVar("T")

WORKERS = 1
QUEUE = 64
RATE = 500.0
BURST = 2500


class Limit:
    """A token bucket per key (a client's address for the public forms, a token's name for
    intake): ``burst`` at once, then one every ``every`` seconds."""

    def __init__(self, burst: int = 10, every: float = 60.0) -> None:
        self.burst, self.every = burst, every
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, address: str, now: float | None = None) -> float:
        """0 when ``address`` may go now (and it is counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        tokens, since = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) / self.every)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return (1 - tokens) * self.every
        self._buckets[address] = (tokens - 1, now)
        if len(self._buckets) > 50_000:  # forget full buckets: they are the default
            self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}
        return 0.0


class Busy(Exception):
    """503: the intake lane is full; try again after ``retry_after`` seconds."""

    status = 503

    def __init__(self, retry_after: int) -> None:
        super().__init__("the service is busy with other intake; retry shortly")
        self.retry_after = retry_after


class TooMany(Exception):
    """429: this token has sent more than its share; try again after ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("this token has sent more than its share of requests; retry shortly")
        self.retry_after = retry_after


class Gone(Exception):
    """The client hung up before its work began: nothing was done, nobody is told."""


@dataclass(frozen=True)
class Bounds:
    """How much intake one ``serve`` takes on at once (docs/http.md, "Storms and sizing")."""

    workers: int = WORKERS
    queue: int = QUEUE
    rate: float = RATE  # requests a second per token, sustained; 0: no limit
    burst: int = BURST  # requests at once per token

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue < 0 or self.rate < 0 or self.burst < 1:
            raise ValueError("intake bounds: workers ≥ 1, queue ≥ 0, rate ≥ 0, burst ≥ 1")


class Lane:
    """The intake lane of one app."""

    def __init__(self, bounds: Bounds | None = None) -> None:
        bounds = bounds or Bounds()
        self.bounds = bounds
        self.admitted = 0  # touched on the event loop only
        self._executor: ThreadPoolExecutor | None = None
        self._shares = Limit(bounds.burst, 1 / bounds.rate) if bounds.rate else None

    @property
    def capacity(self) -> int:
        return self.bounds.workers + self.bounds.queue

    def share(self, who: str) -> None:
        """Count one request for ``who`` (a token's name); :class:`TooMany` past its share."""
        if self._shares is None:
            return
        wait = self._shares.take(who)
        if wait:
            raise TooMany(max(1, math.ceil(wait)))

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """One place in the lane for the ``with`` block; :class:`Busy` when none is free."""
        if self.admitted >= self.capacity:
            # a full queue drains at about a request per few milliseconds a worker; a second
            # is a fair first wait, and Alertmanager backs off on its own after it
            raise Busy(1)
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def run(self, request: Request, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the lane's threads; :class:`Gone` (and ``fn`` never called) when the
        client hangs up while it waits for a thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.bounds.workers, thread_name_prefix="faultflow-intake"
            )
        gone = False

        def job() -> T:
            if gone:
                raise Gone()
            return fn(*args)

        def hung_up(task: asyncio.Task[None]) -> None:
            nonlocal gone
            if not task.cancelled():
                gone = True  # read by job() if it has not begun; if it has, it finishes

        loop = asyncio.get_running_loop()
        hangup = loop.create_task(_hangup(request))
        hangup.add_done_callback(hung_up)
        try:
            return await loop.run_in_executor(self._executor, job)
        finally:
            hangup.cancel()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


async def _hangup(request: Request) -> None:
    """Returns when the client disconnects (the body has been read: the next message an ASGI
    server gives is ``http.disconnect``). A connection that fails under it counts as gone."""
    while True:
        try:
            message = await request.receive()
        except Exception:  # the server lost the connection some other way
            return
        if message["type"] == "http.disconnect":
            return
