"""Database failures reach callers as faultflow's errors, classified by code; a command that
waits says so, gives up in bounded time, and exits 75 (try again later)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import new_ticket, snapshot
from faultflow import ConcurrentUpdate, DatabaseError, DatabaseUnavailable, Engine
from faultflow.dbfailures import classify
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
    from faultflow.store import Unit

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
