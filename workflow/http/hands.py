"""The intake lane's hands: what does the lane's work (``admission.Lane``), a batch at a time.

A call is ``(fn, args)``, run as ``fn(engine, *args)``; what comes back for each is
``(True, answer)`` or ``(False, exception)``, in the order of the calls.

- :class:`Here` runs a batch on an engine of this process: together (group commit, one
  transaction) when there are several, each still all or nothing on its own. What
  :func:`create_app` does by default, and what an integrator embedding the app gets.
- :class:`Apart` runs it in a process of its own, on an engine that process opens (``faultflow
  serve``). Python runs one thread at a time: an intake on a thread beside the event loop
  takes turns with it at every database call, and on two cores each turn is a hand-over from
  one core to the other. In a process of its own, the intake and the HTTP server each have a
  core, and the board and ``/healthz`` never wait for the intake's turn. The two speak pickle
  over a socket pair that only they hold.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ..errors import ConcurrentUpdate, DatabaseError, DatabaseUnavailable, FaultflowError

Call = tuple[Callable[..., Any], tuple[Any, ...]]
Done = tuple[bool, Any]


class Hands(Protocol):
    """What the lane hands its batches to: :class:`Here` or :class:`Apart`."""

    def __call__(self, calls: list[Call]) -> list[Done]: ...

    def close(self) -> None: ...


log = logging.getLogger("faultflow.http")
PROCESS = f"{__name__.rpartition('.')[0]}.intake_process"
"""The module the intake process runs (what ``ps`` shows: ``python -m`` it)."""


class Here:
    """A batch on ``engine``, in this thread. With several calls, in one transaction of
    ``engine.together()``; a call that meets a database error there (a deadlock between two
    processes' batches, a lock, a conflict) runs again alone, as it would have without group
    commit."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __call__(self, calls: list[Call]) -> list[Done]:
        if len(calls) == 1:
            return [self._alone(calls[0])]
        done: list[Done] = []
        failed: Exception | None = None
        try:
            with self.engine.together():
                for fn, args in calls:
                    try:
                        done.append((True, fn(self.engine, *args)))
                    except Exception as err:  # its own savepoint was undone; the rest stay
                        done.append((False, err))
        except Exception as err:  # the commit (or the transaction) failed: nothing was written
            failed = err
        done += [(True, None)] * (len(calls) - len(done))  # never begun
        answers: list[Done] = []
        for call, (ok, value) in zip(calls, done, strict=True):
            if ok and failed is None:
                answers.append((True, value))
            elif not ok and not _again(value):
                answers.append((False, value))  # its own refusal: it would be the same alone
            elif ok and failed is not None and not _again(failed):
                answers.append((False, failed))
            else:
                answers.append(self._alone(call))
        return answers

    def _alone(self, call: Call) -> Done:
        fn, args = call
        try:
            return True, fn(self.engine, *args)
        except Exception as err:
            return False, err

    def close(self) -> None:
        """Nothing to stop: the engine is the caller's."""


def _again(err: BaseException) -> bool:
    """Whether a call that met ``err`` inside a batch may succeed alone."""
    return isinstance(err, DatabaseError | ConcurrentUpdate)


class Apart:
    """A batch in a process of its own (``python -m faultflow.http.intake_process``, started
    now, ready about a second later), on the engine ``opener()`` opens there: ``opener`` and
    every call's ``fn`` and ``args`` must pickle (functions by name, not closures). Several lane
    workers share the process, one batch at a time, as they would share one engine.

    If the process stops (killed, out of memory), the batch it held is answered
    :class:`DatabaseUnavailable` (503 with Retry-After: a sender retries, and a retry of work
    that was committed is answered as a duplicate), and a new process is started for the next
    one. It stops when :meth:`close` asks, when this process is gone, or on SIGTERM (once the
    batch it holds is answered); Ctrl-C is the server's to handle."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Any = None
        self._ready = False
        self.restarts = 0
        """How many times the process stopped and another was started (``/metrics``)."""
        self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", PROCESS, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn, self._ready = Connection(ours.detach()), False
        self._conn.send(sys.path)  # where to find what it is sent (the opener, the calls)
        self._conn.send(self._opener)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def wait(self) -> None:
        """Return once the process has opened its engine; raise why it could not (and start
        another). ``serve`` waits before it listens: a storm may come at once."""
        with self._lock:
            try:
                self._greeted()
            except (EOFError, OSError):
                code = self._stopped("as it started")
                raise DatabaseUnavailable(
                    f"the intake process stopped as it started (exit code {code})"
                ) from None

    def _greeted(self) -> None:
        if not self._ready:
            ok, value = self._conn.recv()  # its engine opened, or why not
            if not ok:
                self._stopped("without its engine")
                raise value
            self._ready = True

    def __call__(self, calls: list[Call]) -> list[Done]:
        with self._lock:
            try:
                self._greeted()
                self._conn.send(calls)
                answers: list[Done] = self._conn.recv()
                return answers
            except (EOFError, OSError):
                code = self._stopped("with a batch")
                raise DatabaseUnavailable(
                    f"the intake process stopped (exit code {code}); a new one is starting: "
                    "try again"
                ) from None

    def _stopped(self, how: str) -> int | None:
        """The process is gone or of no use: say so, and start another."""
        code = self._end(timeout=5)
        log.error("the intake process stopped %s (exit code %s); starting another", how, code)
        self.restarts += 1
        self._start()
        return code

    def _end(self, timeout: float) -> int | None:
        assert self._process is not None
        self._conn.close()
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()

    def close(self) -> None:
        """Let the process finish what it holds, close its engine and stop."""
        with self._lock:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._end(timeout=30)


def serve(conn: Any) -> None:
    """The intake process (``intake_process.py``): open the engine, say so, then run what
    comes until told to stop, until the server's end of the pipe closes, or until SIGTERM (a
    batch begun is finished and answered first)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the server finishes its requests
    busy, stopping = False, False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not busy:
            raise SystemExit(0)
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        sys.path[:] = conn.recv()
        opener = conn.recv()
        engine = opener()
    except (EOFError, OSError):
        return
    except Exception as err:
        with contextlib.suppress(OSError):
            conn.send((False, _portable(err)))
        return
    here = Here(engine)
    try:
        conn.send((True, None))
        while not stopping:
            calls = conn.recv()
            if calls is None:
                return
            busy = True
            conn.send([(ok, value if ok else _portable(value)) for ok, value in here(calls)])
            busy = False
    except (EOFError, OSError):  # the server is gone: what was committed stays committed
        return
    finally:
        engine.close()


def _portable(err: Exception) -> Exception:
    """A refusal (a :class:`FaultflowError`) as itself, to be answered as it would be here;
    anything else (a fault of ours) as a RuntimeError that carries its traceback, for the
    server's log."""
    if isinstance(err, FaultflowError):
        with contextlib.suppress(Exception):
            return pickle.loads(pickle.dumps(err))
    text = "".join(traceback.format_exception(err)).rstrip()
    return RuntimeError(f"in the intake process: {text}")
