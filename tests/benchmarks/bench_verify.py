"""Benchmark: `verify` on tickets that lived a whole life, against the raw floor.

The database holds --tickets tickets that went through intake, respond, remote, resolve and
report through the engine (five events each, every event sealed with an audit key; each
reported ticket also drafted an experience-base entry, whose log verify checks too). Measured
in the same run, interleaved, --runs times (the median):
- `Engine.verify()` in one process: every chain recomputed with its HMAC, every ticket's row
  and clocks replayed from its history, the logs beside the tickets checked;
- the same with --jobs processes (`verify --jobs N`; they are used from 20,000 tickets);
- the floor: plain `sqlite3` reading every event in chain order and hashing each with sha256.
Prints events/s of each and the ratio engine/raw. Target: >= 150,000 events/s in one process.

    python tests/benchmarks/bench_verify.py [--tickets 20000] [--runs 3] [--jobs 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench_reports import KEY, build_lived, raw_verify
from common import T0, machine
from faultflow.audit.verify import PARALLEL_FROM

TARGET = 150_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (the median)")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the parallel run")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ff-verify-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"lived-{args.tickets}.db"
    try:
        if not db.exists():
            print(f"building {args.tickets:,} tickets of five sealed events each")
            build_lived(db, args.tickets)
        from faultflow import Engine

        now = T0 + timedelta(days=2)
        engine = Engine.open(db=db, clock=lambda: now, create=False, audit_key=KEY)
        one, many, raw = [], [], []
        events = 0
        for _ in range(args.runs):  # interleaved: the machine's mood is shared
            began = time.perf_counter()
            result = engine.verify()
            one.append(result.events / (time.perf_counter() - began))
            began = time.perf_counter()
            parallel = engine.verify(workers=args.jobs)  # one process below PARALLEL_FROM
            many.append(parallel.events / (time.perf_counter() - began))
            took, n = raw_verify(db)
            raw.append(n / took)
            events = result.events
            if not (result.ok and parallel.ok and parallel.events == events == n):
                raise SystemExit(f"the database did not verify: {result.to_dict()}")
        engine.close()
        rate, jobs_rate, raw_rate = (statistics.median(x) for x in (one, many, raw))
        print(
            f"verify benchmark: {events:,} sealed events of {args.tickets:,} tickets; {machine()}"
        )
        split = args.tickets >= PARALLEL_FROM and args.jobs > 1
        jobs = f"--jobs {args.jobs}" + ("" if split else " (one process: a small database)")
        for label, value in (
            ("faultflow verify, one process", rate),
            (f"faultflow verify {jobs}", jobs_rate),
            ("raw sqlite3 read + sha256", raw_rate),
        ):
            print(f"  {label:<56} {value:12,.0f} events/s")
        print(
            f"  ratio engine/raw {rate / raw_rate:.3f}; target >= {TARGET:,} events/s in one "
            f"process: {'met' if rate >= TARGET else 'NOT MET'} (median of {args.runs})"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
