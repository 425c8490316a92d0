"""Benchmark: tickets through intake → respond → remote → resolve → report.

The engine is measured against the raw floor of the same database in the same run: the plain
driver doing the same writes (a ticket row, one event row per step, one transaction per step) on
the engine's own table definitions. On SQLite (the default): a file, WAL, synchronous=NORMAL,
plain ``sqlite3``. On PostgreSQL (``--pg URL``, a server the benchmark may create databases on):
plain ``psycopg``, a fresh database for each side. Prints both rates and the ratio engine/raw.

    python tests/benchmarks/bench_lifecycle.py [--tickets N] [--rounds R] [--pg URL]
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
from typing import Any
from zoneinfo import ZoneInfo

from faultflow import Engine

STEPS = ("respond", "remote", "resolve", "report")
# A plain datetime for the injected clock: the benchmark's own clock arithmetic must not be
# charged to the engine (pendulum's arithmetic costs ~15 µs a step).
START = datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _ddl(dialect_name: str = "sqlite") -> list[str]:
    """The engine's own CREATE statements for the tickets and events tables (indexes too)."""
    from faultflow.db.tables import EventRow, TicketRow
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = sqlite.dialect() if dialect_name == "sqlite" else postgresql.dialect()
    out = []
    for table in (TicketRow.__table__, EventRow.__table__):
        out.append(str(CreateTable(table).compile(dialect=dialect)))
        out += [str(CreateIndex(ix).compile(dialect=dialect)) for ix in table.indexes]
    return out


# The floor's statements, written once; `?` and FALSE become what each driver takes.
_OPEN_TICKET = (
    "INSERT INTO tickets (id, state, tier, kind, cause, channel, external_id, owner, title,"
    " description, reporter, contact, on_hold, hold_reason, version, created_us, last_seq,"
    " last_us, last_hash) VALUES (?, 'received', 'B', 'equipment', NULL, 'web', NULL, 'agent',"
    " 'bench', '', NULL, NULL, FALSE, NULL, 1, ?, 1, ?, ?)"
)
_INTAKE_EVENT = (
    "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, at_us, recorded_us,"
    " actor, note, reason, data, hash) VALUES (?, 1, 'intake', NULL, 'received', ?, ?, 'agent',"
    " 'bench', NULL, '{}', ?)"
)
_MOVE_TICKET = (
    "UPDATE tickets SET state = ?, version = ?, last_seq = ?, last_us = ?, last_hash = ?"
    " WHERE id = ? AND version = ?"
)
_STEP_EVENT = (
    "INSERT INTO events (ticket_id, seq, trigger, from_state, to_state, at_us, recorded_us,"
    " actor, note, reason, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?, 'agent', NULL, NULL, '{}', ?)"
)


def _walk(n: int, execute: Any, transaction: Any, driver: str) -> float:
    """Seconds for n lifecycles of the floor: ``execute(sql, params)`` inside
    ``transaction()``, one transaction per step."""
    sqlite = driver == "sqlite"
    open_ticket, intake_event, move_ticket, step_event = (
        sql.replace("FALSE", "0") if sqlite else sql.replace("?", "%s")
        for sql in (_OPEN_TICKET, _INTAKE_EVENT, _MOVE_TICKET, _STEP_EVENT)
    )
    digest = "0" * 64
    began = time.perf_counter()
    for i in range(n):
        tid = f"T{i:06d}"
        at = i * 1_000_000
        with transaction():
            execute(open_ticket, (tid, at, at, digest))
            execute(intake_event, (tid, at, at, digest))
        state = "received"
        for seq, step in enumerate(STEPS, start=2):
            with transaction():
                execute(move_ticket, (step, seq, seq, at + seq, digest, tid, seq - 1))
                execute(step_event, (tid, seq, step, state, step, at + seq, at + seq, digest))
            state = step
    return time.perf_counter() - began


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
    elapsed = _walk(n, conn.execute, lambda: conn, "sqlite")
    conn.close()
    return elapsed


