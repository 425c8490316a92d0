"""What keeps ``serve`` answering through a flood of intake: intake work runs in a lane of its
own, bounded, and refused at once when the lane is full.

- **The lane.** Intake calls are taken by a few threads of their own, never by the thread pool
  that answers the board, ``/readyz`` and ``/metrics``, and done by the lane's hands
  (``hands.py``): on an engine of this process, or, in ``serve``, in a process of its own. The
  engine serialises its calls, so more threads would only queue inside it. What waits is run
  together when the lane is free: one transaction (group commit) for up to :data:`BATCH`
  requests, each still all or nothing on its own.
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
import ipaddress
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from .hands import Hands

T = TypeVar("T")

WORKERS = 1
QUEUE = 64
RATE = 500.0
BURST = 2500


class Limit:
    """A token bucket per key (a client's address for the public forms, a token's name for
    intake): ``burst`` at once, then one every ``every`` seconds. Addresses in ``trusted``
    networks (the units behind one extranet NAT) are not limited."""

    def __init__(self, burst: int = 10, every: float = 60.0, trusted: Sequence[str] = ()) -> None:
        self.burst, self.every = burst, every
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)
        self._buckets: dict[str, tuple[float, float]] = {}

    def _exempt(self, address: str) -> bool:
        if not self.trusted:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def _tokens(self, address: str, now: float) -> float:
        tokens, since = self._buckets.get(address, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - since) / self.every)

    def peek(self, address: str, now: float | None = None) -> float:
        """0 when ``address`` may go now, else the seconds to wait; nothing is counted (the
        portal counts a report only once it is accepted: :meth:`take`)."""
        if self._exempt(address):
            return 0.0
        tokens = self._tokens(address, time.monotonic() if now is None else now)
        return 0.0 if tokens >= 1 else (1 - tokens) * self.every

    def take(self, address: str, now: float | None = None) -> float:
        """0 when ``address`` may go now (and it is counted), else the seconds to wait."""
        if self._exempt(address):
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = self._tokens(address, now)
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
    """The intake lane of one app: each worker takes what is queued when it is free — up to
    :data:`BATCH` requests — and hands it to ``hands`` (``hands.Here`` or ``hands.Apart``),
    which runs a batch in one transaction (group commit); each request is still all or nothing
    on its own, and none is answered before the commit that holds it."""

    def __init__(self, bounds: Bounds, hands: Hands) -> None:
        self.bounds = bounds
        self.admitted = 0  # touched on the event loop only
        self.hands = hands
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
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
        """``fn(engine, *args)`` by the lane's hands; :class:`Gone` (and ``fn`` never called)
        when the client hangs up while it waits for a thread."""
        if not self._workers:
            self._start()
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, loop, loop.create_future())

        def hung_up(task: asyncio.Task[None]) -> None:
            if not task.cancelled():
                job.gone = True  # read by the worker if it has not begun; if it has, it ends

        hangup = loop.create_task(_hangup(request))
        hangup.add_done_callback(hung_up)
        self._queue.put(job)
        try:
            return await job.future
        finally:
            hangup.cancel()

    def _start(self) -> None:
        for i in range(self.bounds.workers):
            worker = threading.Thread(target=self._work, name=f"faultflow-intake_{i}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            live = [job for job in batch if not (job.gone and job.settle(Gone()))]
            if live:
                self._hand(live)
            if stop:
                return

    def _hand(self, jobs: list[_Job]) -> None:
        try:
            answers = self.hands([(job.fn, job.args) for job in jobs])
        except Exception as err:  # the hands could not take the batch (a process stopped)
            answers = [(False, err)] * len(jobs)
        for job, (ok, value) in zip(jobs, answers, strict=True):
            job.settle(value, ok)

    def close(self) -> None:
        """Finish what is queued, then stop the workers and the hands."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()
        self._workers = []
        self.hands.close()


BATCH = 64
"""The most intake requests one transaction of the lane holds."""


class _Job:
    """One request's work, queued for the lane; its answer is set on the event loop."""

    __slots__ = ("args", "fn", "future", "gone", "loop")

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], loop: Any, future: Any
    ) -> None:
        self.fn, self.args, self.loop, self.future = fn, args, loop, future
        self.gone = False

    def settle(self, value: Any, ok: bool = False) -> bool:
        """Hand the answer (or, unless ``ok``, the exception) to the waiting request."""
        self.loop.call_soon_threadsafe(_settle, self.future, value, ok)
        return True


def _settle(future: asyncio.Future[Any], value: Any, ok: bool) -> None:
    if future.done():  # the request was cancelled (its server stopped)
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


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
