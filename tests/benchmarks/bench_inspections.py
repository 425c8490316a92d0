"""Benchmark: inspection rounds — a year of many plans made ahead, and what the rounds add to
the scheduler's sweep.

1. A contract of --plans plans (daily on the office calendar, weekly, monthly, at various
   times): `keep_rounds(ahead=a year)` makes every round of the year (target <= 2 s for 200
   plans). The raw floor, in the same run: plain sqlite3 inserting the same rows with one
   executemany in one transaction, into a copy of the same empty database.
2. The sweep: a database of --tickets open tickets of which --due have a breach due, and
   --rounds rounds whose time has come (due, not yet overdue). `tick` fires the breaches and
   keeps the rounds; the rounds' part (one `keep_rounds` pass: plan the day ahead, find the
   overdue) is timed on its own at the same moment and compared with the timer sweep (target:
   it adds <= 10 %). Its raw floor: plain sqlite3 asking the same two questions (each plan's
   last round, the overdue rounds) through the same indexes.
3. For information: what a missed round costs (its ticket opened and its chain started) next
   to what a breach of the timer sweep costs.

    python tests/benchmarks/bench_inspections.py [--plans 200] [--tickets 100000] [--due 1000]
        [--rounds 10000] [--missed 100]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import T0, build, machine

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = ROOT / "people.toml"


def contract(path: Path, plans: int) -> Path:
    """The seed contract with ``plans`` more plans of every kind."""
    from faultflow.contract.compile import default_contract_path

    text = [default_contract_path().read_text("utf-8")]
    for i in range(plans):
        hour, minute = 7 + i % 10, (i * 7) % 60
        head = f'\n[inspections.bench-{i:03d}]\nrole = "duty-engineer"\ntier = "C"\n'
        items = (
            'checklist = [{ item = "ok", kind = "ok" }, { item = "t", kind = "number", max = 9 }]\n'
        )
        if i % 3 == 0:
            rule = f'rrule = "FREQ=DAILY;BYHOUR={hour};BYMINUTE={minute};BYSECOND=0"\n'
            rule += 'calendar = "office"\ndue_within = "2h"\ntargets = ["devices"]\n'
        elif i % 3 == 1:
            day = ("mon", "wed", "fri")[(i // 3) % 3]
            rule = f'every = "week"\non = "{day}"\nat = "{hour:02d}:{minute:02d}"\n'
            rule += 'due_within = "1d"\ntargets = ["units"]\n'
        else:
            rule = f'every = "month"\non = {1 + i % 28}\nat = "{hour:02d}:{minute:02d}"\n'
            rule += 'due_within = "3d"\ntargets = ["lines"]\n'
        text.append(head + rule + items)
    out = path / "contract.toml"
    out.write_text("".join(text), "utf-8")
    return out


def plan_a_year(tmp: Path, plans: int) -> None:
    from faultflow import Engine

    terms = contract(tmp, plans)
    empty = tmp / "empty.db"
    Engine.open(db=empty, config=terms, clock=lambda: T0).close()
    db = tmp / "year.db"
    shutil.copyfile(empty, db)
    engine = Engine.open(db=db, config=terms, clock=lambda: T0)
    began = time.perf_counter()
    kept = engine.keep_rounds(ahead=timedelta(days=365))
    took = time.perf_counter() - began
    engine.close()
    # the floor: the same rows, inserted by plain sqlite3 into a copy of the empty database
    rows = sqlite3.connect(db).execute("SELECT * FROM rounds").fetchall()
    floor_db = tmp / "floor.db"
    shutil.copyfile(empty, floor_db)
    conn = sqlite3.connect(floor_db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    marks = ", ".join("?" * len(rows[0]))
    began = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(f"INSERT INTO rounds VALUES ({marks}) ON CONFLICT DO NOTHING", rows)
    conn.execute("COMMIT")
    floor = time.perf_counter() - began
    conn.close()
    print(f"1. a year of {plans + 3} plans made ahead: {kept.made:,} rounds")
    print(f"  faultflow keep_rounds(ahead=365d): {took:.2f} s")
    print(f"  raw sqlite3 executemany of the same rows: {floor:.3f} s")
    print(f"  ratio engine/raw: {floor / took:.3f}")
    print("  target (<= 2 s for 200 plans):", "met" if took <= 2.0 else "NOT MET")


def sweep(tmp: Path, tickets: int, due: int, rounds: int, missed: int) -> None:
    from faultflow import Engine

    base = tmp / "sweep.db"
    build(base, tickets, due, progress=False)
    # rounds whose time has come: scheduled in the hour before T0, due in the hours after it
    t0_us = int(T0.timestamp() * 1_000_000)
    conn = sqlite3.connect(base, isolation_level=None)
    conn.execute("BEGIN")
    hour = 3_600_000_000
    rows = [
        (f"bench/{i:06d}", "core-daily", t0_us - hour + i, t0_us + 2 * hour + i, t0_us - hour,
         0, "duty-engineer", '["devices"]', '[{"item": "ok", "kind": "ok", "min": null, '
         '"max": null}]', "C", "planned", None, None, None, None, None, "{}", None, None,
         "[]", 1)
        for i in range(rounds)
    ]  # fmt: skip
    conn.executemany(f"INSERT INTO rounds VALUES ({', '.join('?' * 21)})", rows)
    conn.execute("COMMIT")
    conn.close()
    copies = {}
    for name in ("tick", "rounds", "floor", "missed"):
        copies[name] = tmp / f"{name}.db"
        shutil.copyfile(base, copies[name])
    # the timer sweep, rounds included (as `run` does it)
    engine = Engine.open(db=copies["tick"], clock=lambda: T0, create=False)
    engine.keep_rounds(T0 - timedelta(minutes=1))  # planned once before: steady state
    began = time.perf_counter()
    fired = engine.tick(now=T0, deliver=False)
    tick_s = time.perf_counter() - began
    engine.close()
    # the rounds' part alone, at the same moment, on its own copy
    engine = Engine.open(db=copies["rounds"], clock=lambda: T0, create=False)
    engine.keep_rounds(T0 - timedelta(minutes=1))
    began = time.perf_counter()
    kept = engine.keep_rounds(T0)
    rounds_s = time.perf_counter() - began
    engine.close()
    assert kept.missed == (), kept
    # its floor: the same two questions, plain sqlite3
    conn = sqlite3.connect(copies["floor"], isolation_level=None)
    began = time.perf_counter()
    conn.execute("SELECT plan, max(scheduled_us) FROM rounds GROUP BY plan").fetchall()
    conn.execute(
        "SELECT id FROM rounds WHERE breached_us IS NULL AND state IN ('planned', 'running') "
        "AND due_us <= ? ORDER BY due_us LIMIT 200",
        (t0_us,),
    ).fetchall()
    floor_s = time.perf_counter() - began
    conn.close()
    tick_alone = tick_s - rounds_s
    print(
        f"2. the sweep: {tickets:,} open tickets, {len(fired):,} breaches fired, "
        f"{rounds:,} rounds due (none overdue)"
    )
    print(f"  tick (timers and rounds): {tick_s * 1000:.1f} ms")
    print(f"  the rounds' pass alone: {rounds_s * 1000:.2f} ms "
          f"({100 * rounds_s / max(tick_alone, 1e-9):.1f} % of the timer sweep)")  # fmt: skip
    print(f"  raw sqlite3, the same two questions: {floor_s * 1000:.2f} ms")
    print(f"  ratio engine/raw (rounds' pass): {floor_s / rounds_s:.3f}")
    print("  target (the rounds add <= 10 %):",
          "met" if rounds_s <= 0.1 * tick_alone else "NOT MET")  # fmt: skip
    # 3. missed rounds: each opens a ticket and starts its chain
    conn = sqlite3.connect(copies["missed"], isolation_level=None)
    conn.execute("UPDATE rounds SET due_us = ? WHERE id IN (SELECT id FROM rounds ORDER BY id "
                 "LIMIT ?)", (t0_us - 1, missed))  # fmt: skip
    conn.close()
    engine = Engine.open(db=copies["missed"], clock=lambda: T0, create=False, people=PEOPLE)
    engine.keep_rounds(T0 - timedelta(minutes=1))
    began = time.perf_counter()
    kept = engine.keep_rounds(T0)
    missed_s = time.perf_counter() - began
    engine.close()
    per_breach = tick_alone / max(len(fired), 1)
    print(f"3. {len(kept.missed)} missed rounds found: {missed_s:.2f} s, "
          f"{missed_s / max(len(kept.missed), 1) * 1000:.1f} ms each (a ticket opened and its "
          f"chain paged) — a breach of the timer sweep: {per_breach * 1000:.2f} ms")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--missed", type=int, default=100)
    args = parser.parse_args()
    print(f"inspection rounds benchmark; {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        plan_a_year(Path(tmp), args.plans)
        sweep(Path(tmp), args.tickets, args.due, args.rounds, args.missed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
