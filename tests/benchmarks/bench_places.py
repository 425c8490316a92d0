"""Benchmark: where tickets are — finding a fault's unit at intake, and `faultflow status`.

On a registry of --units units (a contact number, a site and a named device each):

1. Intake. The same hotline call (a caller's number among a unit's contacts) taken in, in one
   run and interleaved in blocks, by an engine over that registry and by one without any
   registry: the difference per intake is what finding the unit costs (goal: at most 50 µs).
   Beside it, the lookup alone (the engine's directory, in memory) against its raw floor: the
   same question asked of the same database with plain sqlite3 through an index.
2. Status. --tickets tickets spread over the units (--open of them open, --down of those of
   a tier that stops a unit's business): `Engine.status()` against the raw floor, the same
   rows read with plain sqlite3 from the same file (goal: at most 100 ms).

The tickets are opened with faultflow.bulk (the same unit of work as intake, many per
transaction); the closed ones are then marked final with one UPDATE — the benchmark's set-up,
not something the engine does — so that status has a history to look past.

    python tests/benchmarks/bench_places.py [--units 5000] [--tickets 100000] [--open 10000]
        [--down 1000] [--intakes 2000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import T0, machine, timed


def registry(units: int) -> list:
    from faultflow.network.sheets import Sheet

    def sheet(kind: str, rows: list[dict[str, str]]) -> Sheet:
        return Sheet(kind, kind, list(rows[0]), [(i + 2, r) for i, r in enumerate(rows)])

    return [
        sheet("vendors", [{"code": "HUAWEI", "name": "华为"}]),
        sheet(
            "units",
            [
                {
                    "code": f"U{u:05d}",
                    "name": f"单位{u}",
                    "contacts": f"值班员 0374-{6000000 + u} it{u}@u.example",
                }
                for u in range(units)
            ],
        ),
        sheet(
            "sites",
            [{"code": f"S{u:05d}", "unit": f"U{u:05d}", "name": f"机房{u}"} for u in range(units)],
        ),
        sheet(
            "devices",
            [
                {
                    "serial": f"SN{u:08d}",
                    "name": f"sw-{u}",
                    "model": "S5720",
                    "unit": f"U{u:05d}",
                    "site": f"S{u:05d}",
                    "vendor": "HUAWEI",
                }
                for u in range(units)
            ],
        ),
    ]


def intake_cost(placed, bare, units: int, intakes: int, block: int = 100) -> tuple[float, float]:
    """Mean µs per intake of the same call on each engine, interleaved block by block."""
    times: dict[str, list[float]] = {"placed": [], "bare": []}
    n = 0
    while n < intakes:
        for name, engine in (("placed", placed), ("bare", bare)):
            began = time.perf_counter()
            for i in range(n, n + block):
                number = f"0374-{6000000 + i % units}"
                engine.intake("hotline", {"number": number, "summary": "断网"}, actor="desk")
            times[name].append((time.perf_counter() - began) / block)
        n += block
    return statistics.median(times["placed"]) * 1e6, statistics.median(times["bare"]) * 1e6


def lookup_cost(engine, db: Path, units: int, n: int = 50_000) -> tuple[float, float]:
    """µs per lookup: the engine's directory, and plain sqlite3 through an index."""
    from faultflow.intake import IntakeRecord

    config = engine.contract.channels.get("hotline", {})
    records = [
        IntakeRecord(title="t", contact=f"0374-{6000000 + i % units}", data={}) for i in range(n)
    ]
    engine.places.refresh()
    began = time.perf_counter()
    for r in records:
        engine.places(r, config)
    ours = (time.perf_counter() - began) / n * 1e6
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS raw_phones (digits TEXT PRIMARY KEY, unit TEXT)")
    conn.executemany(
        "INSERT OR REPLACE INTO raw_phones VALUES (?, ?)",
        ((f"0374{6000000 + u}", f"U{u:05d}") for u in range(units)),
    )
    conn.commit()
    began = time.perf_counter()
    for r in records:
        digits = "".join(ch for ch in r.contact or "" if ch.isdigit())
        conn.execute("SELECT unit FROM raw_phones WHERE digits = ?", (digits,)).fetchone()
    floor = (time.perf_counter() - began) / n * 1e6
    conn.close()
    return ours, floor


