"""Live updates for the duty board: one watcher per process reads ``Engine.stamp()`` (a number
that grows with every change) each ``interval`` seconds and wakes the board's server-sent event
streams when it moved. Many open boards cost one small query a second, not one each — and one
render per view: the streams that show the same filters in the same language share the rows
rendered for a stamp (:meth:`Live.shared`), so a duty room of ten screens in a storm renders
once a second, not ten times."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import FaultflowError

log = logging.getLogger("faultflow.http")


class Live:
    def __init__(self, engine: Any, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self.stamp: int | None = None
        self._moved: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._shared: dict[Hashable, tuple[Hashable, asyncio.Future[Any]]] = {}

    def _start(self) -> asyncio.Condition:
        if self._moved is None or self._task is None or self._task.done():
            self._moved = asyncio.Condition()
            self._task = asyncio.get_running_loop().create_task(self._watch(self._moved))
        return self._moved

    async def _watch(self, moved: asyncio.Condition) -> None:
        while True:
            try:
                stamp = await run_in_threadpool(self.engine.stamp)
            except FaultflowError as err:  # the database away for a moment: try again
                log.warning("board: cannot read the tickets' stamp: %s", err)
            else:
                if stamp != self.stamp:
                    self.stamp = stamp
                    async with moved:
                        moved.notify_all()
            await asyncio.sleep(self.interval)

    async def changed(self, seen: int | None, timeout: float) -> int | None:
        """The stamp once it differs from ``seen`` (at once if it does already), or ``seen``
        after ``timeout`` seconds without a change."""
        moved = self._start()
        async with moved:
            try:
                await asyncio.wait_for(moved.wait_for(lambda: self.stamp != seen), timeout)
            except TimeoutError:
                return seen
        return self.stamp

    async def shared(
        self, key: Hashable, make: Callable[[], Awaitable[Any]], moment: Hashable = None
    ) -> Any:
        """What ``make()`` gives for ``key`` at the stamp the watcher last saw (and at
        ``moment``: the caller's coarse time, for what a render says relative to now): made
        once, and awaited by every stream that asks for the same ``key`` meanwhile. A failure
        is not kept (the next ask makes it again); what was made for another stamp or moment
        is dropped, so the renders kept are one per view at most."""
        epoch = (self.stamp, moment)
        entry = self._shared.get(key)
        failed = (
            entry is not None
            and entry[1].done()
            and (entry[1].cancelled() or entry[1].exception() is not None)
        )
        if entry is None or entry[0] != epoch or failed:
            self._shared = {k: e for k, e in self._shared.items() if e[0] == epoch}
            entry = (epoch, asyncio.ensure_future(make()))
            self._shared[key] = entry
        # shielded: a stream that goes away does not cancel the render the others wait for
        return await asyncio.shield(entry[1])
