"""Benchmark: importing the registry from a spreadsheet — --devices devices (10,000 by default)
of --units units (a site each) in one XLSX workbook, as `faultflow registry import` does it.

Measures, on one machine and in one run:
- reading the workbook (openpyxl, streaming) into rows;
- the engine's import: every row checked against the database and the rows before it, then
  written in one transaction with its hash-chained log entry;
- the raw floor: the same rows read from the same workbook and inserted with plain sqlite3
  (executemany, one transaction, no checks, no log).
Prints rows/s for each and the ratio raw / engine.

    python tests/benchmarks/bench_registry.py [--devices 10000] [--units 500]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from common import T0, machine


def workbook(path: Path, units: int, devices: int) -> None:
    from faultflow.network.sheets import to_xlsx
    from faultflow.words import Words

    data = {
        "vendors": [{"code": "HUAWEI", "name": "华为", "contacts": []}],
        "units": [{"code": f"U{u:04d}", "name": f"单位{u}", "contacts": []} for u in range(units)],
        "sites": [
            {"code": f"S{u:04d}", "unit": f"U{u:04d}", "name": f"机房{u}"} for u in range(units)
        ],
        "devices": [
            {"serial": f"SN{d:08d}", "name": f"sw-{d}", "model": "S5720-28X-SI-AC",
             "unit": f"U{d % units:04d}", "site": f"S{d % units:04d}", "vendor": "HUAWEI",
             "warranty_end": "2028-06-30", "address": f"10.{d // 65536}.{d // 256 % 256}.{d % 256}"}
            for d in range(devices)
        ],
    }  # fmt: skip
    to_xlsx(path, data, Words("zh"))


def raw_floor(book: Path, db: Path) -> float:
    """Read the same sheets and insert every row with plain sqlite3, unchecked."""
    from faultflow.network.sheets import read

    start = time.perf_counter()
    sheets = read(book)
    conn = sqlite3.connect(db)
    for sheet in sheets:
        if not sheet.rows:
            continue
        columns = sheet.columns
        conn.execute(f"CREATE TABLE IF NOT EXISTS raw_{sheet.kind} ({', '.join(columns)})")
        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f"INSERT INTO raw_{sheet.kind} VALUES ({marks})",
            ([row.get(c) for c in columns] for _, row in sheet.rows),
        )
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=500)
    args = parser.parse_args()

    from faultflow import Engine
    from faultflow.network.sheets import read

    folder = Path(tempfile.mkdtemp(prefix="ff-registry-"))
    book = folder / "registry.xlsx"
    workbook(book, args.units, args.devices)
    rows = 1 + 2 * args.units + args.devices

    start = time.perf_counter()
    sheets = read(book)
    read_s = time.perf_counter() - start

    engine = Engine.open(db=folder / "ff.db", clock=lambda: T0)
    start = time.perf_counter()
    plan = engine.import_registry(read(book), actor="bench")
    import_s = time.perf_counter() - start
    assert plan.created == rows and not plan.problems, plan.problems[:3]
    start = time.perf_counter()
    again = engine.import_registry(sheets, dry_run=True)
    check_s = time.perf_counter() - start
    assert again.unchanged == rows
    engine.close()
    raw_s = raw_floor(book, folder / "raw.db")

    print(f"registry import: {args.devices:,} devices of {args.units} units ({rows:,} rows)")
    print(f"  {machine()}")
    for label, seconds in (
        ("read the workbook", read_s),
        ("import (read, check, write, log)", import_s),
        ("again, dry run (all unchanged)", check_s),
        ("raw sqlite3 (read + insert)", raw_s),
    ):
        print(f"  {label:<33}: {seconds * 1000:6.0f} ms ({rows / seconds:,.0f} rows/s)")
    print(f"  ratio raw/engine (import): {raw_s / import_s:.3f}")


if __name__ == "__main__":
    main()
