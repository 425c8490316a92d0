"""Benchmark: one outage, many reports — merging, and the candidates offered at intake.

1. Merge. --children reports of one outage merged one by one into their parent
   (`Engine.merge`, each its own unit of work over both tickets: both loaded with their
   histories, the report's clocks stopped, the parent's rebuilt from the group's first
   report, both written with their version checks). Goal: 100 children in at most 200 ms.
   The raw floor, in the same run on a copy of the same database: plain sqlite3 writing what
   a merge writes — both ticket rows, two events, the report's clock rows — one transaction
   per report.
2. Candidates at intake. --open open tickets spread over --units units (opened with
   faultflow.bulk); a hotline call placed at a unit is taken in, interleaved in blocks, with
   the candidates asked for and with them switched off (the benchmark replaces the search by
   one that finds nothing). Goal: they add at most 100 µs to an intake. Beside it, the search
   alone against its raw floor: the same question asked of the same file with plain sqlite3
   through the same index.

    python tests/benchmarks/bench_merge.py [--children 100] [--open 100000] [--units 500]
        [--intakes 1000]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench_places import registry
from common import T0, machine


def merge(tmp: Path, children: int) -> None:
    from faultflow import Engine

    db = tmp / "merge.db"
    clock = [T0]
    engine = Engine.open(db=db, clock=lambda: clock[0])
    assert not engine.import_registry(registry(10), actor="bench").problems
    ids = []
    for i in range(children + 1):
        clock[0] = T0 + timedelta(seconds=i)
        t = engine.intake("hotline", {"title": f"断网 {i}", "tier": "A", "unit": "U00001"},
                          actor="desk")  # fmt: skip
        ids.append(t.id)
    engine.store.checkpoint()
    engine.close()
    shutil.copyfile(db, tmp / "floor.db")
    parent, reports = ids[-1], ids[:-1]  # the last report is the parent: its origin moves
    engine = Engine.open(db=db, clock=lambda: clock[0], create=False)
    clock[0] = T0 + timedelta(minutes=5)
    began = time.perf_counter()
    for tid in reports:
        engine.merge(tid, parent, actor="bench")
    took = time.perf_counter() - began
    group = engine.group(parent)
    assert len(group.reports) == children and engine.verify().ok
    engine.close()
    floor = merge_floor(tmp / "floor.db", parent, reports)
    print(f"1. merging {children} reports into one parent, one by one")
    print(f"  faultflow Engine.merge x {children}: {took * 1000:.0f} ms "
          f"({took / children * 1000:.2f} ms each)")  # fmt: skip
    print(f"  raw sqlite3, the same writes: {floor * 1000:.0f} ms")
    print(f"  ratio engine/raw: {floor / took:.3f}")
    print(f"  goal (<= 200 ms for 100): {'met' if took <= 0.2 * children / 100 else 'NOT MET'}")


def merge_floor(db: Path, parent: str, reports: list[str]) -> float:
    """What the merges write, with plain sqlite3: per report, both ticket rows (version,
    parent), an event on each, the report's clock stopped and the parent's moved."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    event = conn.execute("SELECT * FROM events WHERE ticket_id = ? AND seq = 1", (parent,))
    template = list(event.fetchone())
    marks = ", ".join("?" * len(template))
    seqs = {tid: 1 for tid in [parent, *reports]}
    began = time.perf_counter()
    for n, tid in enumerate(reports):
        conn.execute("BEGIN IMMEDIATE")
        for who in (tid, parent):
            conn.execute("SELECT * FROM tickets WHERE id = ?", (who,)).fetchone()
            conn.execute("SELECT * FROM events WHERE ticket_id = ?", (who,)).fetchall()
            seqs[who] += 1
            conn.execute(
                "UPDATE tickets SET parent = ?, version = version + 1, last_seq = ? WHERE id = ?",
                (parent, seqs[who], who),
            )
            row = [who, seqs[who], *template[2:]]
            conn.execute(f"INSERT INTO events VALUES ({marks})", row)
        conn.execute("UPDATE clocks SET stopped_us = ?, status = 'stopped' WHERE ticket_id = ?",
                     (n, tid))  # fmt: skip
        conn.execute("UPDATE clocks SET started_us = ? WHERE ticket_id = ?", (n, parent))
        conn.execute("COMMIT")
    took = time.perf_counter() - began
    conn.close()
    return took