STATUS_FLOOR = """
SELECT unit, id, created_us FROM tickets
WHERE urgent_us IS NOT NULL AND unit IS NOT NULL AND tier IN ('A')
  AND state NOT IN ('resolved', 'spare_substituted')
ORDER BY urgent_us
"""


def load_tickets(engine, db: Path, units: int, tickets: int, open_: int, down: int) -> None:
    from faultflow import IntakeRecord
    from faultflow.bulk import BulkTicket, load

    def made():
        for i in range(tickets):
            at = T0 - timedelta(minutes=tickets - i)
            tier = "A" if i % (tickets // max(down, 1)) == 0 else "C"
            record = IntakeRecord(title=f"fault {i}", tier=tier, data={"unit": f"U{i % units:05d}"})
            yield BulkTicket("hotline", record, at)

    engine.places.refresh()
    load(engine, made())
    conn = sqlite3.connect(db)  # the closed ones: the set-up's shortcut (see the docstring)
    ids = [r[0] for r in conn.execute("SELECT id FROM tickets ORDER BY created_us")]
    closed = ids[: tickets - open_]
    conn.executemany(
        "UPDATE tickets SET state = 'reported', urgent_us = NULL WHERE id = ?",
        ((tid,) for tid in closed),
    )
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--down", type=int, default=1_000)
    parser.add_argument("--intakes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from faultflow import Engine

    folder = Path(tempfile.mkdtemp(prefix="ff-places-"))
    print(
        f"places: {args.units:,} units; status over {args.tickets:,} tickets ({args.open:,} open)"
    )
    print(f"  {machine()}")
    clock = [T0]
    placed = Engine.open(db=folder / "placed.db", clock=lambda: clock[0])
    plan = placed.import_registry(registry(args.units), actor="bench")
    assert not plan.problems, plan.problems[:3]
    bare = Engine.open(db=folder / "bare.db", clock=lambda: clock[0])
    intake_cost(placed, bare, args.units, 200)  # warm both
    with_registry, without = intake_cost(placed, bare, args.units, args.intakes)
    t = placed.list(limit=1)[0]
    assert t.unit is not None, "the benchmark's calls should find their unit"
    print(
        f"  intake, median of blocks: {with_registry:6.0f} µs with the registry, "
        f"{without:6.0f} µs without: finding the unit adds {with_registry - without:+.0f} µs "
        "(goal <= 50)"
    )
    ours, floor = lookup_cost(placed, folder / "placed.db", args.units)
    print(
        f"  the lookup alone: {ours:5.1f} µs in the engine's directory, {floor:5.1f} µs "
        f"as an indexed sqlite3 query; ratio floor/engine {floor / ours:.2f}"
    )
    placed.close()
    bare.close()

    db = folder / "status.db"
    engine = Engine.open(db=db, clock=lambda: clock[0])
    engine.import_registry(registry(args.units), actor="bench")
    began = time.perf_counter()
    load_tickets(engine, db, args.units, args.tickets, args.open, args.down)
    print(f"  (set-up: {args.tickets:,} tickets loaded in {time.perf_counter() - began:.0f} s)")
    engine.close()
    engine = Engine.open(db=db, clock=lambda: clock[0], create=False)
    status = engine.status()
    conn = sqlite3.connect(db)

    def floor_status() -> int:
        rows = conn.execute(STATUS_FLOOR).fetchall()
        units = sorted({r[0] for r in rows})
        names = {}
        for i in range(0, len(units), 500):
            chunk = units[i : i + 500]
            marks = ",".join("?" * len(chunk))
            names.update(
                conn.execute(
                    f"SELECT code, name FROM units WHERE code IN ({marks})", chunk
                ).fetchall()
            )
        return len(units)

    assert floor_status() == len(status.down), (floor_status(), len(status.down))
    ours_s, floor_s = [], []
    for _ in range(args.runs):  # interleaved
        ours_s.append(timed(engine.status))
        floor_s.append(timed(floor_status))
    o, f = statistics.median(ours_s), statistics.median(floor_s)
    print(
        f"  status: {len(status.down):,} units down, "
        f"{sum(len(d.tickets) for d in status.down):,} tickets: "
        f"{o * 1000:6.1f} ms (goal <= 100) | raw sqlite3 {f * 1000:6.1f} ms | "
        f"ratio floor/engine {f / o:.2f}"
    )
    conn.close()
    engine.close()


if __name__ == "__main__":
    main()
