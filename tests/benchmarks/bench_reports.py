"""Benchmark: the compliance report over 1,000,000 clock records, and `verify`.

The database holds --tickets fibre-line tickets built with faultflow.bulk, two clocks each
(response and line repair): 1,000,000 clock records by default, one event each (their intake).
`verify` is measured on it, in one process and in --workers, and on a second database of
--lived tickets that went through a whole life (intake, respond, remote, resolve, report: five
events each), sealed with an audit key. Targets: the report in <= 5 s; verify >= 100,000
events/s. Raw floors, in the same run on the same file: plain sqlite3 running a GROUP BY over the
same join (counts only, no percentiles), and plain sqlite3 reading every event and hashing it
with sha256.

    python tests/benchmarks/bench_reports.py [--tickets 500000] [--lived 40000] [--workers 4]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import T0, build, machine


def raw_report(path: Path, now_us: int) -> float:
    conn = sqlite3.connect(path)
    began = time.perf_counter()
    conn.execute(
        "SELECT c.name, t.tier, count(*), "
        "sum(CASE WHEN coalesce(c.stopped_us, ?) - c.started_us - c.paused_us > c.limit_us "
        "THEN 1 ELSE 0 END) FROM clocks c JOIN tickets t ON t.id = c.ticket_id "
        "GROUP BY c.name, t.tier",
        (now_us,),
    ).fetchall()
    took = time.perf_counter() - began
    conn.close()
    return took


def raw_verify(path: Path) -> tuple[float, int]:
    conn = sqlite3.connect(path)
    began = time.perf_counter()
    n = 0
    for row in conn.execute("SELECT * FROM events ORDER BY ticket_id, seq"):
        hashlib.sha256(repr(row).encode()).hexdigest()
        n += 1
    took = time.perf_counter() - began
    conn.close()
    return took, n


KEY = "bench-audit-key-0123456789"


def build_lived(path: Path, tickets: int) -> None:
    """``tickets`` tickets through a whole life, each event sealed with ``KEY``."""
    from faultflow import Engine, IntakeRecord

    clock = [T0]
    engine = Engine.open(db=path, clock=lambda: clock[0], audit_key=KEY)
    for i in range(tickets):
        t = engine.open_ticket("hotline", IntakeRecord(title=f"fault {i}", tier="C"))
        for step in ("respond", "remote", "resolve", "report"):
            engine.advance(t.id, step, actor="li")
        clock[0] += timedelta(seconds=10)
    engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--lived", type=int, default=40_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ff-reports-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"reports-{args.tickets}.db"
    if not db.exists():
        print(f"building {args.tickets:,} line tickets (two clocks each) with faultflow.bulk")
        build(db, args.tickets, args.tickets // 10, kind="line")
    from faultflow import Engine
    from faultflow.timekeeping.times import to_us

    now = T0 + timedelta(days=2)
    engine = Engine.open(db=db, clock=lambda: now, create=False)
    clocks = engine.store.query(__import__("sqlalchemy").text("SELECT count(*) FROM clocks"))
    began = time.perf_counter()
    report = engine.report(T0 - timedelta(days=1), T0 + timedelta(days=1))
    report_s = time.perf_counter() - began
    raw_s = raw_report(db, to_us(now))
    began = time.perf_counter()
    result = engine.verify()
    verify_s = time.perf_counter() - began
    began = time.perf_counter()
    parallel = engine.verify(workers=args.workers)
    parallel_s = time.perf_counter() - began
    raw_verify_s, raw_events = raw_verify(db)
    engine.close()
    rate, raw_rate = result.events / verify_s, raw_events / raw_verify_s
    lived_db = folder / f"lived-{args.lived}.db"
    if not lived_db.exists():
        print(f"building {args.lived:,} tickets of five events each, sealed")
        build_lived(lived_db, args.lived)
    lived = Engine.open(db=lived_db, clock=lambda: now, create=False, audit_key=KEY)
    began = time.perf_counter()
    lived_result = lived.verify()
    lived_s = time.perf_counter() - began
    lived.close()
    raw_lived_s, raw_lived = raw_verify(lived_db)
    lived_rate, raw_lived_rate = lived_result.events / lived_s, raw_lived / raw_lived_s
    print(
        f"reports benchmark: {clocks[0][0]:,} clock records, {result.events:,} events; {machine()}"
    )
    print(
        f"  report : faultflow {report_s:.2f} s ({sum(x.total for x in report.lines):,} clocks,"
        f" {len(report.breaches):,} breaches listed); raw GROUP BY {raw_s:.2f} s; "
        f"ratio engine/raw {raw_s / report_s:.3f}"
    )
    print(
        f"  verify, one event a ticket: faultflow {rate:,.0f} events/s (ok={result.ok}); "
        f"in {args.workers} processes {parallel.events / parallel_s:,.0f} events/s "
        f"(ok={parallel.ok}); raw read+sha256 {raw_rate:,.0f} events/s; "
        f"ratio engine/raw {rate / raw_rate:.3f}"
    )
    print(
        f"  verify, five events a ticket, sealed: faultflow {lived_rate:,.0f} events/s "
        f"(ok={lived_result.ok}, {lived_result.sealed:,} sealed); raw read+sha256 "
        f"{raw_lived_rate:,.0f} events/s; ratio engine/raw {lived_rate / raw_lived_rate:.3f}"
    )
    all_ok = result.ok and parallel.ok and lived_result.ok
    print(
        "  targets (report <= 5 s, verify >= 100,000 events/s):",
        f"report {'met' if report_s <= 5 else 'NOT MET'}; verify one event a ticket "
        f"{'met' if rate >= 100_000 else 'NOT MET'}, five events a ticket "
        f"{'met' if lived_rate >= 100_000 else 'NOT MET'}"
        + ("" if all_ok else " (and a database did NOT verify)"),
    )
    if not args.keep:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