def raw_floor_pg(url: str, n: int) -> float:
    """Seconds for n lifecycles written with plain psycopg on the engine's PostgreSQL DDL: the
    same rows as the SQLite floor, one transaction per step."""
    import psycopg

    with psycopg.connect(url) as conn:
        for statement in _ddl("postgresql"):
            conn.execute(statement)
        conn.commit()
        return _walk(n, conn.execute, conn.transaction, "postgresql")


class _PgDatabase:
    """A fresh database on the server of ``base`` for one side of one round, dropped after."""

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        self.url = base.rsplit("/", 1)[0] + f"/{name}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


OFFICE = Path(__file__).parents[2] / "docs" / "examples" / "office-hours.toml"


def engine_run(path: Path | str, n: int, config: Path | None = None) -> float:
    """Seconds for n lifecycles through the engine (library API), under ``config`` (default:
    the seed contract, 24x7)."""
    now = [START]
    engine = Engine.open(db=path, config=config, clock=lambda: now[0])
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
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="run on PostgreSQL: a server URL whose user may create databases "
        "(e.g. postgresql://faultflow:faultflow@127.0.0.1:5432/postgres)",
    )
    args = parser.parse_args(argv)
    ratios, raw_rates, engine_rates, working = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            if args.pg:
                with _PgDatabase(args.pg, f"ffbench_raw{r}") as url:
                    raw = raw_floor_pg(url, args.tickets)
                with _PgDatabase(args.pg, f"ffbench_engine{r}") as url:
                    eng = engine_run(url, args.tickets)
            else:
                raw = raw_floor(Path(tmp) / f"raw{r}.db", args.tickets)
                eng = engine_run(Path(tmp) / f"engine{r}.db", args.tickets)
                # the same lifecycles with every clock over a CN working-hours calendar
                cal = engine_run(Path(tmp) / f"office{r}.db", args.tickets, OFFICE)
                working.append(eng / cal)
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
        **(_working_time(working) if working else {}),
        "database": _server_version(args.pg) if args.pg else f"SQLite {sqlite3.sqlite_version}",
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"lifecycle benchmark: {args.tickets} tickets x {len(STEPS) + 1} transitions, "
            f"median of {args.rounds} rounds ({figures['database']}, "
            f"Python {platform.python_version()})"
        )
        raw_name = "raw psycopg " if args.pg else "raw sqlite3 "
        print(f"  {raw_name}: {figures['raw_transitions_per_s']:>8} transitions/s")
        print(f"  faultflow   : {figures['engine_transitions_per_s']:>8} transitions/s")
        print(f"  ratio engine/raw: {figures['ratio_engine_over_raw']:.3f}")
        if working:
            print(
                f"  the same over a CN 5x8 calendar (docs/examples/office-hours.toml): ratio "
                f"calendar/24x7 {figures['ratio_calendar_over_24x7']:.3f} (target >= 0.9)"
            )
            print(
                f"  one due time across National Day (8 working hours from Sep 30 17:00): "
                f"{figures['due_over_holidays_us']:.1f} µs a call (24x7: "
                f"{figures['due_24x7_us']:.2f} µs)"
            )
    return 0


def _working_time(ratios: list[float]) -> dict[str, float]:
    """The calendar run's ratio, and the per-call cost of one due time spanning a week of
    holidays (the days' working ranges are computed once per process, as in the engine)."""
    from faultflow.contract.compile import load_contract
    from faultflow.timekeeping.calendars import ALWAYS

    office = load_contract(OFFICE).calendars["office"]
    start = int(datetime(2026, 9, 30, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    start *= 1_000_000
    eight = 8 * 3600 * 1_000_000
    calls = 20_000

    def per_call(timeline: Any) -> float:
        timeline.add(start, eight)
        began = time.perf_counter()
        for _ in range(calls):
            timeline.add(start, eight)
        return (time.perf_counter() - began) / calls * 1e6

    return {
        "ratio_calendar_over_24x7": round(statistics.median(ratios), 3),
        "due_over_holidays_us": round(per_call(office), 2),
        "due_24x7_us": round(per_call(ALWAYS), 3),
    }


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


if __name__ == "__main__":
    sys.exit(main())
