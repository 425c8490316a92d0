"""Benchmark: how soon after its due time `faultflow run` records a breach.

Opens --timers tickets whose response breaches fall due one after another over the next
--spread seconds, starts `faultflow run` (a real subprocess, the real clock), waits until all
are due, stops it with SIGTERM and reads the recorded breach events: latency = recorded_at - due.
Target: p99 <= 1 s over >= 200 timers. The raw floor, in the same run on a copy of the same
database: a plain sqlite3 loop that sleeps until the earliest due time (from the same index) and
writes the breach rows.

With ``--black-hole``, the contract also sends every breach to a webhook that accepts the
connection and never answers (a receiver gone wrong): breaches must be recorded as promptly.

    python tests/benchmarks/bench_latency.py [--timers 240] [--spread 20] [--black-hole]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from common import ZONE, machine

RAW = r"""
import sqlite3, sys, time
db, until = sys.argv[1], float(sys.argv[2])
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("CREATE TABLE IF NOT EXISTS raw_fired (ticket_id TEXT, due_us INTEGER, "
             "recorded_us INTEGER)")
while time.time() < until:
    nxt = conn.execute("SELECT min(next_us) FROM clocks WHERE next_kind = 'breach'").fetchone()[0]
    if nxt is None:
        break
    wait = nxt / 1e6 - time.time()
    if wait > 0:
        time.sleep(min(wait, 1.0))
        continue
    now = int(time.time() * 1e6)
    conn.execute("BEGIN")
    for tid, due in conn.execute("SELECT ticket_id, next_us FROM clocks WHERE next_us <= ? "
                                 "AND next_kind = 'breach'", (now,)).fetchall():
        conn.execute("INSERT INTO raw_fired VALUES (?, ?, ?)", (tid, due - 1, now))
        conn.execute("UPDATE clocks SET next_us = NULL WHERE ticket_id = ? AND name = "
                     "'response'", (tid,))
    conn.execute("COMMIT")
"""


def prepare(db: Path, timers: int, spread: float, config: Path | None = None) -> float:
    """Tickets whose response breach falls due over the next ``spread`` s; returns the last due."""
    from faultflow import Engine

    start = time.time() + 8  # time to start the scheduler
    with Engine.open(db=db, config=config) as engine:
        for i in range(timers):
            due = start + spread * i / timers
            reported = datetime.fromtimestamp(due, ZONE) - timedelta(minutes=15)
            engine.intake(
                "hotline",
                {"title": f"t{i}", "tier": "A", "occurred_at": reported.isoformat()},
                actor="bench",
            )
        engine.tick()  # the warnings (all already past) fire now, not during the measurement
    return start + spread


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=240)
    parser.add_argument("--spread", type=float, default=20.0)
    parser.add_argument(
        "--black-hole",
        action="store_true",
        help="also send every breach to a webhook that never answers",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ff-latency-"))
    db = folder / "run.db"
    config = hole = None
    if args.black_hole:
        hole = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
        config = folder / "states.toml"
        from faultflow.contract.compile import default_contract_path

        config.write_text(
            default_contract_path().read_text(encoding="utf-8")
            + '\n[notifiers.black-hole]\nuse = "webhook"\nevents = ["breach", "escalation"]\n'
            + f'url = "http://127.0.0.1:{hole.getsockname()[1]}/hook"\ntimeout = 5\n',
            encoding="utf-8",
        )
    last = prepare(db, args.timers, args.spread, config)
    raw_db = folder / "raw.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(db, raw_db)
    beside = Path(sys.executable).parent / "faultflow"
    command = str(beside) if beside.exists() else "faultflow"
    env = {**os.environ, "FAULTFLOW_DB": str(db)}
    if config is not None:
        env["FAULTFLOW_CONFIG"] = str(config)
    env.pop("FAULTFLOW_NOW", None)
    run = subprocess.Popen(
        [command, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    raw = subprocess.Popen([sys.executable, "-c", RAW, str(raw_db), str(last + 3)])
    time.sleep(max(0.0, last - time.time()) + 3)
    run.send_signal(signal.SIGTERM)
    stopped = run.wait(timeout=30)
    raw.wait(timeout=30)
    conn = sqlite3.connect(db)
    lat = [
        (rec - at) / 1e6
        for at, rec in conn.execute(
            "SELECT at_us, recorded_us FROM events WHERE trigger = 'breach'"
        )
    ]
    conn.close()
    conn = sqlite3.connect(raw_db)
    raw_lat = [
        (rec - due) / 1e6 for due, rec in conn.execute("SELECT due_us, recorded_us FROM raw_fired")
    ]
    conn.close()
    shutil.rmtree(folder)
    if hole is not None:
        hole.close()
    p99, raw_p99 = percentile(lat, 0.99), percentile(raw_lat, 0.99)
    print(
        f"latency benchmark: {len(lat)} breaches of {args.timers} timers over {args.spread} s"
        f"{', every one also sent to a webhook that never answers' if hole else ''}; "
        f"{machine()}"
    )
    print(
        f"  faultflow run : p50 {statistics.median(lat) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms,"
        f" max {max(lat) * 1000:.1f} ms (stopped by SIGTERM, exit {stopped})"
    )
    print(
        f"  raw sqlite3   : p50 {statistics.median(raw_lat) * 1000:.1f} ms, p99 "
        f"{raw_p99 * 1000:.1f} ms"
    )
    print(f"  ratio engine/raw (p99): {raw_p99 / p99:.3f}")
    print(
        "  target (p99 <= 1 s over >= 200 timers):",
        "met" if p99 <= 1 and len(lat) >= 200 and len(lat) == args.timers else "NOT MET",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
