"""Several processes on one database: every alarm fires once, one operator wins a race."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import START, new_ticket
from faultflow import Engine

WORKER = r"""
import json, sys, time
from datetime import datetime
from faultflow import Engine, FaultflowError, ConcurrentUpdate
db, now, go, job = sys.argv[1], datetime.fromisoformat(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
engine = Engine.open(db=db, clock=lambda: now, create=False)
while time.time() < go:
    time.sleep(0.001)
if job == "tick":
    print(json.dumps([[f.ticket, f.clock, f.event] for f in engine.tick(batch=50)]))
else:
    try:
        engine.advance(job, "respond", actor="op")
        print(json.dumps("won"))
    except ConcurrentUpdate as err:
        print(json.dumps("conflict"))
    except FaultflowError as err:
        print(json.dumps(type(err).__name__))
"""


def spawn(db: Path, now: Any, jobs: list[str]) -> list[Any]:
    go = time.time() + 1.5  # all start together, once every interpreter is up
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), now.isoformat(), str(go), job],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in jobs
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout))
    return out


def test_several_tickers_fire_every_alarm_exactly_once(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as engine:
        ids = {new_ticket(engine, "A").id for _ in range(300)}
    results = spawn(db_path, START.add(minutes=16), ["tick"] * 4)
    fired = [tuple(f) for r in results for f in r]
    assert sorted(fired) == sorted((tid, "response", "breach") for tid in ids)
    assert sum(1 for r in results if r) >= 1
    conn = sqlite3.connect(db_path)
    counts = conn.execute(
        "SELECT ticket_id, count(*) FROM events WHERE trigger = 'breach' GROUP BY ticket_id"
    ).fetchall()
    conn.close()
    assert {tid for tid, _ in counts} == ids and {n for _, n in counts} == {1}


def test_racing_operators_one_wins_the_others_conflict(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as engine:
        tickets = [new_ticket(engine, "B").id for _ in range(3)]
    for tid in tickets:
        results = spawn(db_path, START.add(minutes=1), [tid] * 4)
        assert results.count("won") == 1, results
        # the others lost the race: a conflict, or (if they read after the winner committed)
        # a refusal because the ticket has moved on; never a second respond
        assert set(results) <= {"won", "conflict", "IllegalTransition"}
        with Engine.open(db=db_path) as engine:
            history = engine.get(tid).history
        assert [e.trigger for e in history] == ["intake", "respond"]
        assert [e.seq for e in history] == [1, 2]
