"""Benchmark: the timer sweep (`tick`) on a database of many open tickets.

1,000,000 open tickets of which 1,000 have a breach due: `tick` fires them (target <= 2 s);
an idle tick with nothing due (target <= 10 ms, whatever the number of open tickets); the
tick process's peak memory (target < 200 MB). The raw floor, in the same run on a copy of the
same database: plain sqlite3 finding the same due rows through the same index and writing, per
timer, one transaction (clock row, event row, ticket row).

Then escalation: the 1,000 breached tickets each have a step of their chain due; `tick` with
the seed roster resolves who is on duty for each and fires them (target <= 2 s), against plain
sqlite3 writing the same rows (chain row, event row, ticket row). And the roster itself: who
holds a role, with --overrides overrides recorded, per lookup, against a dict lookup.

    python tests/benchmarks/bench_sweep.py [--tickets 1000000] [--due 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import T0, build, machine

TICK = r"""
import json, resource, sys, time
from datetime import datetime
from faultflow import Engine
db = sys.argv[1]
idle_at, due_at = datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
engine = Engine.open(db=db, clock=lambda: due_at, create=False)
engine.tick(now=idle_at)  # warm the connection and the statement cache
idle = []
for _ in range(20):
    began = time.perf_counter()
    fired = engine.tick(now=idle_at)
    idle.append(time.perf_counter() - began)
    assert fired == []
began = time.perf_counter()
fired = engine.tick(now=due_at, deliver=False)  # as `run` sweeps: delivery has its own thread
sweep = time.perf_counter() - began
began = time.perf_counter()
sent = engine.deliver(now=due_at, budget_s=600)
deliver = time.perf_counter() - began
print(json.dumps({"fired": len(fired), "sweep_s": sweep, "idle_ms": sorted(idle)[10] * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "delivered": len(sent), "deliver_s": deliver}))
"""


PAGES = r"""
import json, sys, time
from datetime import datetime
from faultflow import Engine
db, people, due_at = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
engine = Engine.open(db=db, clock=lambda: due_at, create=False, people=people)
began = time.perf_counter()
engine.tick(now=due_at, deliver=False)  # nothing but the pages is due (the breaches fired)
first = time.perf_counter() - began
print(json.dumps({"first_s": first}))
"""


def start_chains(path: Path, due: int, now_us: int) -> None:
    """A chain of pages due now on each of the ``due`` breached tickets."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "INSERT INTO escalations (ticket_id, chain, step, round, status, started_us, next_us) "
        "SELECT ticket_id, 'A', 0, 1, 'running', ?, ? FROM clocks WHERE breach_fired = 1 "
        "LIMIT ?",
        (now_us, now_us, due),
    )
    conn.close()


def pages_raw(path: Path, now_us: int) -> tuple[float, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    began = time.perf_counter()
    rows = 0
    due = conn.execute(
        "SELECT ticket_id FROM escalations WHERE next_us <= ? ORDER BY next_us", (now_us,)
    ).fetchall()
    for (ticket_id,) in due:
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE escalations SET step = 1, next_us = ? WHERE ticket_id = ?",
            (now_us + 300_000_000, ticket_id),
        )
        seq = conn.execute("SELECT last_seq FROM tickets WHERE id = ?", (ticket_id,)).fetchone()[0]
        conn.execute(
            "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, at_us, "
            "recorded_us, actor, note, reason, data, hash) VALUES (?, ?, 'page', 'received', "
            "'received', ?, ?, 'faultflow', 'raw', NULL, '{}', 'x')",
            (ticket_id, seq + 1, now_us, now_us),
        )
        conn.execute(
            "UPDATE tickets SET version = version + 1, last_seq = ? WHERE id = ?",
            (seq + 1, ticket_id),
        )
        conn.execute("COMMIT")
        rows += 1
    took = time.perf_counter() - began
    conn.close()
    return took, rows


def roster_lookups(overrides: int) -> tuple[float, float]:
    """(µs per `on_duty` with ``overrides`` overrides, µs per dict lookup)."""
    from datetime import UTC, datetime

    from faultflow.contract.compile import load_contract
    from faultflow.duty.people import Override, load, seed_people_path
    from faultflow.timekeeping.times import to_us

    people = load(seed_people_path(), load_contract())
    hour = 3_600_000_000
    base = to_us(datetime(2026, 1, 1, tzinfo=UTC))
    roster = people.with_overrides(
        [
            Override(
                i, "duty-engineer", "wang", base + i * 2 * hour, base + (i * 2 + 1) * hour, "r", "a"
            )
            for i in range(overrides)
        ]
    )
    moments = [datetime.fromtimestamp((base + i * 7_777_777_777) / 1e6, UTC) for i in range(2000)]
    began = time.perf_counter()
    for at in moments:
        roster.on_duty("duty-engineer", at)
    per = (time.perf_counter() - began) / len(moments) * 1e6
    table = {i: i for i in range(overrides)}
    keys = list(range(2000))
    began = time.perf_counter()
    for k in keys:
        table.get(k)
    floor = (time.perf_counter() - began) / len(keys) * 1e6
    return per, floor


