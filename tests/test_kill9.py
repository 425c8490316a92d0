"""Fault injection, kept as a test: writers and schedulers killed with SIGKILL again and again,
on SQLite and PostgreSQL. Nothing committed is lost, no alarm fires twice, the audit chain and
the replay hold."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from faultflow import Engine

# Not in the default run (they take as long as the rest of the suite): `.ci/run` runs them,
# and so does `pytest -m fault_injection`.
pytestmark = pytest.mark.fault_injection

WRITER = r"""
import json, sys, time
from datetime import datetime, timedelta
from faultflow import Engine, FaultflowError
engine = Engine.open(db=sys.argv[1], create=False)
print("ready", flush=True)
n = 0
while True:
    # a tier-A ticket reported 15 min 1 s ago: its response breach is due at once, and the
    # schedulers and this writer's own next change race to record it
    reported = (datetime.now().astimezone() - timedelta(minutes=15, seconds=1)).isoformat()
    try:
        t = engine.intake("hotline", {"title": f"w{n}", "tier": "A", "occurred_at": reported},
                          actor="writer")
        print(json.dumps([t.id, 1]), flush=True)
        if n % 2:
            t = engine.advance(t.id, "respond", actor="writer")
            print(json.dumps([t.id, t.version]), flush=True)
    except FaultflowError as err:
        print(json.dumps(["refused", str(err)]), flush=True)
    n += 1
    time.sleep(0.05)
"""

SCHEDULER = r"""
import sys
from faultflow import Engine
engine = Engine.open(db=sys.argv[1], create=False)
print("ready", flush=True)
engine.run(max_sleep=0.05)
"""


def _kill_loop(db: str, rounds: int, seed: int) -> list[tuple[str, int]]:
    """Start two writers and two schedulers; every 0.1-0.25 s SIGKILL one of them at random and
    start it again; then stop them all. What the writers said they committed."""
    rng = random.Random(seed)
    scripts = [WRITER, WRITER, SCHEDULER, SCHEDULER]

    def start(script: str) -> subprocess.Popen[str]:
        """A process, once it is up and has the database open (however loaded the machine)."""
        proc = subprocess.Popen(
            [sys.executable, "-c", script, db],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        return proc

    procs = [start(s) for s in scripts]
    done: list[subprocess.Popen[str]] = []
    for _ in range(rounds):
        time.sleep(rng.uniform(0.1, 0.25))
        i = rng.randrange(len(procs))
        procs[i].send_signal(signal.SIGKILL)
        procs[i].wait()
        done.append(procs[i])
        procs[i] = start(scripts[i])
    time.sleep(0.3)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    committed = []
    for p in done + procs:
        assert p.stdout is not None
        for line in p.stdout.read().splitlines():
            entry = json.loads(line)
            if entry[0] != "refused":
                committed.append((entry[0], int(entry[1])))
        p.stdout.close()
    return committed


def _check(url: str, committed: list[tuple[str, int]]) -> None:
    with Engine.open(db=url, create=False) as engine:
        assert committed, "the writers committed nothing: the test proved nothing"
        # A scheduler started after the last kill picks up whatever the killed ones left due.
        engine.tick()
        for tid, version in committed:  # nothing a writer saw committed is lost
            assert engine.get(tid).version >= version
        breaches: Counter[tuple[str, str]] = Counter()
        for t in engine.list():
            for e in engine.get(t.id).history:
                if e.trigger == "breach":
                    breaches[(t.id, e.data["clock"])] += 1
        assert breaches, "no alarm fell due: the test proved nothing about the schedulers"
        assert max(breaches.values()) == 1  # every alarm fired once
        result = engine.verify()
        assert result.ok, result.broken[:3]


def test_kill_9_again_and_again_on_sqlite(tmp_path: Path) -> None:
    db = str(tmp_path / "ff.db")
    Engine.open(db=db).close()
    _check(db, _kill_loop(db, rounds=12, seed=1))


@pytest.mark.postgres
def test_kill_9_again_and_again_on_postgres(pg_url: str) -> None:
    Engine.open(db=pg_url).close()
    _check(pg_url, _kill_loop(pg_url, rounds=12, seed=2))
