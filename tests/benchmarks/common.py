"""Shared by the benchmarks: the machine, timing, and big databases built with faultflow.bulk."""

from __future__ import annotations

import os
import platform
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZONE)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def rss_mb() -> float:
    """Peak resident memory of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Median wall seconds of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def build(
    path: Path, open_tickets: int, due: int, kind: str = "equipment", progress: bool = True
) -> None:
    """A database of ``open_tickets`` open tickets, ``due`` of whose response breaches fall
    due before T0 (tier A, reported an hour before); the rest are tier C reported at T0."""
    from faultflow import Engine, IntakeRecord
    from faultflow.bulk import BulkTicket, load

    clock = [T0]
    engine = Engine.open(db=path, clock=lambda: clock[0])
    early = T0 - timedelta(hours=1)
    items = (
        BulkTicket("hotline", IntakeRecord(title=f"due {i}", tier="A", kind=kind), at=early)
        if i < due
        else BulkTicket("web", IntakeRecord(title=f"open {i}", tier="C", kind=kind), at=T0)
        for i in range(open_tickets)
    )
    done = [0]
    began = time.perf_counter()

    def show(n: int) -> None:
        done[0] += n
        if progress and done[0] % 100_000 < n:
            print(
                f"  built {done[0]:>9,} tickets ({time.perf_counter() - began:.0f} s)", flush=True
            )

    load(engine, items, chunk=20_000, progress=show)
    engine.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
