"""Database failures reach callers as faultflow's errors, classified by code; a command that
waits says so, gives up in bounded time, and exits 75 (try again later)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import new_ticket, snapshot
from faultflow import ConcurrentUpdate, DatabaseError, DatabaseUnavailable, Engine
from faultflow.db.failures import classify
from faultflow.errors import DatabaseDamaged


def _sqlite_busy(db: Path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        waiter = sqlite3.connect(db, timeout=0)
        with pytest.raises(sqlite3.OperationalError) as err:
            waiter.execute("INSERT INTO t VALUES (1)")
        waiter.close()
        return err.value
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_sqlite_busy_is_temporary(tmp_path: Path) -> None:
    busy = _sqlite_busy(tmp_path / "x.db")
    failure = classify(busy)
    assert isinstance(failure, DatabaseUnavailable)
    assert "database is locked" in str(failure) and "try again later" in str(failure)


def test_a_damaged_sqlite_file_is_a_database_error_not_a_temporary_one(tmp_path: Path) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(b"this is not a database" * 400)
    with pytest.raises(sqlite3.DatabaseError) as err:
        sqlite3.connect(db).execute("SELECT * FROM sqlite_master")
    failure = classify(err.value)
    assert type(failure) is DatabaseDamaged  # not temporary: stop writing, restore a backup


def test_postgres_codes() -> None:
    psycopg = pytest.importorskip("psycopg")
    serialization = classify(psycopg.errors.SerializationFailure("could not serialize access"))
    assert isinstance(serialization, ConcurrentUpdate) and serialization.retry
    deadlock = classify(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert isinstance(deadlock, ConcurrentUpdate) and deadlock.retry
    for temporary in (
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ):
        assert isinstance(classify(temporary), DatabaseUnavailable), temporary
    assert type(classify(psycopg.errors.UndefinedTable("no such table"))) is DatabaseError


def test_an_unreachable_server_is_temporary_and_its_password_is_not_shown() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://faultflow:s3cret-pw@127.0.0.1:9/faultflow"  # nothing listens on port 9
    with pytest.raises(DatabaseUnavailable) as err:
        Engine.open(db=url)
    assert "s3cret-pw" not in str(err.value) and "***" in str(err.value)


@pytest.mark.postgres
def test_a_dropped_server_connection_is_temporary_and_the_next_call_reconnects(
    pg_url: str, travel: Any
) -> None:
    import psycopg

    engine = Engine.open(db=pg_url)
    t = new_ticket(engine)
    with engine.store.unit() as u:
        u.cursor.execute("SELECT pg_backend_pid()")
        pid = u.cursor.fetchone()[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:  # as a restart would
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(DatabaseUnavailable):
        engine.get(t.id)
    moved = engine.advance(t.id, "respond", actor="li")  # a new connection, nothing lost
    assert moved.state == "responded" and [e.seq for e in moved.history] == [1, 2]
    engine.close()


def test_a_serialization_failure_is_retried_once(engine: Engine, monkeypatch: Any) -> None:
    t = new_ticket(engine)
    from faultflow.db.store import Unit

    real_write, calls = Unit.write, {"n": 0}

    def aborted_once(self: Unit, change: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConcurrentUpdate("could not serialize access", retry=True)
        real_write(self, change)

    monkeypatch.setattr(Unit, "write", aborted_once)
    assert engine.advance(t.id, "respond", actor="li").state == "responded"
    assert calls["n"] == 2
    assert [e.trigger for e in engine.get(t.id).history] == ["intake", "respond"]


HOLD = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_held_lock_is_said_bounded_and_exits_75(tmp_path: Path) -> None:
    """Postfix piping a mail to `faultflow intake` retries on 75; on 1 it bounces the mail."""
    db = tmp_path / "ff.db"
    Engine.open(db=db).close()
    before = snapshot(db)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        env = {**os.environ, "FAULTFLOW_DB": str(db), "FAULTFLOW_LOCK_TIMEOUT": "2"}
        done = subprocess.run(
            [sys.executable, "-m", "faultflow.cli", "intake", "--channel", "web", "--title", "x"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.communicate("go\n", timeout=10)
    assert done.returncode == 75, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "waiting for the database: another process holds a lock; giving up after 2 s"
    assert lines[1].startswith("error: ") and "try again later" in lines[1]
    assert "Traceback" not in done.stderr
    assert snapshot(db) == before


class _Proxy:
    """A TCP relay on 127.0.0.1 in front of the PostgreSQL server. ``restart()`` does to the
    clients what a server restart does: every connection is cut mid-flight, new ones are
    refused for a while, then accepted again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self.target = (host, port)
        self._socket, self._threading = socket, threading
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self.port = 0
        self._listen()

    def _listen(self) -> None:
        s = self._socket.socket()
        s.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self._server = s
        self._threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, server: Any) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed by restart() or stop()
            upstream = self._socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: Any, b: Any) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def _cut(self) -> None:
        self._server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(self._socket.SHUT_RDWR)
                s.close()

    def restart(self, down_s: float) -> None:
        import time

        self._cut()
        time.sleep(down_s)  # refused: nothing listens on the port
        self._listen()

    def stop(self) -> None:
        self._cut()


