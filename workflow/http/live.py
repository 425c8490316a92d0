"""Live updates for the duty board: one watcher per process reads ``Engine.stamp()`` (a number
that grows with every change) each ``interval`` seconds and wakes the board's server-sent event
streams when it moved; each stream then renders its rows once. Many open boards cost one small
query a second, not one each."""

from __future__ import annotations

import asyncio
import logging
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
