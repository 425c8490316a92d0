"""Benchmark: tickets through intake → respond → remote → resolve → report on an SQLite file.

The engine is measured against the raw floor of the same database in the same run: plain
``sqlite3`` doing the same writes (a ticket row, one event row per step, one transaction per step,
WAL, synchronous=NORMAL). Prints both rates and the ratio engine/raw.

    python tests/benchmarks/bench_lifecycle.py [--tickets N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from faultflow import Engine

STEPS = ("respond", "remote", "resolve", "report")
# A plain datetime for the injected clock: the benchmark's own clock arithmetic must not be
# charged to the engine (pendulum's arithmetic costs ~15 µs a step).
START = datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _ddl() -> list[str]:
    """The engine's own CREATE statements for the tickets and events tables (indexes too)."""
    from faultflow.tables import EventRow, TicketRow
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect()
    out = []
    for table in (TicketRow.__table__, EventRow.__table__):
        out.append(str(CreateTable(table).compile(dialect=dialect)))
        out += [str(CreateIndex(ix).compile(dialect=dialect)) for ix in table.indexes]
    return out


def raw_floor(path: Path, n: int) -> float:
    """Seconds for n lifecycles written with plain sqlite3: the same ticket row and event rows
    as the engine writes (same tables, same indexes, a 64-hex-digit hash per event), one
    transaction per step — but none of the engine's reads, rules, clocks or timers."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in _ddl():
        conn.execute(statement)
    conn.commit()
    digest = "0" * 64
    began = time.perf_counter()
    for i in range(n):
        tid = f"T{i:06d}"
        at = i * 1_000_000
        with conn:
            conn.execute(
                "INSERT INTO tickets (id, state, tier, kind, cause, channel, external_id, owner,"
                " title, description, reporter, contact, on_hold, hold_reason, version,"
                " created_us, last_seq, last_us, last_hash) VALUES (?, 'received', 'B',"
                " 'equipment', NULL, 'web', NULL, 'agent', 'bench', '', NULL, NULL, 0, NULL, 1,"
                " ?, 1, ?, ?)",
                (tid, at, at, digest),
            )
            conn.execute(
                "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, at_us,"
                " recorded_us, actor, note, reason, data, hash) VALUES (?, 1, 'intake', NULL,"
                " 'received', ?, ?, 'agent', 'bench', NULL, '{}', ?)",
                (tid, at, at, digest),
            )
        state = "received"
        for seq, step in enumerate(STEPS, start=2):
            with conn:
                conn.execute(
                    "UPDATE tickets SET state = ?, version = ?, last_seq = ?, last_us = ?,"
                    " last_hash = ? WHERE id = ? AND version = ?",
                    (step, seq, seq, at + seq, digest, tid, seq - 1),
                )
                conn.execute(
                    "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, at_us,"
                    " recorded_us, actor, note, reason, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?,"
                    " 'agent', NULL, NULL, '{}', ?)",
                    (tid, seq, step, state, step, at + seq, at + seq, digest),
                )
            state = step
    elapsed = time.perf_counter() - began
    conn.close()
    return elapsed


def engine_run(path: Path, n: int) -> float:
    """Seconds for n lifecycles through the engine (library API)."""
    now = [START]
    engine = Engine.open(db=path, clock=lambda: now[0])
    engine.intake("web", {"title": "warm-up", "tier": "B"}, actor="agent")
    began = time.perf_counter()
    for _ in range(n):
        t = engine.intake("web", {"title": "bench", "tier": "B"}, actor="agent")
        for step in STEPS:
            now[0] = now[0] + timedelta(seconds=1)
            engine.advance(t.id, step, actor="agent")
    elapsed = time.perf_counter() - began
    engine.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    ratios, raw_rates, engine_rates = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            raw = raw_floor(Path(tmp) / f"raw{r}.db", args.tickets)
            eng = engine_run(Path(tmp) / f"engine{r}.db", args.tickets)
            transitions = args.tickets * (len(STEPS) + 1)
            raw_rates.append(transitions / raw)
            engine_rates.append(transitions / eng)
            ratios.append(raw / eng)
    figures = {
        "tickets": args.tickets,
        "rounds": args.rounds,
        "raw_transitions_per_s": round(statistics.median(raw_rates)),
        "engine_transitions_per_s": round(statistics.median(engine_rates)),
        "ratio_engine_over_raw": round(statistics.median(ratios), 3),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"lifecycle benchmark: {args.tickets} tickets x {len(STEPS) + 1} transitions, "
            f"median of {args.rounds} rounds (SQLite {sqlite3.sqlite_version}, "
            f"Python {platform.python_version()})"
        )
        print(f"  raw sqlite3 : {figures['raw_transitions_per_s']:>8} transitions/s")
        print(f"  faultflow   : {figures['engine_transitions_per_s']:>8} transitions/s")
        print(f"  ratio engine/raw: {figures['ratio_engine_over_raw']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
