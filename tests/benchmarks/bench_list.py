"""Benchmark: `faultflow list --limit 20` as the table grows.

For each size (open tickets: 300, 3,000, 30,000 by default; add 100,000 with --sizes) it builds
one database and measures, in the same run and interleaved:
- the command as an operator runs it: `faultflow list --limit 20 --json` in a fresh process
  (wall time, median of --runs, and the process's peak memory);
- the floor: a fresh `python` that imports sqlite3 and reads the same 20 rows and their clocks
  through the same index — the least any command answering this question must do;
- the engine in-process: `Engine.list(limit=20, final=False)` on an open engine (no start-up).
Prints each, the ratio floor/command, and how the command's time grew from the smallest size to
the largest (the goal: at most 1.5x, i.e. flat in the table size; memory likewise).

    python tests/benchmarks/bench_list.py [--sizes 300,3000,30000,100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import T0, machine, timed

FLOOR = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT * FROM tickets WHERE urgent_us IS NOT NULL AND state NOT IN ('reported', 'cancelled')"
    " ORDER BY urgent_us, created_us, id LIMIT 20").fetchall()
ids = [r[0] for r in rows]
marks = ",".join("?" * len(ids))
conn.execute(f"SELECT * FROM clocks WHERE ticket_id IN ({marks})", ids).fetchall()
print(len(rows))
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, the child's own peak RSS (MB) and its stdout."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({child.returncode})")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,3000,30000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    import compileall
    import importlib

    for name in ("faultflow", "faultflow.cli", "faultflow.plugins"):
        for folder_ in importlib.import_module(name).__path__:
            compileall.compile_dir(folder_, quiet=1)
    beside = Path(sys.executable).parent / "faultflow"
    ff = str(beside) if beside.exists() else "faultflow"
    from faultflow import Engine

    folder = Path(tempfile.mkdtemp(prefix="ff-list-"))
    print(f"list benchmark: `faultflow list --limit 20` over growing tables, median of {args.runs}")
    print(f"  {machine()}")
    results = []
    for size in sizes:
        db = folder / f"list-{size}.db"
        # Built by a child: a child's peak memory (Linux) starts from its parent's size at
        # fork, so this process stays small to measure the command's own.
        subprocess.run(
            [sys.executable, "-c", f"from common import build; build({str(db)!r}, {size}, "
             f"due={size // 10}, progress=False)"],
            cwd=Path(__file__).parent, check=True,
        )  # fmt: skip
        env = {**os.environ, "FAULTFLOW_DB": str(db), "FAULTFLOW_NOW": T0.isoformat()}
        command = [ff, "list", "--limit", "20", "--json"]
        floor = [sys.executable, "-c", FLOOR, str(db)]
        shown = json.loads(run(command, env)[2])
        assert len(shown) == min(20, size), len(shown)
        assert int(run(floor, env)[2]) == min(20, size)
        walls, floors, peaks = [], [], []
        for _ in range(args.runs):  # interleaved: the machine's mood is shared
            wall, peak, _ = run(command, env)
            walls.append(wall)
            peaks.append(peak)
            floors.append(run(floor, env)[0])
        engine = Engine.open(db=db, clock=lambda: T0, create=False)
        try:
            inproc = timed(lambda e=engine: e.list(limit=20, final=False), repeat=args.runs)
        finally:
            engine.close()
        w, f = statistics.median(walls), statistics.median(floors)
        results.append((size, w, f, max(peaks), inproc))
        print(
            f"  {size:>9,} open: command {w * 1000:6.0f} ms (peak {max(peaks):5.0f} MB) | "
            f"floor {f * 1000:5.0f} ms | in-process {inproc * 1000:6.2f} ms | "
            f"ratio floor/command {f / w:.3f}"
        )
    (small, w0, *_), (large, w1, *_) = results[0], results[-1]
    print(f"  growth {small:,} -> {large:,} open: {w1 / w0:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