def candidates(tmp: Path, open_: int, units: int, intakes: int, block: int = 100) -> None:
    from faultflow import Engine, IntakeRecord
    from faultflow.bulk import BulkTicket, load
    from faultflow.tickets import receive
    from faultflow.tickets.groups import candidates as search

    db = tmp / "open.db"
    clock = [T0]
    engine = Engine.open(db=db, clock=lambda: clock[0])
    assert not engine.import_registry(registry(units), actor="bench").problems
    engine.places.refresh()
    window = engine.contract.merge_window_us

    def made() -> Any:
        for i in range(open_):
            at = T0 - timedelta(seconds=open_ - i)  # all of them within the window
            record = IntakeRecord(title=f"fault {i}", tier="C", data={"unit": f"U{i % units:05d}"})
            yield BulkTicket("hotline", record, at)

    began = time.perf_counter()
    load(engine, made())
    print(f"2. candidates at intake: {open_:,} open tickets over {units} units "
          f"(built in {time.perf_counter() - began:.0f} s)")  # fmt: skip
    engine.store.checkpoint()
    # intake, interleaved: the candidates asked for, and switched off
    on, off = [], []
    found = 0
    nothing: Any = lambda *args: []  # noqa: E731
    n = 0
    while n < intakes:
        # each side first in every other round: whatever the first pays (a checkpoint) is shared
        for side in ("on", "off") if (n // block) % 2 == 0 else ("off", "on"):
            receive.candidates = search if side == "on" else nothing  # type: ignore[attr-defined]
            began = time.perf_counter()
            for i in range(n, n + block):
                call = {"summary": "断网", "tier": "C", "unit": f"单位{i % units}"}
                (r,) = engine.intake_all("hotline", call, actor="desk")
                found += bool(r.candidates)
            (on if side == "on" else off).append((time.perf_counter() - began) / block)
        n += block
    receive.candidates = search  # type: ignore[attr-defined]
    assert found >= intakes * 0.9, found  # the search found the unit's open tickets
    with_us, without_us = statistics.median(on) * 1e6, statistics.median(off) * 1e6
    # the search alone, and its raw floor
    with engine.store.unit() as u:
        records = [u.ticket(r[0]) for r in u.run(_ids(engine), {}).fetchall()]
    began = time.perf_counter()
    with engine.store.unit() as u:
        for record in records:
            search(u, record, window, engine.contract.timezone)
    alone = (time.perf_counter() - began) / len(records) * 1e6
    engine.close()
    conn = sqlite3.connect(db)
    began = time.perf_counter()
    for record in records:
        conn.execute(
            "SELECT id, parent, created_us, channel, title, state FROM tickets "
            "WHERE unit = ? AND created_us >= ? AND urgent_us IS NOT NULL "
            "ORDER BY created_us DESC LIMIT 6",
            (record.unit, record.created_us - window),
        ).fetchall()
    floor = (time.perf_counter() - began) / len(records) * 1e6
    conn.close()
    print(f"  intake with candidates: {with_us:.0f} µs; without: {without_us:.0f} µs; "
          f"they add {with_us - without_us:.0f} µs")  # fmt: skip
    print(f"  the search alone: {alone:.1f} µs; raw sqlite3, the same query: {floor:.1f} µs; "
          f"ratio engine/raw: {floor / alone:.3f}")  # fmt: skip
    print("  goal (<= 100 µs added):", "met" if with_us - without_us <= 100 else "NOT MET")


def _ids(engine: Any) -> Any:
    from faultflow.db.tables import TICKETS
    from sqlalchemy import select

    statement = select(TICKETS.c.id).where(TICKETS.c.unit.is_not(None)).limit(2000)
    return engine.store.compiled("bench-ids", lambda build, d: build(statement, d))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--intakes", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        merge(Path(tmp), args.children)
        candidates(Path(tmp), args.open, args.units, args.intakes)


if __name__ == "__main__":
    main()