def raw_floor(path: Path, now_us: int) -> tuple[float, float, int]:
    """(idle seconds, sweep seconds, rows) for plain sqlite3 doing the same writes."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    idle_at = now_us - 50 * 60 * 1_000_000
    began = time.perf_counter()
    conn.execute(
        "SELECT ticket_id FROM clocks WHERE next_us <= ? ORDER BY next_us LIMIT 500", (idle_at,)
    ).fetchall()
    idle = time.perf_counter() - began
    began = time.perf_counter()
    rows = 0
    while True:
        due = conn.execute(
            "SELECT ticket_id, name, next_us FROM clocks WHERE next_us <= ? "
            "ORDER BY next_us LIMIT 500",
            (now_us,),
        ).fetchall()
        if not due:
            break
        for ticket_id, name, next_us in due:
            conn.execute("BEGIN")
            conn.execute(
                "UPDATE clocks SET next_us = NULL, breach_fired = 1, breached = 1 "
                "WHERE ticket_id = ? AND name = ?",
                (ticket_id, name),
            )
            conn.execute(
                "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, "
                "at_us, recorded_us, actor, note, reason, data, hash) VALUES (?, 2, "
                "'breach', 'received', 'received', ?, ?, 'faultflow', 'raw', NULL, '{}',"
                " 'x')",
                (ticket_id, next_us, now_us),
            )
            conn.execute(
                "UPDATE tickets SET version = version + 1, last_seq = 2 WHERE id = ?", (ticket_id,)
            )
            conn.execute("COMMIT")
            rows += 1
    sweep = time.perf_counter() - began
    conn.close()
    return idle, sweep, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in this folder")
    parser.add_argument("--overrides", type=int, default=10_000)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ff-sweep-"))
    folder.mkdir(parents=True, exist_ok=True)
    master = folder / f"sweep-{args.tickets}-{args.due}.db"
    if not master.exists():
        print(f"building {args.tickets:,} open tickets ({args.due:,} due) with faultflow.bulk")
        began = time.perf_counter()
        build(master, args.tickets, args.due)
        print(f"  built in {time.perf_counter() - began:.0f} s")
    engine_db, raw_db = folder / "engine.db", folder / "raw.db"
    for target in (engine_db, raw_db):
        shutil.copyfile(master, target)
    idle_at = (T0 - timedelta(minutes=50)).isoformat()
    done = subprocess.run(
        [sys.executable, "-c", TICK, str(engine_db), idle_at, T0.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    eng = json.loads(done.stdout)
    from faultflow.timekeeping.times import to_us

    raw_idle, raw_sweep, raw_rows = raw_floor(raw_db, to_us(T0))
    print(f"sweep benchmark: {args.tickets:,} open tickets, {args.due:,} due; {machine()}")
    print(
        f"  faultflow tick : fired {eng['fired']:,} in {eng['sweep_s']:.3f} s; idle tick "
        f"{eng['idle_ms']:.2f} ms; peak RSS {eng['rss_mb']:.0f} MB; then delivered their "
        f"{eng['delivered']:,} notifications (the log notifier) in {eng['deliver_s']:.2f} s"
    )
    print(
        f"  raw sqlite3    : {raw_rows:,} in {raw_sweep:.3f} s; idle query {raw_idle * 1000:.2f} ms"
    )
    print(f"  ratio engine/raw (sweep): {raw_sweep / eng['sweep_s']:.3f}")
    from faultflow.duty.people import seed_people_path

    start_chains(engine_db, args.due, to_us(T0))
    start_chains(raw_db, args.due, to_us(T0))
    paged = subprocess.run(
        [sys.executable, "-c", PAGES, str(engine_db), str(seed_people_path()), T0.isoformat()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    pages_s = json.loads(paged.stdout)["first_s"]
    raw_pages_s, raw_pages = pages_raw(raw_db, to_us(T0))
    print(
        f"  escalation: {raw_pages:,} steps due resolved and fired in {pages_s:.3f} s; raw "
        f"sqlite3 {raw_pages_s:.3f} s; ratio engine/raw {raw_pages_s / pages_s:.3f} "
        f"(target <= 2 s: {'met' if pages_s <= 2 else 'NOT MET'})"
    )
    per, floor = roster_lookups(args.overrides)
    print(
        f"  roster: who holds a role, {args.overrides:,} overrides recorded: {per:.1f} µs a "
        f"lookup; a dict lookup {floor:.2f} µs"
    )
    if not args.keep:
        shutil.rmtree(folder)
    ok = (
        eng["fired"] == args.due
        and eng["sweep_s"] <= 2
        and eng["idle_ms"] <= 10
        and eng["rss_mb"] < 200
    )
    print("  targets (<= 2 s, <= 10 ms, < 200 MB):", "met" if ok else "NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