@pytest.mark.postgres
def test_a_server_restarted_under_load_shows_library_callers_only_faultflow_errors(
    pg_url: str,
) -> None:
    """Four threads of library callers (intake, advance, reads, sweeps) on their own engines
    while the server goes away three times: every failure they see is a faultflow error, most
    of them DatabaseUnavailable; every write that returned is there afterwards; verify holds."""
    import threading
    import time
    from urllib.parse import urlsplit

    from faultflow import FaultflowError

    parts = urlsplit(pg_url)
    proxy = _Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    url = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    Engine.open(db=url).close()
    written: list[tuple[str, int]] = []
    seen: list[BaseException] = []
    stop = threading.Event()

    def caller(n: int) -> None:
        engine = None
        while engine is None:  # opening meets the restarts too: the same one error, again
            try:
                engine = Engine.open(db=url, create=False, lock_timeout=5)
            except FaultflowError as err:
                seen.append(err)
                time.sleep(0.05)
        mine: list[str] = []
        while not stop.is_set():
            try:
                t = engine.intake("web", {"title": f"caller {n}"}, actor=f"c{n}")
                written.append((t.id, 1))
                mine.append(t.id)
                moved = engine.advance(mine[-1], "respond", actor=f"c{n}")
                written.append((moved.id, 2))
                engine.list(limit=5)
                engine.tick()
            except FaultflowError as err:
                seen.append(err)
                time.sleep(0.05)
            except BaseException as err:  # anything else is the failure this test looks for
                seen.append(err)
                time.sleep(0.05)
        engine.close()

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    try:
        for _ in range(3):
            time.sleep(0.7)
            proxy.restart(down_s=0.5)
        time.sleep(0.7)
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=60)
    proxy.stop()
    foreign = [e for e in seen if not isinstance(e, FaultflowError)]
    assert not foreign, [f"{type(e).__module__}.{type(e).__name__}: {e}" for e in foreign[:5]]
    assert any(isinstance(e, DatabaseUnavailable) for e in seen), "the outages were not seen"
    assert len(written) > 20
    with Engine.open(db=pg_url, create=False) as engine:
        for tid, seq in written:
            assert len(engine.get(tid).history) >= seq, tid
        assert engine.verify().ok


@pytest.mark.postgres
def test_a_server_that_refuses_us_is_permanent_and_one_that_is_away_temporary(
    pg_url: str,
) -> None:
    """SQLSTATE classes 28 (a wrong password) and 3D (no such database) are the operator's to
    mend: exit 1. A server that is not there (nothing listens) may come back: exit 75."""
    from urllib.parse import urlsplit, urlunsplit

    from test_http import free_port

    parts = urlsplit(pg_url)
    user = parts.username or "faultflow"
    host = f"{parts.hostname}:{parts.port or 5432}"
    cases = {
        "wrong password": (
            urlunsplit((parts.scheme, f"{user}:wrong-password@{host}", parts.path, "", "")),
            1,
            "password authentication failed",
        ),
        "no such database": (
            urlunsplit((parts.scheme, parts.netloc, "/no_such_database_here", "", "")),
            1,
            "does not exist",
        ),
        "nobody listening": (
            urlunsplit(
                (
                    parts.scheme,
                    f"{parts.netloc.rsplit(':', 1)[0]}:{free_port()}",
                    parts.path,
                    "",
                    "",
                )
            ),
            75,
            "try again later",
        ),
    }
    for what, (url, code, words) in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "faultflow.cli", "--db", url, "list"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == code, (what, done.returncode, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr, (what, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (what, done.stderr)
        assert "wrong-password" not in done.stderr  # the password is masked
