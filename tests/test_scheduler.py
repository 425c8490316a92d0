"""`run`: real subprocesses on the real clock; SIGTERM, SIGINT, database errors (kill -9 again
and again, with writers beside, is tests/test_kill9.py)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faultflow import DatabaseError, DatabaseUnavailable, Engine
from test_cli import FAULTFLOW


def due_soon(db: Path, n: int, first_in: float, spread: float) -> None:
    """n tier-A tickets whose response breaches fall due from `first_in` s for `spread` s."""
    with Engine.open(db=db) as engine:
        base = time.time() + first_in
        for i in range(n):
            due = base + spread * i / max(1, n - 1)
            reported = datetime.fromtimestamp(due).astimezone() - timedelta(minutes=15)
            engine.intake(
                "hotline",
                {"title": f"t{i}", "tier": "A", "occurred_at": reported.isoformat()},
                actor="t",
            )
        engine.tick()  # the warnings, already past


def breaches(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT ticket_id, count(*) FROM events WHERE trigger = 'breach' GROUP BY ticket_id"
    ).fetchall()
    conn.close()
    return dict(rows)


def start_run(db: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "FAULTFLOW_DB": str(db)}
    env.pop("FAULTFLOW_NOW", None)
    return subprocess.Popen(
        [FAULTFLOW, "run", "--max-sleep", "0.2"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_run_fires_on_time_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "run.db"
    due_soon(db, 20, first_in=2, spread=1)
    run = start_run(db)
    time.sleep(4)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=20)
    assert run.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert out.count("breach") == 20
    counts = breaches(db)
    assert len(counts) == 20 and set(counts.values()) == {1}
    conn = sqlite3.connect(db)
    late = [
        (rec - at) / 1e6
        for at, rec in conn.execute(
            "SELECT at_us, recorded_us FROM events WHERE trigger = 'breach'"
        )
    ]
    conn.close()
    assert max(late) < 1.0  # recorded within a second of its due time


def test_run_survives_a_database_outage_logging_it_once(
    db_path: Path, travel: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faultflow.run import timers

    engine = Engine.open(db=db_path)
    calls = {"n": 0}
    real_sweep = timers.sweep

    def flaky_sweep(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 7:  # an outage of seven sweeps
            raise DatabaseUnavailable("cannot connect to the database: connection refused")
        if calls["n"] >= 9:
            engine.stop()
        return real_sweep(*args, **kwargs)

    monkeypatch.setattr(timers, "sweep", flaky_sweep)
    waits: list[float] = []
    real_wait = engine._stop.wait

    def wait(timeout: float | None = None) -> bool:  # the sweeps' waits, not the delivery's
        if threading.current_thread() is not threading.main_thread():
            return real_wait(timeout)
        waits.append(timeout)  # type: ignore[arg-type]
        return False

    engine._stop.wait = wait  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="faultflow"):
        engine.run(max_sleep=0.5, handle_signals=False)
    assert waits[:7] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]  # backoff, capped at 5 s
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one line when the outage starts, one when it ends
    assert lines[0].startswith(
        "timers failed (cannot connect to the database: connection refused)"
    )
    assert "Traceback" not in caplog.text
    assert lines[1].startswith("timers works again after") and "7 failed attempts" in lines[1]


def test_stop_from_another_thread(db_path: Path) -> None:
    engine = Engine.open(db=db_path)
    runner = threading.Thread(
        target=engine.run, kwargs={"max_sleep": 0.05, "handle_signals": False}
    )
    runner.start()
    time.sleep(0.3)
    engine.stop()
    runner.join(timeout=5)
    assert not runner.is_alive()


@pytest.mark.skipif(sys.platform != "linux", reason="signals as on the servers")
def test_sigint_stops_run(tmp_path: Path) -> None:
    db = tmp_path / "int.db"
    Engine.open(db=db).close()
    run = start_run(db)
    assert run.stderr is not None
    # up: it says so just before it installs its signal handlers (however slow the start)
    assert "watching" in run.stderr.readline()
    time.sleep(0.5)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=20)
    assert run.returncode == 0 and "Traceback" not in err


def test_run_survives_an_unexpected_error(
    db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faultflow.run import timers

    engine = Engine.open(db=db_path)
    calls = {"n": 0}

    def broken_sweep(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= 2:
            engine.stop()
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(timers, "sweep", broken_sweep)
    real_wait = engine._stop.wait
    engine._stop.wait = lambda timeout=None: (  # type: ignore[method-assign]
        real_wait(timeout) if threading.current_thread() is not threading.main_thread() else False
    )
    with caplog.at_level("ERROR", logger="faultflow"):
        engine.run(max_sleep=0.5, handle_signals=False)
    assert calls["n"] == 2
    assert "timers failed unexpectedly" in caplog.text


def test_a_broken_database_file_is_a_database_error(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as engine:
        from conftest import new_ticket

        t = new_ticket(engine)
        with engine.store.unit() as u:
            u.cursor.execute("SELECT 1")
        engine.store._fairy.driver_connection.execute("PRAGMA query_only = 1")
        with pytest.raises(DatabaseError, match="database error: attempt to write a readonly"):
            engine.advance(t.id, "respond", actor="li")
