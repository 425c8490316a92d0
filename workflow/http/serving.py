"""How ``faultflow serve`` runs the app under uvicorn so that the world's ordinary bad day does
not take it down: slow clients are cut off, logs cannot flood, and the process may hold as many
connections as the system allows.

- :class:`Patient` is uvicorn's HTTP protocol with a read timeout: a request's headers and body
  must arrive within ``read_timeout`` seconds of its first byte (or of the connection), else the
  connection is closed. uvicorn itself only times out idle keep-alive connections, so a client
  that sends half its headers would hold a connection for ever.
- :class:`Hush` lets at most ``burst`` log lines of one kind through per ``window`` seconds and
  says how many it held back: a storm of 10,000 refused requests is a few hundred lines.
- :func:`open_files` raises the soft limit on open files to the hard one (a storm opens one
  connection per sender).
"""

from __future__ import annotations

import logging
import time
from asyncio import TimerHandle
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import one_line

READ_TIMEOUT = 10.0
"""Seconds a client has to send a request's headers and body."""


class Patient(HttpToolsProtocol):
    """uvicorn's httptools protocol, which gives up on a request that does not arrive."""

    read_timeout = READ_TIMEOUT  # set per server: see :func:`protocol`

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._reading: TimerHandle | None = None
        self._start_reading()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_reading()

    def on_message_complete(self) -> None:
        self._stop_reading()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading()
        super().connection_lost(exc)

    def _start_reading(self) -> None:
        if self._reading is None:
            self._reading = self.loop.call_later(self.read_timeout, self._too_slow)

    def _stop_reading(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def _too_slow(self) -> None:
        """The timer ran out before a whole request arrived: close the connection."""
        self._reading = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol(read_timeout: float = READ_TIMEOUT) -> type[Patient]:
    """The protocol class for one server (``uvicorn.Config(http=...)``)."""
    return type("Patient", (Patient,), {"read_timeout": read_timeout})


class Hush(logging.Filter):
    """At most ``burst`` records of one kind (logger, level, message template) per ``window``
    seconds; the first one let through after a hush says how many were held back."""

    def __init__(self, burst: int = 100, window: float = 10.0) -> None:
        super().__init__()
        self.burst, self.window = burst, window
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # [window start, count, held]

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is None or now - seen[0] >= self.window:
            held = int(seen[2]) if seen is not None else 0
            if len(self._seen) > 1000:
                self._seen.clear()  # kinds are few; a flood of kinds must not grow it
            self._seen[key] = [now, 1, 0]
            if held:  # said apart: uvicorn's access lines are formatted from their arguments
                logging.getLogger("faultflow.http").warning(
                    "%d more log lines like %r were not logged in %.0f s",
                    held, one_line(str(record.msg))[:80], self.window,
                )  # fmt: skip
            return True
        seen[1] += 1
        if seen[1] <= self.burst:
            return True
        seen[2] += 1
        return False


def hush(burst: int = 100, window: float = 10.0) -> Hush:
    """One :class:`Hush` on every handler of the root and uvicorn loggers."""
    quiet = Hush(burst, window)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(quiet)
    return quiet


def open_files() -> int:
    """Raise the soft limit on open files to the hard limit; the limit now in force."""
    try:
        import resource
    except ImportError:  # pragma: no cover (Windows)
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
