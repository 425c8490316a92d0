"""Benchmark: the monthly service report over a month of --tickets tickets.

The database holds --tickets tickets reported through March 2026 (opened with faultflow.bulk,
spread evenly over the month and over --units units of a registry, one in a hundred of the
tier that stops a unit's business), each with its clocks. Measured: `Engine.monthly_report`
as HTML (goal: <= 5 s for 100,000 tickets), as JSON, and as PDF (WeasyPrint; printed, no
goal). The raw floor, in the same run on the same file: plain sqlite3 running the report's
heaviest question — the month's clocks by promise and tier, with how many were broken — and
counting the month's tickets by tier.

    python tests/benchmarks/bench_monthly.py [--tickets 100000] [--units 200]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench_places import registry
from common import ZONE, machine

MONTH = datetime(2026, 3, 1, tzinfo=ZONE)
AFTER = datetime(2026, 4, 1, 9, 0, tzinfo=ZONE)


def build(path: Path, tickets: int, units: int) -> None:
    from faultflow import Engine, IntakeRecord
    from faultflow.bulk import BulkTicket, load

    engine = Engine.open(db=path, clock=lambda: MONTH)
    assert not engine.import_registry(registry(units), actor="bench").problems
    engine.places.refresh()
    step = timedelta(days=31) / tickets

    def made() -> Any:
        for i in range(tickets):
            tier = "A" if i % 100 == 0 else ("B" if i % 3 == 0 else "C")
            record = IntakeRecord(title=f"fault {i}", tier=tier,
                                  data={"unit": f"U{i % units:05d}"})  # fmt: skip
            yield BulkTicket("hotline", record, MONTH + step * i)

    load(engine, made(), chunk=20_000)
    engine.close()


def floor(path: Path, now_us: int) -> float:
    start_us = int(MONTH.timestamp() * 1_000_000)
    end_us = int(datetime(2026, 4, 1, tzinfo=ZONE).timestamp() * 1_000_000)
    conn = sqlite3.connect(path)
    began = time.perf_counter()
    conn.execute(
        "SELECT c.name, t.tier, count(*), "
        "sum(CASE WHEN coalesce(c.stopped_us, ?) - c.started_us - c.paused_us > c.limit_us "
        "THEN 1 ELSE 0 END) FROM clocks c JOIN tickets t ON t.id = c.ticket_id "
        "WHERE c.started_us >= ? AND c.started_us < ? GROUP BY c.name, t.tier",
        (now_us, start_us, end_us),
    ).fetchall()
    conn.execute(
        "SELECT tier, count(*) FROM tickets WHERE created_us >= ? AND created_us < ? GROUP BY tier",
        (start_us, end_us),
    ).fetchall()
    took = time.perf_counter() - began
    conn.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=200)
    args = parser.parse_args()
    print(machine())
    from faultflow import Engine

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "month.db"
        began = time.perf_counter()
        build(db, args.tickets, args.units)
        print(
            f"built {args.tickets:,} tickets of March 2026 in {time.perf_counter() - began:.0f} s"
        )
        engine = Engine.open(db=db, clock=lambda: AFTER, create=False)
        timings = {}
        for fmt in ("html", "json", "pdf"):
            began = time.perf_counter()
            made = engine.monthly_report("2026-03", fmt=fmt)
            timings[fmt] = (time.perf_counter() - began, len(made))
        engine.close()
        raw = floor(db, int(AFTER.timestamp() * 1_000_000))
    html_s = timings["html"][0]
    print(f"the monthly report of {args.tickets:,} tickets:")
    for fmt, (took, size) in timings.items():
        print(f"  {fmt:<4}  {took:6.2f} s  ({size / 1024:,.0f} KB)")
    print(f"  raw sqlite3, the month's clocks by promise and tier and its tickets by tier: "
          f"{raw:.2f} s")  # fmt: skip
    print(f"  ratio engine/raw (HTML): {raw / html_s:.3f}")
    print("  goal (HTML <= 5 s for 100,000 tickets):", "met" if html_s <= 5.0 else "NOT MET")


if __name__ == "__main__":
    main()
