"""The racers of ``conftest.race``: each job in a process of its own, forked from a server that
imported faultflow once.

A racer used to be a fresh ``python -c``, and each paid the interpreter's start and faultflow's
imports (about 0.6 s of CPU) before it could race: ~50 racers a run, a sixth of the suite's CPU
on two cores. Forked from multiprocessing's fork server instead — a single-threaded process
that has imported ``faultflow.engine`` and opened nothing — each racer is still its own OS
process with its own interpreter lock and its own database connections, which is what a race
between processes needs; only the imports are shared.

Only the standard library and faultflow here: the fork server imports this module.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import traceback
from multiprocessing.connection import Connection
from typing import Any

PRELOAD = ["faultflow.engine", "racing"]
"""What the fork server imports once, before it forks the first racer."""

_context: Any = None


def context() -> Any:
    """The fork-server context, preloaded with faultflow (started at its first use)."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


class _Shot:
    """The racer's standard input: its one line, the starting shot, comes over the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def readline(self) -> str:
        return str(self._conn.recv())


class _Out(io.StringIO):
    """The racer's standard output: "ready" is said over the pipe at once, the rest kept."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn

    def write(self, text: str) -> int:
        if text.strip() == "ready":
            self._conn.send("ready")
            return len(text)
        return super().write(text)


def run(source: str, argv: list[str], conn: Connection) -> None:
    """One racer: ``source`` run as ``python -c source *argv`` would run it; what it printed
    (or the traceback it ended with) goes back over ``conn``."""
    import sys

    sys.argv = ["-c", *argv]
    sys.stdin = _Shot(conn)  # type: ignore[assignment]
    out = _Out(conn)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<racer>", "exec"), {"__name__": "__main__"})
    except BaseException:
        conn.send(("failed", traceback.format_exc()))
    else:
        conn.send(("done", out.getvalue()))
    finally:
        conn.close()
