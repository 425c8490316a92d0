"""Several processes on one database: every alarm fires once, one operator wins a race."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from conftest import START, new_ticket, race
from faultflow import Engine

WORKER = r"""
from faultflow import ConcurrentUpdate, FaultflowError
if args == ["tick"]:
    print(json.dumps([[f.ticket, f.clock, f.event] for f in engine.tick(batch=50)]))
else:
    outcomes = []
    for tid in args:  # respond to each ticket, racing the others
        try:
            engine.advance(tid, "respond", actor="op")
            outcomes.append("won")
        except ConcurrentUpdate:
            outcomes.append("conflict")
        except FaultflowError as err:
            outcomes.append(type(err).__name__)
    print(json.dumps(outcomes))
"""


def spawn(db: Path, now: Any, jobs: list[list[str]]) -> list[Any]:
    return race(db, now, WORKER, jobs)


def test_several_tickers_fire_every_alarm_exactly_once(db_path: Path, travel: Any) -> None:
    with Engine.open(db=db_path) as engine:
        ids = {new_ticket(engine, "A").id for _ in range(300)}
    results = spawn(db_path, START.add(minutes=16), [["tick"]] * 4)
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
    racers = spawn(db_path, START.add(minutes=1), [tickets] * 4)
    for i, tid in enumerate(tickets):
        results = [outcomes[i] for outcomes in racers]
        assert results.count("won") == 1, results
        # the others lost the race: a conflict, or (if they read after the winner committed)
        # a refusal because the ticket has moved on; never a second respond
        assert set(results) <= {"won", "conflict", "IllegalTransition"}
        with Engine.open(db=db_path) as engine:
            history = engine.get(tid).history
        assert [e.trigger for e in history] == ["intake", "respond"]
        assert [e.seq for e in history] == [1, 2]
